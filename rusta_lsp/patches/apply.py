"""`rusta fix --apply`: the one place that writes the user's files.

What it writes was verified together in the shadow (`PatchEngine.apply` checks the combination
first). Each file is written atomically (a temporary file beside it, then a rename, with the old
file's mode), only when it still holds the text cargo checked, and only inside the workspace: a
symlink that leads out of it is refused. Whatever is not written is reported with its reason.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .candidate import Candidate, Edit, by_path, patched
from .verify import merge

CHANGED = "changed since the check: not written"


@dataclass
class Applied:
    """What `--apply` did: the edits written per file, the files not written and the patches
    left out, each with its reason, and how many errors cargo reported with the written set."""

    edits: dict[str, list[Edit]] = field(default_factory=dict)  # path -> edits written
    written: dict[str, bytes] = field(default_factory=dict)  # path -> the new text
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why) files not written
    # (the error's path and line, its patch, why) for verified patches not written
    left_out: list[tuple[str, int, Candidate, str]] = field(default_factory=list)
    patches: list[Candidate] = field(default_factory=list)  # the patches written, whole
    errors_after: int | None = None  # errors cargo reported with the written patches in
    unmasked: int = 0  # of those, errors the fixed ones had hidden

    def to_json(self, edit_json) -> dict:
        """The additions to `rusta fix --json` (`edit_json`: the report's edit converter): the
        files not written and the patches left out are both `skipped`."""
        left_out = [(path, f"the patch for the error at {path}:{line} ({cand.title}) left out: {why}")
                    for path, line, cand, why in self.left_out]
        return {
            "applied": [{"path": p, "edits": [edit_json(e) for e in es]} for p, es in self.edits.items()],
            "skipped": [{"path": p, "reason": why} for p, why in self.skipped + left_out],
        }


def unwritable(root: Path, rel: str, expected: bytes) -> str | None:
    """Why `rel` must not be written (None when it may): a link out of the workspace, not a
    regular file, or a text other than `expected`, the one cargo checked."""
    path = root / rel
    real = path.resolve()
    if not real.is_relative_to(root.resolve()):
        return f"a symlink to {real}, outside the workspace: not written"
    try:
        # O_NONBLOCK: a FIFO put in the file's place must not hang the command.
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        return f"cannot read it ({err.strerror}): not written"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file: not written"
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(len(expected) + 1)  # capped: more than that is a change anyway
    finally:
        os.close(fd)
    return None if data == expected else CHANGED


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` (a regular file) by `data` in one rename: a reader sees the old text or the
    new one, never half of it. The mode, and the owner where allowed, stay the file's."""
    st = os.stat(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".rusta-tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except PermissionError:
            pass  # another user's file: the mode is kept, the owner becomes ours
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_patches(root: Path, contents: dict[str, bytes], cands: list[Candidate], applied: Applied) -> None:
    """Write the edits of `cands` (the same `use` once) into the files cargo checked (`contents`),
    file by file, recording what was done in `applied`."""
    root = root.resolve()
    edits = merge(cands)
    for path, data in patched(contents, edits).items():
        why = unwritable(root, path, contents[path])
        if why is None:
            try:
                write_atomic((root / path).resolve(), data)
            except OSError as err:
                why = f"cannot write it ({err.strerror}): not written"
        if why is not None:
            applied.skipped.append((path, why))
            continue
        applied.edits[path] = sorted(by_path(edits)[path], key=lambda e: e.start)
        applied.written[path] = data
    applied.patches = [c for c in cands if all(e.path in applied.written for e in c.edits)]
