"""Open documents as the features see them: text, version, workspace-relative path, cached analysis."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pygls.uris import from_fs_path, to_fs_path

from ..analysis.model import FileAnalysis
from ..analysis.parser import analyze_source
from ..analysis.positions import LineIndex


@dataclass
class Document:
    uri: str
    path: Path | None  # absolute file path, None for non-file URIs
    rel: str  # relative to its workspace's root, or the absolute path outside every one
    text: str
    version: int | None
    module_path: str = "crate"
    test_file: bool = False
    root: Path | None = None  # the workspace it belongs to (several Cargo workspaces in one window)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _analysis: FileAnalysis | None = field(default=None, repr=False)
    _index: LineIndex | None = field(default=None, repr=False)

    @cached_property
    def data(self) -> bytes:
        """The text as UTF-8; a Document never changes (an edit makes a new one)."""
        return self.text.encode("utf-8", errors="surrogatepass")

    @property
    def index(self) -> LineIndex:
        with self._lock:
            if self._index is None:
                self._index = LineIndex(self.data)
            return self._index

    def analysis(self) -> FileAnalysis:
        """The analysis of this version of the text; computed once. Call from an executor."""
        with self._lock:
            if self._analysis is None:
                self._analysis = analyze_source(self.data, self.rel, self.module_path,
                                                test_file=self.test_file)
            return self._analysis


def uri_to_path(uri: str) -> Path | None:
    path = to_fs_path(uri)
    return Path(path) if path else None


def path_to_uri(path: Path | str) -> str:
    return from_fs_path(str(path)) or str(path)


def relative_to(root: Path | None, path: Path | None, uri: str) -> str:
    if path is None:
        return uri
    if root is not None:
        try:
            return path.resolve().relative_to(root).as_posix()
        except ValueError:
            pass
    return path.as_posix()
