"""rustc's JSON diagnostics (`cargo --message-format=json`), parsed in full.

Spans keep rustc's byte offsets and its 1-based line/column (columns in Unicode scalar values).
Suggestions are the `help` children whose spans carry a replacement. rustc flattens a suggestion's
alternatives ("consider importing one of these") and the parts of a multipart suggestion into one
list of spans; `Suggestion.alternatives` splits them again: parts of one alternative never overlap,
so a span that overlaps one already taken starts the next alternative.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Iterable

APPLICABILITIES = ("MachineApplicable", "MaybeIncorrect", "HasPlaceholders", "Unspecified")
# Each target prints a type by the shortest path it sees: the library says `&mut store::Ledger`
# where its test harness, with `use super::*;`, says `&mut Ledger`. Identity ignores the qualifiers.
_QUALIFIERS = re.compile(r"\b(?:[A-Za-z_]\w*::)+(?=[A-Za-z_<])")


@dataclass(frozen=True)
class DiagSpan:
    path: str  # as rustc printed it: relative to the cargo workspace root, or absolute (std, deps)
    byte_start: int
    byte_end: int
    line_start: int
    col_start: int
    line_end: int
    col_end: int
    is_primary: bool
    label: str | None = None
    replacement: str | None = None  # suggested_replacement
    applicability: str | None = None


@dataclass(frozen=True)
class Replacement:
    path: str
    byte_start: int
    byte_end: int
    new_text: str


@dataclass(frozen=True)
class Suggestion:
    message: str
    applicability: str  # the weakest applicability among its parts
    parts: tuple[Replacement, ...]


@dataclass(frozen=True)
class Diagnostic:
    level: str  # error, warning, note, help, failure-note, error: internal compiler error
    message: str
    code: str | None
    spans: tuple[DiagSpan, ...] = ()
    children: tuple["Diagnostic", ...] = ()
    rendered: str | None = None
    target: str = ""  # cargo target that reported it, "kind:name" ("lib:regex", "bench:parse")

    @property
    def primary(self) -> DiagSpan | None:
        for span in self.spans:
            if span.is_primary:
                return span
        return self.spans[0] if self.spans else None

    @property
    def is_error(self) -> bool:
        return self.level.startswith("error")

    @property
    def key(self) -> tuple:
        """Identity across duplicate reports (lib and lib-test targets report the same error, the
        types in its message perhaps spelt with other paths)."""
        p = self.primary
        where = (p.path, p.byte_start, p.byte_end) if p else None
        return (self.level, self.code, _QUALIFIERS.sub("", self.message), where)

    def suggestions(self) -> list[Suggestion]:
        """Every suggestion of this diagnostic, one per alternative, parts combined."""
        out = []
        for child in self.children:
            spans = [s for s in child.spans if s.replacement is not None]
            for group in _alternatives(spans):
                out.append(
                    Suggestion(
                        message=child.message,
                        applicability=_weakest(s.applicability for s in group),
                        parts=tuple(
                            Replacement(s.path, s.byte_start, s.byte_end, s.replacement or "")
                            for s in group
                        ),
                    )
                )
        return out


def _overlaps(a: DiagSpan, b: DiagSpan) -> bool:
    if a.path != b.path:
        return False
    if a.byte_start == a.byte_end or b.byte_start == b.byte_end:
        # Insertions at one point are alternatives of each other.
        return a.byte_start <= b.byte_end and b.byte_start <= a.byte_end
    return a.byte_start < b.byte_end and b.byte_start < a.byte_end


def _alternatives(spans: list[DiagSpan]) -> list[list[DiagSpan]]:
    groups: list[list[DiagSpan]] = []
    current: list[DiagSpan] = []
    for span in spans:
        if any(_overlaps(span, taken) for taken in current):
            groups.append(current)
            current = []
        current.append(span)
    if current:
        groups.append(current)
    return groups


def _weakest(values: Iterable[str | None]) -> str:
    ranks = [APPLICABILITIES.index(v) if v in APPLICABILITIES else 3 for v in values]
    return APPLICABILITIES[max(ranks, default=3)]


def parse_diagnostic(obj: dict) -> Diagnostic:
    code = obj.get("code")
    return Diagnostic(
        level=obj.get("level") or "",
        message=obj.get("message") or "",
        code=code.get("code") if isinstance(code, dict) else None,
        spans=tuple(_parse_span(s) for s in obj.get("spans") or ()),
        children=tuple(parse_diagnostic(c) for c in obj.get("children") or ()),
        rendered=obj.get("rendered"),
    )


def _parse_span(s: dict) -> DiagSpan:
    return DiagSpan(
        path=s.get("file_name") or "",
        byte_start=int(s.get("byte_start") or 0),
        byte_end=int(s.get("byte_end") or 0),
        line_start=int(s.get("line_start") or 1),
        col_start=int(s.get("column_start") or 1),
        line_end=int(s.get("line_end") or 1),
        col_end=int(s.get("column_end") or 1),
        is_primary=bool(s.get("is_primary")),
        label=s.get("label"),
        replacement=s.get("suggested_replacement"),
        applicability=s.get("suggestion_applicability"),
    )


def _target_name(target) -> str:
    if not isinstance(target, dict):
        return ""
    kinds = target.get("kind") or [""]
    return f"{kinds[0]}:{target.get('name', '')}"


@dataclass(frozen=True)
class TestBinary:
    """A test harness `cargo test --no-run` built: its target's root file (as cargo names the
    target in "Running unittests src/lib.rs"), the executable and its package's manifest."""

    src_path: str  # absolute, as cargo reports it
    executable: str
    manifest_path: str


@dataclass
class CargoResult:
    diagnostics: list[Diagnostic] = field(default_factory=list)  # deduplicated, in report order
    success: bool | None = None  # build-finished's flag; None when cargo never got that far
    # Targets cargo compiled ("kind:name"): a target whose dependency failed is never compiled,
    # so its own errors stay hidden until the dependency builds.
    built: set[str] = field(default_factory=set)
    stderr: str = ""  # cargo's own complaints (bad manifest, offline resolution failures)
    test_binaries: list[TestBinary] = field(default_factory=list)  # `cargo test --no-run`'s harnesses

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error and d.spans]


def parse_cargo_messages(lines: Iterable[str]) -> CargoResult:
    """Cargo's JSON message stream: compiler messages (deduplicated) and the build-finished flag."""
    result = CargoResult()
    seen: dict[tuple, int] = {}  # key -> index in result.diagnostics
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        reason = obj.get("reason")
        target = _target_name(obj.get("target"))
        if reason == "build-finished":
            result.success = bool(obj.get("success"))
        elif reason == "compiler-artifact" and target:
            result.built.add(target)
            if (obj.get("profile") or {}).get("test") and obj.get("executable"):
                result.test_binaries.append(TestBinary(obj["target"].get("src_path", ""), obj["executable"],
                                                       obj.get("manifest_path", "")))
        elif reason == "compiler-message" and isinstance(obj.get("message"), dict):
            result.built.add(target)
            diag = dataclasses.replace(parse_diagnostic(obj["message"]), target=target)
            at = seen.setdefault(diag.key, len(result.diagnostics))
            if at == len(result.diagnostics):
                result.diagnostics.append(diag)
            elif _spelling(diag) > _spelling(result.diagnostics[at]):
                # Whichever target reports first, the same spelling is kept: verification
                # compares errors before and after a patch by their message.
                result.diagnostics[at] = diag
    return result


def _spelling(diag: Diagnostic) -> tuple[int, str]:
    """The duplicate kept: the most qualified message (the library's own view of its types)."""
    return len(diag.message), diag.message
