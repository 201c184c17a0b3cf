"""Text edits, candidate patches and what was found for each error (`DiagnosticFix`), in byte
offsets of the files as cargo last saw them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..analysis.model import Pos
from .diagnostics import Diagnostic


@dataclass(frozen=True)
class Edit:
    path: str  # relative to the workspace root
    start: int  # byte offsets into the file's UTF-8 text
    end: int
    new_text: str


# What an edit does to the author's code. Set by the generator that proposes a candidate; the
# calibrator reads it, `rusta report` counts by it, and some kinds are never offered (see intent).
EDIT_KINDS = (
    "restore_name",  # brings back a name the code uses (a path, a field, a lost `self.`)
    "add_import",
    "add_borrow",  # `&`, `&mut`
    "add_clone",
    "add_ref",  # `ref` in a pattern
    "add_deref",
    "add_mut",
    "convert_type",  # `as`, `.into()`, `.to_string()`, a literal suffix, an annotation
    "rename_similar",  # a near-miss name of another item
    "delete_code",  # removes an argument, expression, statement or item the author wrote
    "edit_test",  # touches test code or an assertion
    "write_body",  # writes or replaces a function body
    "change_signature",
    "other",
)


@dataclass
class TestEvidence:
    """What the tests said about a candidate that compiled: the second oracle. `related` tests
    reach the changed item (through its callers, bounded); of those, `passed` passed and `failed`
    failed with the patch applied, `not_run` could not run in the budget. `ran` is False when no
    test run was attempted (no green state known, or the workspace has no tests)."""

    related: int = 0
    passed: int = 0
    failed: int = 0
    not_run: int = 0
    ran: bool = False


@dataclass
class Candidate:
    diagnostic: Diagnostic
    title: str  # "add `use std::io::Write;`"
    edits: tuple[Edit, ...]
    source: str  # generator name: rustc, rules, imports, exemplars, model
    applicability: str | None = None  # rustc's, for rustc suggestions
    kind: str = "other"  # one of EDIT_KINDS
    # Filled by verification and confidence.
    tests: TestEvidence | None = None  # filled after a candidate compiled, when tests were run
    verified: bool = False
    reason: str = ""  # why it was not verified
    errors_before: int = 0
    errors_after: int | None = None
    verified_siblings: int = 0  # other verified candidates for the same diagnostic
    confidence: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def edit_key(self) -> frozenset:
        return frozenset(self.edits)


# Macros and holes that compile (or nearly) without doing the job: never verified, never offered.
PLACEHOLDER = re.compile(r"\b(todo|unimplemented)!|/\*.*?\*/|\.\.\.", re.S)


def has_placeholder(candidate: Candidate) -> bool:
    """True when the candidate brings a placeholder in: `todo!()`, `/* value */`, `...`.
    (rustc's HasPlaceholders label alone does not count: it is also put on a plain `?`.)"""
    return any(PLACEHOLDER.search(edit.new_text) for edit in candidate.edits)


def overlapping(a: tuple[Edit, ...], b: tuple[Edit, ...]) -> bool:
    """Whether two edit sets touch the same text (identical edits merge instead)."""
    for x in a:
        for y in b:
            if x == y or x.path != y.path:
                continue
            if x.start < y.end and y.start < x.end:
                return True
            if x.start == x.end == y.start == y.end:
                # Two whole lines inserted at one place (two `use`s) can both go in.
                return not (x.new_text.endswith("\n") and y.new_text.endswith("\n"))
    return False


def apply_edits(data: bytes, edits: list[Edit]) -> bytes:
    """Apply non-overlapping edits of one file; identical edits count once."""
    unique = sorted(set(edits), key=lambda e: (e.start, e.end), reverse=True)
    for e in unique:
        data = data[: e.start] + e.new_text.encode("utf-8") + data[e.end :]
    return data


def by_path(edits) -> dict[str, list[Edit]]:
    """Edits grouped by the file they touch."""
    out: dict[str, list[Edit]] = {}
    for e in edits:
        out.setdefault(e.path, []).append(e)
    return out


def patched(contents: dict[str, bytes], edits) -> dict[str, bytes]:
    """The new text of every file the edits touch."""
    return {p: apply_edits(contents.get(p, b""), es) for p, es in by_path(edits).items()}


def map_offset(offset: int, edits: list[Edit]) -> int:
    """Where a byte offset of the old text lands after the edits (inside a replaced range: its start)."""
    shift = 0
    for e in set(edits):
        if e.end <= offset and (e.start < offset or e.start == e.end):
            shift += len(e.new_text.encode("utf-8")) - (e.end - e.start)
        elif e.start < offset < e.end:
            shift += e.start - offset
    return offset + shift


def describe(edits: tuple[Edit, ...], original: dict[str, bytes]) -> str:
    """A short title for an edit set: "add `use std::io::Write;`", "replace `s` with `&s`"."""
    if len(edits) == 1:
        e = edits[0]
        old = original.get(e.path, b"")[e.start : e.end].decode("utf-8", "replace")
        new = e.new_text.strip()
        if not old:
            return f"add `{_clip(new)}`" if new else "insert text"
        if not new:
            return f"remove `{_clip(old)}`"
        return f"replace `{_clip(old)}` with `{_clip(new)}`"
    return "; ".join(describe((e,), original) for e in sorted(edits, key=lambda e: e.start))


def _clip(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class DiagnosticFix:
    """One error and what was found for it: the verified patches, or why it abstains."""

    diagnostic: Diagnostic
    path: str
    start: Pos
    end: Pos
    patches: list[Candidate] = field(default_factory=list)  # verified, best first
    abstained: bool = True
    reason: str | None = None
    tried: int = 0  # candidates generated
    checked: list[Candidate] = field(default_factory=list)  # the candidates sent to verification, in rank order
    follows: DiagnosticFix | None = None  # the error whose verified patch makes this one vanish
    held_back: str | None = None  # the never-rule that made it abstain (intent.held_back), shown as a hint
    withheld: list[Candidate] = field(default_factory=list)  # candidates a never-rule held back

    @property
    def best(self) -> Candidate | None:
        return None if self.abstained or not self.patches else self.patches[0]
