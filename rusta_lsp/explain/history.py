"""When an item's lines last changed and by which commit: `git blame` of the current text.

The workspace's temporal memory beside the devlog: where the workspace is a git repository, each
file's current text (an open buffer counts) is blamed once with `git blame --porcelain --contents -`
and the result cached by the text's hash, so hovers in the same version of a file reuse it. Runs
on the caller's thread: the server explains on its blocking pool and blames a file when it opens.
Lines not committed yet have no commit and say nothing.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from .claims import Anchor, Claim, words

log = logging.getLogger(__name__)

BLAME_TIMEOUT = 10.0  # seconds for one file
CACHE_FILES = 64
TRACKED_TTL = 60.0  # seconds before the list of tracked files is read again
_UNCOMMITTED = "0" * 40


@dataclass(frozen=True)
class Commit:
    sha: str
    summary: str
    time: int  # author time, seconds since the epoch


class History:
    """`git blame` per file version for one workspace root (None of it outside a git repository)."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self._top: Path | None | bool = False  # False: not asked yet
        self._tracked: tuple[float, set[str]] = (0.0, set())  # (when read, paths under the top)
        self._blames: OrderedDict[tuple[str, str], list[Commit | None] | None] = OrderedDict()
        self._lock = threading.Lock()

    def _toplevel(self) -> Path | None:
        if self._top is False:
            try:
                found = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=self.root, capture_output=True,
                                       text=True, timeout=BLAME_TIMEOUT)
                self._top = Path(found.stdout.strip()).resolve() if found.returncode == 0 else None
            except (OSError, subprocess.SubprocessError):
                self._top = None
        return self._top

    def blame(self, rel: str, text: str) -> list[Commit | None] | None:
        """The commit of each line (1-based: index 0 is line 1) of `text`, the current text of
        `rel`; None outside a repository or for a file git does not track."""
        key = (rel, hashlib.sha1(text.encode("utf-8", errors="surrogatepass")).hexdigest())
        with self._lock:
            if key in self._blames:
                self._blames.move_to_end(key)
                return self._blames[key]
        top = self._toplevel()
        found = None
        if top is not None and self._is_tracked(top, (self.root / rel).resolve()):
            found = _run_blame(top, (self.root / rel).resolve(), text)
        with self._lock:
            self._blames[key] = found
            while len(self._blames) > CACHE_FILES:
                self._blames.popitem(last=False)
        return found

    def _is_tracked(self, top: Path, path: Path) -> bool:
        """Whether git tracks `path` (one `git ls-files` a minute, not one blame per untracked file)."""
        read, tracked = self._tracked
        if time.monotonic() - read > TRACKED_TTL:
            try:
                listed = subprocess.run(["git", "ls-files", "-z"], cwd=top, capture_output=True, text=True,
                                        timeout=BLAME_TIMEOUT).stdout
            except (OSError, subprocess.SubprocessError):
                listed = ""
            tracked = set(listed.split("\0"))
            self._tracked = (time.monotonic(), tracked)
        try:
            return path.relative_to(top).as_posix() in tracked
        except ValueError:
            return False

    def claims(self, rel: str, lines: list[str], start: int, end: int, name: str) -> list[Claim]:
        """When lines `start`-`end` of `rel` (its current `lines`) last changed, and by what."""
        commits = self.blame(rel, "\n".join(lines))
        if not commits or not 1 <= start <= end <= len(commits):
            return []
        mine = [(number, commit) for number, commit in enumerate(commits[start - 1 : end], start) if commit]
        if not mine:
            return []
        newest = max((c for _, c in mine), key=lambda c: c.time)
        touched = [number for number, c in mine if c.sha == newest.sha]
        first, last = touched[0], touched[-1]
        needle = " ".join(words(lines[first - 1])[:1])
        day = time.strftime("%Y-%m-%d", time.gmtime(newest.time))
        others = len({c.sha for _, c in mine}) - 1
        text = (f"Last changed on {day} by commit `{newest.sha[:7]}` “{newest.summary[:100]}” "
                f"({len(touched)} of its lines)" + (f"; {others} earlier commit{'s' if others > 1 else ''} "
                                                     "wrote the rest." if others else "."))
        return [Claim(text, [Anchor(rel, first, last, "history", needle)])]


def _run_blame(top: Path, path: Path, text: str) -> list[Commit | None] | None:
    try:
        rel = path.relative_to(top).as_posix()
    except ValueError:
        return None
    try:
        done = subprocess.run(["git", "blame", "--porcelain", "--contents", "-", "--", rel], cwd=top,
                              input=text, capture_output=True, text=True, timeout=BLAME_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as err:
        log.info("explain: git blame %s failed: %s", rel, err)
        return None
    if done.returncode != 0:
        return None  # untracked, or not in the repository
    return _parse_porcelain(done.stdout)


def _parse_porcelain(output: str) -> list[Commit | None]:
    """`git blame --porcelain`: a header `sha orig final [count]` per line, the commit's fields the
    first time it appears, then the line itself after a tab."""
    fields: dict[str, dict[str, str]] = {}
    lines: dict[int, str] = {}
    sha = ""
    for row in output.split("\n"):
        if row.startswith("\t"):
            continue
        parts = row.split(" ")
        if len(parts) >= 3 and len(parts[0]) == 40 and parts[1].isdigit() and parts[2].isdigit():
            sha = parts[0]
            lines[int(parts[2])] = sha
            fields.setdefault(sha, {})
        elif sha and parts[0] in ("summary", "author-time"):
            fields[sha][parts[0]] = row.partition(" ")[2]
    out: list[Commit | None] = []
    for number in range(1, max(lines, default=0) + 1):
        sha = lines.get(number, _UNCOMMITTED)
        info = fields.get(sha, {})
        commit = Commit(sha, info.get("summary", ""), int(info.get("author-time", 0)))
        out.append(None if sha == _UNCOMMITTED else commit)
    return out
