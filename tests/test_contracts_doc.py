"""docs/contracts.md says what the code does: its settings table is the server's settings with
their defaults, and its command table lists every subcommand of the CLI."""

import json
import re
from pathlib import Path

from rusta_lsp.cli import build_parser
from rusta_lsp.config import RustaConfig, to_options

CONTRACTS = Path(__file__).resolve().parents[1] / "docs" / "contracts.md"


def section(title: str) -> str:
    text = CONTRACTS.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else None]


def leaves(tree: dict, prefix: str = "") -> dict:
    """Dotted keys of the settings; an empty object is a setting of its own (storageOptions)."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_settings_table_is_the_servers_settings_and_defaults():
    rows = re.findall(r"^\| `([\w.]+)` \| `([^`]*)` \|", section("Settings"), re.M)
    documented = {key: json.loads(default) for key, default in rows}
    assert documented == leaves(to_options(RustaConfig()))


def test_command_table_lists_every_subcommand():
    documented = set(re.findall(r"^\| `rusta (\w+)", section("Command line"), re.M))
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert documented == set(subcommands)


def test_serve_row_names_every_serve_flag():
    parser = build_parser()
    serve = next(a for a in parser._actions if a.dest == "command").choices["serve"]
    flags = {s for a in serve._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
    row = next(line for line in section("Command line").splitlines() if line.startswith("| `rusta serve"))
    command = re.match(r"\| `([^`]*)`", row)[1]
    assert flags == set(re.findall(r"--[a-z-]+", command))


def test_framing_limits_and_error_codes_are_the_servers():
    from lsprotocol import types

    from rusta_lsp.safe_read import MAX_FILE_BYTES
    from rusta_lsp.server.transport import MAX_CONTENT_LENGTH, MAX_HEADER_BYTES

    server = section("Language server")
    assert f"{MAX_CONTENT_LENGTH >> 20} MiB" in server and f"{MAX_HEADER_BYTES >> 10} KiB" in server
    for name, code in [("ServerNotInitialized", types.ErrorCodes.ServerNotInitialized),
                       ("InvalidRequest", types.ErrorCodes.InvalidRequest),
                       ("ParseError", types.ErrorCodes.ParseError),
                       ("RequestFailed", types.LSPErrorCodes.RequestFailed)]:
        assert f"`{name}` ({int(code)})" in server
    assert f"files over {MAX_FILE_BYTES >> 20} MiB" in section("Command line")
