"""The editors' settings mirror the server's: same keys, same defaults (docs/contracts.md "Settings").

VS Code declares them in editors/vscode/package.json; the Neovim plugin's unit test compares its
own defaults with that file, so the three stay one contract.
"""

import json
from pathlib import Path

from rusta_lsp.config import RustaConfig, read_config, to_options

PACKAGE_JSON = Path(__file__).resolve().parents[1] / "editors" / "vscode" / "package.json"
CLIENT_ONLY = {"server.path", "server.pythonPath", "trace.server"}


def _leaves(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:  # an object-valued setting (storage options) defaults to {}
            out.update(_leaves(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _vscode_defaults() -> dict:
    properties = json.loads(PACKAGE_JSON.read_text())["contributes"]["configuration"]["properties"]
    return {key.removeprefix("rusta."): spec["default"] for key, spec in properties.items()}


def test_vscode_settings_are_the_server_settings_with_the_same_defaults():
    declared = {k: v for k, v in _vscode_defaults().items() if k not in CLIENT_ONLY}
    assert declared == _leaves(to_options(RustaConfig()))


def test_vscode_defaults_read_back_without_problems():
    # What the extension sends for an untouched configuration is valid input for the server.
    options: dict = {}
    for key, value in _vscode_defaults().items():
        if key not in CLIENT_ONLY:
            options[key] = value
    config, problems = read_config(options)
    assert problems == []
    assert config == RustaConfig()


def test_vscode_device_choices_are_the_servers():
    from rusta_lsp.config import DEVICES

    properties = json.loads(PACKAGE_JSON.read_text())["contributes"]["configuration"]["properties"]
    assert tuple(properties["rusta.device"]["enum"]) == DEVICES


def test_settings_a_repository_must_not_choose_are_machine_scoped():
    # A workspace's .vscode/settings.json cannot set machine settings: a cloned repository must not
    # pick cargo's arguments, the models loaded, or where Rusta writes.
    properties = json.loads(PACKAGE_JSON.read_text())["contributes"]["configuration"]["properties"]
    machine = {key.removeprefix("rusta.") for key, spec in properties.items() if spec.get("scope") == "machine"}
    assert {"memory.uri", "model.embedding", "model.generator", "cargo.checkArgs", "cargo.targetDir"} <= machine
