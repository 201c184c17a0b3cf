"""`safe_read`: the rules every workspace read follows, on the kernel's own odd files."""

import os
import threading

import pytest

from rusta_lsp.safe_read import Unreadable, read_file, walk_files


def test_the_cap_counts_bytes_read_not_the_size_stat_reports(tmp_path):
    assert os.stat("/proc/self/status").st_size == 0  # like a device: stat says nothing
    with pytest.raises(Unreadable, match="larger than 64 bytes"):
        read_file("/proc/self/status", limit=64)
    assert b"VmRSS" in read_file("/proc/self/status")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.rs")
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(Unreadable, read_file, tmp_path / "pipe.rs")))
    reader.start()
    reader.join(10)
    assert outcome and "a FIFO" in str(outcome[0].value)


def test_symlinks_are_followed_inside_the_root_only(tmp_path):
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "real.rs").write_text("fn a() {}")
    (root / "src" / "alias.rs").symlink_to(root / "src" / "real.rs")
    (tmp_path / "outside.rs").write_text("fn secret() {}")
    (root / "src" / "out.rs").symlink_to(tmp_path / "outside.rs")
    assert read_file(root / "src" / "alias.rs", root) == b"fn a() {}"
    with pytest.raises(Unreadable, match="a symlink to outside the workspace"):
        read_file(root / "src" / "out.rs", root)
    with pytest.raises(Unreadable, match="outside the workspace"):
        read_file(root / ".." / "outside.rs", root)


def test_names_that_are_not_utf8_are_skipped_by_the_walk(tmp_path):
    (tmp_path / "good.rs").write_text("")
    open(os.path.join(os.fsencode(tmp_path), b"bad\xff.rs"), "wb").close()
    assert [p.name for p in walk_files(tmp_path)] == ["good.rs"]
