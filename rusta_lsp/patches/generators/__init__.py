"""Candidate generators. Each module has `generate(diagnostic, context) -> list[Candidate]`.

Generators only propose; verification in the shadow decides. They read the text cargo saw
(`context.text(path)`), never the user's files, and never run cargo themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...config import RustaConfig
from ..diagnostics import Diagnostic, DiagSpan


@dataclass
class GenContext:
    contents: dict[str, bytes]  # rel path -> bytes as cargo saw them
    config: RustaConfig = field(default_factory=RustaConfig)
    memory: Any = None  # rusta_lsp.memory.Memory or None
    errors: list[Diagnostic] = field(default_factory=list)  # all current errors
    exemplars: list[dict] | None = None  # rows cached for one run

    def is_local(self, path: str) -> bool:
        return path in self.contents

    def text(self, path: str) -> bytes:
        return self.contents.get(path, b"")

    def span_text(self, span: DiagSpan) -> str:
        return self.text(span.path)[span.byte_start : span.byte_end].decode("utf-8", "replace")
