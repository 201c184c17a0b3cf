"""The explain pipeline: position -> target -> candidates -> claims -> verified claims (-> prose).

`Explainer` holds per-document parses (keyed by version or content) and finished explanations
(keyed by document version and identifier), so repeated hovers cost a dictionary lookup.
Call `invalidate()` when the memory changed. Thread-safe enough for one executor: caches are
plain dicts replaced atomically, and each explanation uses its own reader and resolver.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis.model import Crate, FileAnalysis, Pos, SourceFile, Workspace
from ..analysis.parser import analyze_source, parse_tree
from ..analysis.positions import LineIndex
from .claims import (
    KIND_LABELS, Claim, Explanation, Limits, block_item_claim, candidate_claims, definition_claim,
    doc_claim, generic_claim, history_claims, local_claims, related_claims, usage_claims,
)  # fmt: skip
from .locate import locate
from .resolve import FileContext, Index, Resolver, record_of
from .verify import SourceReader, verify

_ITEM_LEVEL = {"source_file", "declaration_list"}
CACHE_DOCUMENTS = 32
CACHE_EXPLANATIONS = 512


@dataclass
class Layout:
    """What explain needs to know of the workspace: module paths of files and the crates."""

    files: dict[str, SourceFile] = field(default_factory=dict)
    crates: list[Crate] = field(default_factory=list)

    @classmethod
    def of(cls, workspace: Workspace) -> "Layout":
        return cls({f.path: f for f in workspace.files}, list(workspace.crates))

    def crate_of(self, path: str) -> str:
        """A key for the crate compiling `path`: the package directory for its library (and main),
        one key per file or folder under tests/, examples/, benches/ and src/bin/ (separate crates)."""
        root = ""
        for crate in self.crates:
            if (not crate.root or path.startswith(crate.root + "/")) and len(crate.root) >= len(root):
                root = crate.root
        parts = (path[len(root) + 1 :] if root else path).split("/")
        if len(parts) >= 2 and parts[0] in ("tests", "examples", "benches"):
            return f"{root}/{parts[0]}/{parts[1].removesuffix('.rs')}"
        if len(parts) >= 3 and parts[:2] == ["src", "bin"]:
            return f"{root}/src/bin/{parts[2].removesuffix('.rs')}"
        return root


@dataclass
class Document:
    path: str
    data: bytes
    tree: object
    analysis: FileAnalysis
    index: LineIndex
    item_macros: list[str]  # invoked where items are declared and not expanded by the parser
    records: list = field(default_factory=list)  # the analysis items as memory records


def _item_macros(root) -> list[str]:
    """Macros invoked where items are declared: they may generate items the parser never sees."""
    names: list[str] = []
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node.named_children:
            if child.type == "macro_invocation":
                macro = child.child_by_field_name("macro")
                if macro is not None:
                    names.append(macro.text.decode("utf-8", "replace"))
            elif child.type == "expression_statement" and child.named_child_count == 1 and \
                    child.named_children[0].type == "macro_invocation":
                macro = child.named_children[0].child_by_field_name("macro")
                if macro is not None:
                    names.append(macro.text.decode("utf-8", "replace"))
            elif child.type in ("mod_item", "impl_item", "trait_item"):
                body = child.child_by_field_name("body")
                if body is not None and body.type in _ITEM_LEVEL:
                    stack.append(body)
    return list(dict.fromkeys(names))


class Explainer:
    def __init__(self, index: Index, root: Path, layout: Layout | None = None, *,
                 limits: Limits | None = None, buffers: Callable[[str], str | None] | None = None,
                 generator=None):
        self.index = index
        self.root = Path(root).resolve()
        self.layout = layout or Layout()
        self.limits = limits or Limits()
        self.buffers = buffers  # open editor text by relative path, for the verifier
        self.generator = generator  # explain.prose.Prose, optional
        self._documents: OrderedDict[tuple, Document] = OrderedDict()
        self._explanations: OrderedDict[tuple, Explanation] = OrderedDict()
        self._events: list[dict] | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """The memory or the files changed: forget finished explanations (parses stay valid)."""
        with self._lock:
            self._explanations.clear()
            self._events = None

    # --- documents -----------------------------------------------------------------------

    def document(self, path: str, data: bytes, version: int | None = None,
                 analysis: Callable[[], FileAnalysis] | None = None) -> Document:
        """The parsed document, cached per version (or content). `analysis` supplies an analysis
        someone already made of this very text (the server's documents cache theirs)."""
        key = (path, version if version is not None else hashlib.sha1(data).hexdigest())
        with self._lock:
            cached = self._documents.get(key)
            if cached is not None:
                self._documents.move_to_end(key)
                return cached
        if analysis is not None:
            analysed = analysis()
        else:
            source = self.layout.files.get(path)
            module = source.module_path if source else "crate"
            analysed = analyze_source(data, path, module, test_file=bool(source and source.target == "test"))
        tree = parse_tree(data)
        expanded = {item.name for item in analysed.items if item.kind == "macro"}  # the parser expands these
        hidden = [name for name in _item_macros(tree.root_node) if name not in expanded]
        doc = Document(path, data, tree, analysed, LineIndex(data), hidden,
                       [record_of(item, path) for item in analysed.items])
        with self._lock:
            self._documents[key] = doc
            while len(self._documents) > CACHE_DOCUMENTS:
                self._documents.popitem(last=False)
        return doc

    # --- explaining ----------------------------------------------------------------------

    def explain_at(self, path: str, data: bytes, line: int, col: int, *, version: int | None = None,
                   prose: bool = False) -> Explanation:
        """Explain the symbol at a rustc position (1-based line, column in Unicode scalars)."""
        doc = self.document(path, data, version)
        return self.explain_offset(doc, doc.index.offset(Pos(line, col)), prose=prose, version=version)

    def explain_byte(self, path: str, data: bytes, offset: int, *, version: int | None = None,
                     prose: bool = False, analysis: Callable[[], FileAnalysis] | None = None) -> Explanation:
        """Explain the symbol at a byte offset (the server converts LSP positions)."""
        doc = self.document(path, data, version, analysis)
        return self.explain_offset(doc, offset, prose=prose, version=version)

    def explain_offset(self, doc: Document, offset: int, *, prose: bool = False,
                       version: int | None = None) -> Explanation:
        target = locate(doc.tree.root_node, offset)
        key = (doc.path, version if version is not None else hashlib.sha1(doc.data).hexdigest(),
               target.start_byte, target.end_byte, prose, getattr(self.index, "generation", 0))
        with self._lock:
            cached = self._explanations.get(key)
        if cached is not None:
            return cached
        explanation = self._explain(doc, target)
        if target.name:
            explanation.span = (target.start_byte, target.end_byte)
        if prose and self.generator is not None and not explanation.abstained and explanation.claims:
            explanation.prose = self.generator.summarize(explanation)
        with self._lock:
            self._explanations[key] = explanation
            while len(self._explanations) > CACHE_EXPLANATIONS:
                self._explanations.popitem(last=False)
        return explanation

    def _explain(self, doc: Document, target) -> Explanation:
        if target.abstain:
            return Explanation(target.name, True, target.abstain)
        line_of = lambda offset: doc.index.pos(offset).line  # noqa: E731
        reader = SourceReader(self.root, self._buffer_for(doc))
        if target.role == "local":
            return self._finish(target.name, "local variable", local_claims(target.binding, doc.path, line_of), reader)
        if target.role == "generic":
            return self._finish(target.name, "type parameter", [generic_claim(target, doc.path, line_of)], reader)
        if target.role == "block item" or (target.role == "definition" and not any(
                item.name_span.start_byte == target.start_byte for item in doc.analysis.items)):
            claim = block_item_claim(target.item_node, doc.path, line_of)
            return self._finish(target.name, "item in a block", [claim], reader)
        ctx = FileContext(
            doc.path, doc.analysis, crate_of=self.layout.crate_of,
            crate_names={c.name.replace("-", "_"): c.root for c in self.layout.crates},
            item_macros=doc.item_macros, records=doc.records,
        )
        resolver = Resolver(self.index, ctx)
        resolution = resolver.resolve(target)
        best = resolution.best
        if best is None:
            kept, dropped = verify(candidate_claims(resolution.candidates), reader)
            symbol = "::".join(target.segments) if target.segments else target.name
            return Explanation(symbol, True, resolution.reason or "nothing found", kept, dropped)
        item = best.item
        lead = f"`{target.name}` refers to the type of this impl: " if target.role == "self" else ""
        definition = definition_claim(best, lead)
        claims: list[Claim] = [definition]
        documented = doc_claim(item)
        if documented is not None:
            claims.append(documented)
        claims += usage_claims(resolver, item, self.limits, reader.line)
        claims += related_claims(self.index, item, self.limits)
        claims += history_claims(self._devlog(), item)
        explanation = self._finish(item.qualified, KIND_LABELS.get(item.kind, item.kind), claims, reader,
                                   best.confidence)
        if definition in explanation.dropped:
            why = ("a macro generates it: its name does not appear in the macro's template"
                   if item.path == doc.path else
                   f"its definition recorded in memory does not match the current {item.path} "
                   "(the memory is stale, or a macro generates the item)")
            return Explanation(item.qualified, True, f"`{item.name}` cannot be anchored: {why}",
                               dropped=explanation.claims + explanation.dropped)
        return explanation

    def _finish(self, symbol: str, kind: str, claims: list[Claim], reader: SourceReader,
                confidence: float = 1.0) -> Explanation:
        kept, dropped = verify(claims, reader)
        if not kept:
            return Explanation(symbol, True, "no claim about it could be anchored in the current files",
                               dropped=dropped)
        return Explanation(symbol, False, None, kept, dropped, kind=kind, confidence=confidence)

    def _buffer_for(self, doc: Document) -> Callable[[str], str | None]:
        current = doc.data.decode("utf-8", errors="replace")
        others = self.buffers

        def buffer(rel: str) -> str | None:
            if rel == doc.path:
                return current
            return others(rel) if others is not None else None

        return buffer

    def _devlog(self) -> list[dict]:
        events = self._events
        if events is None:
            reader = getattr(self.index, "events", None)
            try:
                events = reader() if reader is not None else []
            except Exception:  # a damaged devlog must not break hovers
                events = []
            self._events = events
        return events
