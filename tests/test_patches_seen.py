"""Whether Rusta has seen a workspace build (patches/seen.py), from each of its sources, on real
crates with real cargo and git; and what the engine offers on code never seen building."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from patches_support import config_for, copy_example, git, lost_use_checkout, one_file_crate, settings_flags

from rusta_lsp.cli import main
from rusta_lsp.patches import seen
from rusta_lsp.patches.engine import PatchEngine
from rusta_lsp.patches.flycheck import user_target_dirs
from rusta_lsp.patches.seen import SeenBuilding, cargo_built, committed

WORKS = "pub fn double(x: u32) -> u32 {\n    x * 2\n}\n"
BROKEN = "pub fn double(x: u32) -> u32 {\n    \"twice\"\n}\n"


def _cargo_check(root, env=None) -> bool:
    run = subprocess.run(["cargo", "check", "--quiet", "--offline"], cwd=root, capture_output=True, text=True,
                         env={**{k: v for k, v in os.environ.items() if k != "CARGO_TARGET_DIR"}, **(env or {})})
    return run.returncode == 0


def test_git_head_holding_the_manifest_is_seen(tmp_path, monkeypatch):
    root = one_file_crate(tmp_path / "ws", "committed", WORKS)
    assert not committed(root)  # not a repository
    git(root, "init", "-q")
    assert not committed(root)  # a repository without a commit
    git(root, "add", "src/lib.rs")
    git(root, "commit", "-q", "-m", "source only")
    assert not committed(root)  # HEAD lacks the manifest
    git(root, "add", "Cargo.toml")
    git(root, "commit", "-q", "-m", "manifest")
    assert committed(root)
    (root / "src/lib.rs").write_text(BROKEN)  # broken since the commit: the commit still counts
    assert SeenBuilding(root, tmp_path / "state", targets=[]).how() == "committed in git"
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))  # git missing: no, never an error
    assert not committed(root)


@pytest.mark.slow
def test_cargo_record_of_a_member_built_in_the_user_target(tmp_path):
    root = one_file_crate(tmp_path / "ws", "never-built", BROKEN)
    # The user's target directory from the workspace's cargo config, shared with another crate.
    (root / ".cargo").mkdir()
    (root / ".cargo/config.toml").write_text('[build]\ntarget-dir = "../shared-target"\n')
    assert tmp_path / "shared-target" in user_target_dirs(root)
    assert not _cargo_check(root)
    assert cargo_built(root) is None  # a failed unit leaves output-*, no record of a build
    other = one_file_crate(tmp_path / "other", "built-elsewhere", WORKS)
    assert _cargo_check(other, {"CARGO_TARGET_DIR": str(tmp_path / "shared-target")})
    assert cargo_built(root) is None  # another package built there: not this workspace's member

    (root / "src/lib.rs").write_text(WORKS)
    assert _cargo_check(root)
    assert cargo_built(root) == "never-built"
    (root / "src/lib.rs").write_text(BROKEN)
    assert not _cargo_check(root)  # broken since: the record of the past build stays
    assert cargo_built(root) == "never-built"
    assert SeenBuilding(root, tmp_path / "state").how() == "cargo built never-built"
    # rust-analyzer building apart from the user's cargo (`rust-analyzer.cargo.targetDir`: true).
    apart = one_file_crate(tmp_path / "apart", "apart", WORKS)
    assert _cargo_check(apart, {"CARGO_TARGET_DIR": str(apart / "target" / "rust-analyzer")})
    assert cargo_built(apart) == "apart"


@pytest.mark.slow
def test_a_passing_check_of_the_users_text_is_remembered(tmp_path, monkeypatch):
    root = one_file_crate(tmp_path / "ws", "checked", WORKS)
    config = config_for(tmp_path / "memory")
    engine = PatchEngine(root, config)
    try:
        assert not engine._evidence().seen_building
        engine.fix(overlays={"src/lib.rs": WORKS + "// a drill's mutation\n"})  # not the user's text
        assert not engine._evidence().seen_building
        engine.fix(overlays={"src/lib.rs": BROKEN}, learn=True)
        assert not engine._evidence().seen_building  # the user's text, not building
        engine.fix()  # the saved workspace, as the server's first check or the drills' baseline
        assert engine._evidence().seen_building
    finally:
        engine.close()
    # Recorded in the workspace's state folder: another engine, another process knows it.
    monkeypatch.setattr(seen, "committed", lambda root: pytest.fail("asked the disk again"))
    assert SeenBuilding(root, tmp_path / "memory").how() == "a passing check"


@pytest.mark.slow
def test_code_never_seen_building_gets_only_near_certain_fixes_and_says_why(tmp_path, capsys):
    # examples/broken-cascade as code that never built here: no commit, no build, no check passed.
    root = copy_example("broken-cascade", tmp_path / "ws")
    config = config_for(tmp_path / "memory")
    code = main(["fix", "--json", *settings_flags(config), str(root)])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    [root_error] = [d for d in data["diagnostics"] if d["code"] == "E0599"]
    assert root_error["abstained"] and root_error["reason"].startswith(
        "this code has never built here; Rusta only offers near-certain fixes (95% or more) "
        "until it has seen it build (best: add `use crate::span::Span;`")
    # The same crate as a git checkout of the version that built: the import is offered.
    root = lost_use_checkout(tmp_path / "checkout")
    main(["fix", "--json", *settings_flags(config_for(tmp_path / "memory2")), str(root)])
    data = json.loads(capsys.readouterr().out)
    [root_error] = [d for d in data["diagnostics"] if d["code"] == "E0599"]
    assert not root_error["abstained"] and root_error["patches"][0]["title"] == "add `use crate::span::Span;`"
