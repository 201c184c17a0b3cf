"""`python -m rusta_lsp` runs the CLI (the VS Code setting rusta.server.pythonPath uses it)."""

from rusta_lsp.cli import main

raise SystemExit(main())
