"""Candidate generators. Each module has `generate(diagnostic, context) -> list[Candidate]`.

Generators only propose; verification in the shadow decides. They read the text cargo saw
(`context.text(path)`), never the user's files, and never run cargo themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...analysis.parser import parse_tree
from ...config import RustaConfig
from ..diagnostics import Diagnostic, DiagSpan


@dataclass
class GenContext:
    contents: dict[str, bytes]  # rel path -> bytes as cargo saw them
    config: RustaConfig = field(default_factory=RustaConfig)
    memory: Any = None  # rusta_lsp.memory.Memory or None
    errors: list[Diagnostic] = field(default_factory=list)  # all current errors
    exemplars: list[dict] | None = None  # rows cached for one run
    lookups: dict[tuple, Any] = field(default_factory=dict)  # memory answers, per run
    # Functions this run's edit took parameters from (intent.SIGNATURE_EVENT payloads).
    signature_changes: list[dict] = field(default_factory=list)
    _trees: dict[str, Any] = field(default_factory=dict)  # rel path -> tree-sitter tree, per run

    def is_local(self, path: str) -> bool:
        return path in self.contents

    def text(self, path: str) -> bytes:
        return self.contents.get(path, b"")

    def span_text(self, span: DiagSpan) -> str:
        return self.text(span.path)[span.byte_start : span.byte_end].decode("utf-8", "replace")

    def tree(self, path: str):
        """The file's tree-sitter tree, parsed once per run."""
        if path not in self._trees:
            self._trees[path] = parse_tree(self.text(path))
        return self._trees[path]

    def node_at(self, span: DiagSpan):
        """The smallest named syntax node covering the span."""
        return self.tree(span.path).root_node.named_descendant_for_byte_range(span.byte_start, span.byte_end)
