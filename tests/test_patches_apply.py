"""`rusta fix --apply` says exactly what it did: the JSON's `applied` and `skipped`, atomic writes
that keep the file's mode, no write through a symlink out of the workspace, exit code 3 for a file
that changed since the check, and a write that fails reported, not raised."""

from __future__ import annotations

import errno
import json
import os
import stat

import pytest
from patches_support import LOST_USE as USE, config_for, lost_use_checkout, settings_flags

from rusta_lsp.cli import main
from rusta_lsp.patches.apply import Applied, unwritable, write_patches
from rusta_lsp.patches.candidate import Candidate, Edit
from rusta_lsp.patches.diagnostics import Diagnostic
from rusta_lsp.patches.engine import PatchEngine



def _run_cli(capsys, root, *flags, config):
    code = main(["fix", *flags, *settings_flags(config), str(root)])
    out = capsys.readouterr()
    return code, out.out


def _after_the_check(monkeypatch, change) -> None:
    """Run `change()` once cargo has checked, before `--apply` writes."""
    check = PatchEngine.fix

    def fix_then_change(self, *args, **kwargs):
        report = check(self, *args, **kwargs)
        change()
        return report

    monkeypatch.setattr(PatchEngine, "fix", fix_then_change)


@pytest.mark.slow
def test_apply_json_lists_the_edits_written_atomically_with_the_mode_kept(tmp_path, capsys):
    root = lost_use_checkout(tmp_path / "ws")  # a fresh checkout: Rusta never saw it build
    lib = root / "src/lib.rs"
    lib.chmod(0o640)
    inode = lib.stat().st_ino
    code, out = _run_cli(capsys, root, "--apply", "--json", config=config_for(tmp_path / "memory"))
    assert code == 0
    data = json.loads(out)
    [applied] = data["applied"]
    assert applied["path"] == "src/lib.rs" and data["skipped"] == []
    [edit] = applied["edits"]
    assert edit["new_text"].strip() == USE and edit["start_line"] == edit["end_line"]
    follow_ons = [d for d in data["diagnostics"] if d["reason"] == "follows from the error at src/lib.rs:17"]
    assert len(follow_ons) == 2 and all(d["abstained"] and d["patches"] == [] for d in follow_ons)

    assert USE in lib.read_text() and "&w.len()" not in (root / "src/pick.rs").read_text()
    assert stat.S_IMODE(lib.stat().st_mode) == 0o640
    assert lib.stat().st_ino != inode  # a new file renamed into place, not a rewrite in place
    assert sorted(p.name for p in lib.parent.iterdir()) == ["lib.rs", "pick.rs", "span.rs"]  # no temporary left
    assert PatchEngine(root, config_for(tmp_path / "memory")).fix().fixes == []


@pytest.mark.slow
def test_a_file_changed_since_the_check_is_not_written_and_exits_3(tmp_path, capsys, monkeypatch):
    root = lost_use_checkout(tmp_path / "ws")  # a fresh checkout: Rusta never saw it build
    lib = root / "src/lib.rs"
    typed = lib.read_text().replace("pub mod pick;", "pub mod pick;\n// typed while cargo checked")
    _after_the_check(monkeypatch, lambda: lib.write_text(typed))
    code, out = _run_cli(capsys, root, "--apply", "--json", config=config_for(tmp_path / "memory"))
    assert code == 3
    data = json.loads(out)
    assert data["applied"] == []
    assert data["skipped"] == [
        {"path": "src/lib.rs", "reason": "changed since the check: not written"},
        {"path": "src/lib.rs", "reason": f"the patch for the error at src/lib.rs:17 (add `{USE}`) left out: "
                                         "its file src/lib.rs is not written"}]
    assert lib.read_text() == typed


@pytest.mark.slow
def test_no_write_through_a_symlink_out_of_the_workspace(tmp_path, capsys, monkeypatch):
    root = lost_use_checkout(tmp_path / "ws")  # a fresh checkout: Rusta never saw it build
    lib = root / "src/lib.rs"
    outside = tmp_path / "elsewhere.rs"
    text = lib.read_text()

    def link_out() -> None:  # the same text, now behind a link that leads out of the workspace
        outside.write_text(text)
        lib.unlink()
        lib.symlink_to(outside)

    _after_the_check(monkeypatch, link_out)
    code, out = _run_cli(capsys, root, "--apply", config=config_for(tmp_path / "memory"))
    assert code == 3
    assert f"not written: src/lib.rs: a symlink to {outside}, outside the workspace: not written" in out
    assert f"left out: add `{USE}`, for the error at src/lib.rs:17: its file src/lib.rs is not written" in out
    assert out.rstrip().endswith("0 patch(es) applied to 0 file(s), 1 left out")
    assert outside.read_text() == text and os.path.islink(lib)


def test_a_write_that_fails_is_reported_and_leaves_the_file_whole(tmp_path, monkeypatch):
    # An unwritable target used to end the command with "internal error", saying nothing.
    (tmp_path / "src").mkdir()
    lib = tmp_path / "src/lib.rs"
    lib.write_bytes(b"fn main() {}\n")
    edit = Edit("src/lib.rs", 0, 0, "pub ")
    patch = Candidate(Diagnostic("error", "mismatched types", "E0308"), "add `pub `", (edit,), "rules")

    def refuse(*_):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "replace", refuse)
    applied = Applied()
    write_patches(tmp_path, {"src/lib.rs": lib.read_bytes()}, [patch], applied)
    assert applied.skipped == [("src/lib.rs", "cannot write it (Permission denied): not written")]
    assert applied.patches == [] and applied.written == {}
    assert lib.read_bytes() == b"fn main() {}\n" and os.listdir(tmp_path / "src") == ["lib.rs"]


def test_a_fifo_in_the_place_of_a_file_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "lib.rs")
    assert unwritable(tmp_path, "lib.rs", b"fn main() {}\n") == "not a regular file: not written"
