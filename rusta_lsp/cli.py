"""`rusta serve|demo|doctor|index|search|explain|fix|drill|report|clean`.

Exit codes: 0 on success (even when the code has errors), 2 on bad usage or bad input with a
one-line message (never a traceback), 1 on an internal error (one line; `RUSTA_DEBUG=1` shows
the traceback).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import re
import sys
import traceback

from . import __version__
from .config import RustaConfig, read_config
from .errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse prints usage over several lines; we print one
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# Subcommands, each in rusta_lsp.commands: (module, function), imported only when run.
COMMANDS = {
    "index": ("rusta_lsp.commands.memory", "index_command"),
    "search": ("rusta_lsp.commands.memory", "search_command"),
    "explain": ("rusta_lsp.commands.explain", "explain_command"),
    "fix": ("rusta_lsp.commands.fix", "fix_command"),
    "drill": ("rusta_lsp.commands.heartbeat", "drill_command"),
    "report": ("rusta_lsp.commands.heartbeat", "report_command"),
    "clean": ("rusta_lsp.commands.shadow", "clean_command"),
}


def _settings_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--memory", metavar="DIR", help="memory location (LanceDB URI or folder); sets memory.uri")
    p.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"], help="torch device for models")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="any setting of docs/contracts.md, e.g. --set abstain.targetPrecision=0.9 (repeatable)")


def _command(sub, name: str, help: str, *, json: bool = True) -> argparse.ArgumentParser:
    """A subcommand that takes the settings flags (and --json unless told otherwise)."""
    p = sub.add_parser(name, help=help)
    if json:
        p.add_argument("--json", action="store_true", help="print the result as JSON (docs/contracts.md)")
    _settings_args(p)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rusta", description="Rusta: a memory, cited explanations and "
                     "cargo-verified fixes for Rust workspaces.",
                     epilog="Settings, JSON output, exit codes and positions: docs/contracts.md.")
    parser.add_argument("--version", action="version", version=f"rusta {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("serve", help="run the language server (stdio by default)")
    transport = p.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    transport.add_argument("--socket", metavar="PATH",
                           help="listen on a Unix socket only you can open (mode 0600), for one client; "
                                "the recommended local transport besides stdio")
    transport.add_argument("--tcp", action="store_true",
                           help="listen on TCP for one client. Risk: any local user who connects first "
                                "drives the server as you (and cargo runs build scripts); prefer --socket")
    p.add_argument("--host", default="127.0.0.1", help="TCP address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=2087, help="TCP port (default: 2087)")

    p = _command(sub, "demo", "show what Rusta does on an example crate", json=False)
    p.add_argument("path", nargs="?", default=None, help="crate to use (default: examples/ledger)")

    p = _command(sub, "doctor", "check Python, torch and device, cargo, memory and models")
    p.add_argument("path", nargs="?", default=".", help="workspace whose memory location to show")

    p = _command(sub, "index", "bring the workspace memory up to date")
    p.add_argument("path", help="workspace or crate root")
    p.add_argument("--no-embed", action="store_true", help="skip filling vectors")

    p = _command(sub, "search", "hybrid search over the workspace memory")
    p.add_argument("query")
    p.add_argument("path", nargs="?", default=".")
    p.add_argument("-k", type=int, default=10, help="number of hits")
    p.add_argument("--mode", choices=["hybrid", "fts", "vector"], default="hybrid", help="retrieval mode")

    p = _command(sub, "explain", "explain the symbol at FILE:LINE:COL with cited evidence")
    p.add_argument("target", metavar="FILE:LINE:COL", help="1-based line and column")

    p = _command(sub, "fix", "cargo-verified patches for the workspace's errors")
    p.add_argument("path", help="crate or workspace root")
    p.add_argument("--apply", action="store_true",
                   help="write the patches that clear the threshold, once cargo accepted them together "
                        "(exit code 3: a file was not written)")
    p.add_argument("--test-budget", type=float, default=60.0, metavar="SECONDS",
                   help="wall seconds for the tests related to the patches (0: do not run tests)")

    p = _command(sub, "drill", "practise on mutations of the workspace's own code")
    p.add_argument("path")
    p.add_argument("--budget", type=float, required=True, metavar="SECONDS")

    p = _command(sub, "report", "fix rate, calibration and principles learned so far")
    p.add_argument("path")
    p.add_argument("--html", metavar="OUT", help="write an HTML report with plots")

    p = _command(sub, "clean", "remove the shadow workspace's copies and build outputs")
    p.add_argument("path", nargs="?", default=".")
    return parser


def config_from_args(args: argparse.Namespace) -> RustaConfig:
    raw: dict = {}
    for setting in args.settings:
        key, sep, value = setting.partition("=")
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got {setting!r}")
        try:
            raw[key] = json.loads(value)
        except json.JSONDecodeError:
            raw[key] = value
    if args.memory:
        raw["memory.uri"] = args.memory
    if args.device:
        raw["device"] = args.device
    config, problems = read_config(raw)
    if problems:
        raise UsageError("; ".join(problems))
    return config


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command != "serve":
            args.config = config_from_args(args)
    except UsageError as err:
        print(f"rusta: {err}", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except UsageError as err:  # the command's own bad input, named after it
        print(f"rusta {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rusta: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # one line for users; the traceback when asked
        problem = storage_failure(err)
        if problem is not None:  # the disk, not Rusta: bad input in the contract's sense
            print(f"rusta {args.command}: {problem}", file=sys.stderr)
            return 2
        if os.environ.get("RUSTA_DEBUG"):
            traceback.print_exc()
        print(f"rusta: internal error: {type(err).__name__}: {err} (RUSTA_DEBUG=1 shows details)",
              file=sys.stderr)
        return 1


_STORAGE_ERRORS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
                   errno.EROFS: "read-only file system", errno.EACCES: "permission denied"}
_OS_ERROR = re.compile(r"os error (\d+)")


def storage_failure(err: BaseException | None) -> str | None:
    """The full or read-only disk behind an error (LanceDB reports it as text), else None."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        codes = [err.errno] if isinstance(err, OSError) and err.errno else map(int, _OS_ERROR.findall(str(err)))
        for code in codes:
            if code in _STORAGE_ERRORS:
                where = f": {err.filename}" if isinstance(err, OSError) and err.filename else ""
                return _STORAGE_ERRORS[code] + where
        err = err.__cause__ or err.__context__
    return None


def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        from .server import serve

        return serve(tcp=args.tcp, host=args.host, port=args.port, socket_path=args.socket)
    if args.command == "doctor":
        from .doctor import doctor_command

        return doctor_command(args)
    if args.command == "demo":  # the tour runs the other commands as a user would, through main
        from .demo import demo_command

        return demo_command(args, main)
    module_name, function = COMMANDS[args.command]
    return getattr(importlib.import_module(module_name), function)(args)


if __name__ == "__main__":
    sys.exit(main())
