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
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
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
