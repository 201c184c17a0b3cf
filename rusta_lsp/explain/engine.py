"""The explain pipeline: position -> subject -> referents -> claims -> verified claims (-> prose).

One path for the server and the CLI: both build their `Explainer` with `explainer_for` (a catalog
snapshot of the memory) and call `Explainer.explain(path, data, offset)`, so one position of one
text gets one answer. `Explainer` holds per-file parses (`ParsedFile`, keyed by version or
content) and finished explanations (keyed by version and identifier), so repeated hovers cost a
dictionary lookup. Call `invalidate()` when the memory changed. Thread-safe enough for one
executor: caches are plain dicts replaced atomically, and each explanation uses its own reader
and resolver.

A position inside a macro call's arguments is located again in the text where the call is
rewritten as an expression (analysis.macro_args), when the macro's arguments are expressions;
positions and lines found there are mapped back to the file.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..analysis.macro_args import STD_SHAPES, Expansion, Shape, argument_at, expand, rules_shape
from ..analysis.model import Crate, FileAnalysis, SourceFile, Workspace
from ..analysis.parser import analyze_source, parse_tree
from ..analysis.positions import LineIndex
from .behaviour import FUNCTION_KINDS, TYPE_KINDS, behaviour_claims, type_claims
from .catalog import Catalog
from .history import History
from .claims import (
    KIND_LABELS, KIND_WORDS, Claim, Explanation, Limits, block_item_claim, candidate_claims, definition_claim,
    doc_claim, generated_claims, generic_claim, history_claims, local_claims, related_claims, usage_claims,
)  # fmt: skip
from .locate import Subject, locate, type_path
from .resolve import EXTERNAL_ROOTS, STD_MACROS, FileContext, Lookups, Resolver, record_of
from .scopes import text
from .verify import SourceReader, verify

_ITEM_LEVEL = {"source_file", "declaration_list"}
CACHE_DOCUMENTS = 32
CACHE_EXPLANATIONS = 512
MAX_MACRO_DEPTH = 4  # macro calls nested in one another's arguments that are read through
_MACRO_CALL = re.compile(r"\b((?:[A-Za-z_]\w*::)*[A-Za-z_]\w*)\s*!\s*[(\[{]")


@dataclass
class Layout:
    """What explain needs to know of the workspace: module paths of files and the crates."""

    files: dict[str, SourceFile] = field(default_factory=dict)
    crates: list[Crate] = field(default_factory=list)

    @classmethod
    def of(cls, workspace: Workspace) -> "Layout":
        return cls({f.path: f for f in workspace.files}, list(workspace.crates))

    def __post_init__(self) -> None:
        # crate_of runs once per stored reference a hover ranks (thousands on a large workspace):
        # a set of crate roots and a key per path instead of a scan of every crate.
        self._roots = {crate.root for crate in self.crates}
        self._crate_keys: dict[str, str] = {}

    def crate_of(self, path: str) -> str:
        """A key for the crate compiling `path`: the package directory for its library (and main),
        one key per file or folder under tests/, examples/, benches/ and src/bin/ (separate crates)."""
        key = self._crate_keys.get(path)
        if key is None:
            key = self._crate_keys[path] = self._crate_key(path)
        return key

    def _crate_key(self, path: str) -> str:
        root, cut = "", path.rfind("/")
        while cut > 0:  # the deepest folder above `path` that is a crate's root
            if path[:cut] in self._roots:
                root = path[:cut]
                break
            cut = path.rfind("/", 0, cut)
        parts = (path[len(root) + 1 :] if root else path).split("/")
        if len(parts) >= 2 and parts[0] in ("tests", "examples", "benches"):
            return f"{root}/{parts[0]}/{parts[1].removesuffix('.rs')}"
        if len(parts) >= 3 and parts[:2] == ["src", "bin"]:
            return f"{root}/src/bin/{parts[2].removesuffix('.rs')}"
        return root


@dataclass
class ParsedFile:
    """One version of one file as explain reads it (the server's open `Document` is another
    thing: an editor buffer)."""

    path: str
    data: bytes
    tree: object
    analysis: FileAnalysis
    lines: LineIndex
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


def _trait_of_impl(node) -> list[str] | None:
    """The path of the trait the impl around `node` implements (`de::Deserializer`), if any."""
    while node is not None:
        if node.type == "impl_item":
            written = type_path(node.child_by_field_name("trait"))
            return written.split("::") if written else None
        node = node.parent
    return None


def explainer_for(memory, root: Path, workspace: Workspace, *, follow: bool = False,
                  buffers: Callable[[str], str | None] | None = None, generator=None) -> Explainer:
    """The Explainer of a memory, as the server and `rusta explain` both build it: answers come
    from a catalog snapshot of the memory, loaded now (blocking). `follow`: keep reloading it as
    the memory's tables move (the server)."""
    catalog = Catalog(memory, auto_load=follow)
    catalog.load()
    return Explainer(catalog, root, Layout.of(workspace), buffers=buffers, generator=generator)


class Explainer:
    def __init__(self, catalog: Lookups, root: Path, layout: Layout | None = None, *,
                 limits: Limits | None = None, buffers: Callable[[str], str | None] | None = None,
                 generator=None):
        self.catalog = catalog
        self.root = Path(root).resolve()
        self.layout = layout or Layout()
        self.limits = limits or Limits()
        self.buffers = buffers  # open editor text by relative path, for the verifier
        self.generator = generator  # explain.prose.Prose, optional
        self.history = History(self.root)  # git blame, when the workspace is a repository
        self._parsed: OrderedDict[tuple, ParsedFile] = OrderedDict()
        self._explanations: OrderedDict[tuple, Explanation] = OrderedDict()
        self._events: list[dict] | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """The memory or the files changed: forget finished explanations (parses stay valid)."""
        with self._lock:
            self._explanations.clear()
            self._events = None

    # --- files ---------------------------------------------------------------------------

    def parse(self, path: str, data: bytes, version: int | None = None,
              analysis: Callable[[], FileAnalysis] | None = None) -> ParsedFile:
        """The parsed file, cached per version (or content). `analysis` supplies the analysis
        someone already made of this very text with the same module path (the server's
        documents cache theirs); without it the layout's module path is used."""
        key = (path, version if version is not None else hashlib.sha1(data).hexdigest())
        with self._lock:
            cached = self._parsed.get(key)
            if cached is not None:
                self._parsed.move_to_end(key)
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
        parsed = ParsedFile(path, data, tree, analysed, LineIndex(data), hidden,
                            [record_of(item, path) for item in analysed.items])
        with self._lock:
            self._parsed[key] = parsed
            while len(self._parsed) > CACHE_DOCUMENTS:
                self._parsed.popitem(last=False)
        return parsed

    def prepare(self, path: str, data: bytes, version: int | None = None,
                analysis: Callable[[], FileAnalysis] | None = None) -> None:
        """Parse and blame a file ahead of its first hover (the server calls it when one opens)."""
        self.parse(path, data, version, analysis)
        self.history.blame(path, data.decode("utf-8", errors="replace"))

    # --- explaining ----------------------------------------------------------------------

    def explain(self, path: str, data: bytes, offset: int, *, version: int | None = None,
                prose: bool = False, analysis: Callable[[], FileAnalysis] | None = None) -> Explanation:
        """Explain the symbol at byte `offset` of `data`, the text of `path` (relative to the
        root) at `version` (None: keyed by content). Positions convert in analysis.positions."""
        parsed = self.parse(path, data, version, analysis)
        reader = SourceReader(self.root, self._buffer_for(parsed))
        resolver = Resolver(self.catalog, FileContext(
            parsed.path, parsed.analysis, crate_of=self.layout.crate_of,
            crate_names={c.name.replace("-", "_"): c.root for c in self.layout.crates},
            item_macros=parsed.item_macros, records=parsed.records,
        ))
        subject, view = self._locate(parsed, offset, resolver, reader)
        to_source = view.to_source if view is not None else (lambda at: at)
        span = (to_source(subject.start_byte), to_source(subject.end_byte)) if subject.name else None
        key = (path, version if version is not None else hashlib.sha1(data).hexdigest(),
               span or (offset, offset), prose, self.catalog.generation)
        with self._lock:
            cached = self._explanations.get(key)
        if cached is not None:
            return cached
        explanation = self._explain(parsed, subject, view, span, resolver, reader)
        explanation.span = span
        if prose and self.generator is not None and not explanation.abstained and explanation.claims:
            explanation.prose = self.generator.summarize(explanation)
        with self._lock:
            self._explanations[key] = explanation
            while len(self._explanations) > CACHE_EXPLANATIONS:
                self._explanations.popitem(last=False)
        return explanation

    def _locate(self, parsed: ParsedFile, offset: int, resolver: Resolver,
                reader: SourceReader) -> tuple[Subject, Expansion | None]:
        """The subject at `offset`, read through the macro calls around it whose arguments are
        expressions; the expansion it was found in (None: the file itself)."""
        subject = locate(parsed.tree.root_node, offset)
        view: Expansion | None = None
        for _ in range(MAX_MACRO_DEPTH):
            call = subject.macro_call
            if call is None:
                break
            shape, why, definition = self._macro_shape(call, resolver, reader)
            if shape is None:
                if subject.name:
                    subject.abstain = f"`{subject.name}` is inside the arguments of {why}"
                break
            data, tree = (view.data, view.tree) if view is not None else (parsed.data, parsed.tree)
            expanded = expand(data, tree, call, shape, outer=view)
            at = expanded.from_source(offset) if expanded is not None else None
            if at is None:
                if subject.name and (expanded is None or not self._names_an_item(subject, shape, definition, data,
                                                                                 offset, view)):
                    macro = text(call.child_by_field_name("macro"))
                    subject.abstain = (
                        f"`{subject.name}` is inside the arguments of `{macro}!`, which do not parse as the "
                        "expressions that macro takes" if expanded is None else
                        f"`{subject.name}` is inside an argument of `{macro}!` that its rules do not take as an "
                        "expression (an `ident`, a type, tokens), so what it names is unknown without expanding it")
                break
            view = expanded
            subject = locate(view.tree.root_node, at)
        return subject, view

    @staticmethod
    def _names_an_item(subject: Subject, shape: Shape, definition, data: bytes, offset: int,
                       view: Expansion | None) -> bool:
        """Whether the subject is an argument the macro's rules use to name an item they define
        (`fn $name`); if so the subject says so (role "generated")."""
        if shape.defines is None:
            return False
        at = view.from_source(offset) if view is not None else offset
        number = argument_at(data, subject.macro_call, at, shape) if at is not None else None
        keyword = shape.defines[number] if number is not None and number < len(shape.defines) else None
        if keyword is None or definition is None:
            return False
        trait = _trait_of_impl(subject.macro_call)
        if trait is not None:  # in `impl Trait for T` the call implements the trait's item: name that
            subject.role, subject.abstain, subject.segments = "path", None, [*trait, subject.name]
            return True
        subject.role, subject.abstain, subject.generated = "generated", None, (keyword, definition)
        return True

    def _macro_shape(self, call, resolver: Resolver, reader: SourceReader) -> tuple[Shape | None, str, object]:
        """How the arguments of `call` read as expressions, or None and a phrase saying why not
        ("`m!`, ..."), after "is inside the arguments of"; and the macro's definition when the
        workspace has it."""
        return self._macro_shape_named(text(call.child_by_field_name("macro")), resolver, reader)

    def _macro_shape_named(self, written: str, resolver: Resolver,
                           reader: SourceReader) -> tuple[Shape | None, str, object]:
        segments = written.split("::")
        name = segments[-1]
        if len(segments) > 1 and segments[0] in EXTERNAL_ROOTS:
            found = None
        else:
            found = resolver.macro(name)
            if found.best is not None:
                item = found.best.item
                lines = reader.lines(item.path) or []
                definition = "\n".join(lines[item.start_line - 1 : item.end_line]).encode()
                return (*rules_shape(definition), item)
        if name in STD_SHAPES and (found is None or not found.candidates):
            return STD_SHAPES[name], "", None
        if found is not None and found.candidates:
            return None, f"`{written}!`, which is {found.reason}", None
        if name in STD_MACROS:
            return None, f"`{written}!`, a macro of the standard library whose arguments are not expressions", None
        return None, (f"`{written}!`, a macro defined outside the workspace's source, so what its arguments "
                      "become is unknown without expanding it"), None

    def _explain(self, parsed: ParsedFile, subject: Subject, view: Expansion | None,
                 span: tuple[int, int] | None, resolver: Resolver, reader: SourceReader) -> Explanation:
        if subject.abstain:
            return Explanation(subject.name, True, subject.abstain)
        to_source = view.to_source if view is not None else (lambda at: at)
        line_of = lambda offset: parsed.lines.pos(to_source(offset)).line  # noqa: E731
        if subject.role == "local":
            binding = subject.binding
            if view is not None and binding.kind == "let" and view.added(binding.decl.start_byte):
                binding = replace(binding, kind="named argument")  # `name = value` of a format macro
            return self._finish(subject.name, "local variable", local_claims(binding, parsed.path, line_of), reader)
        if subject.role == "generated":
            claims = generated_claims(subject, parsed.path, line_of, reader)
            return self._finish(subject.name, f"{KIND_WORDS.get(subject.generated[0], 'item')} a macro defines", claims,
                                reader)
        if subject.role == "generic":
            return self._finish(subject.name, "type parameter", [generic_claim(subject, parsed.path, line_of)], reader)
        if subject.role == "block item" or (subject.role == "definition" and not any(
                item.name_span.start_byte == span[0] for item in parsed.analysis.items)):
            claim = block_item_claim(subject.item_node, parsed.path, line_of)
            return self._finish(subject.name, "item in a block", [claim], reader)
        resolution = resolver.resolve(subject)
        best = resolution.best
        if best is None:
            kept, dropped = verify(candidate_claims(resolution.candidates), reader)
            symbol = "::".join(subject.segments) if subject.segments else subject.name
            return Explanation(symbol, True, resolution.reason or "nothing found", kept, dropped)
        item = best.item
        lead = f"`{subject.name}` refers to the type of this impl: " if subject.role == "self" else ""
        definition = definition_claim(best, lead)
        claims: list[Claim] = [definition]
        documented = doc_claim(item)
        if documented is not None:
            claims.append(documented)
        claims += self._behaviour(item, resolver, reader)
        claims += usage_claims(resolver, item, self.limits, reader.line)
        claims += related_claims(self.catalog, item, self.limits)
        claims += history_claims(self._devlog(), item)
        lines = reader.lines(item.path)
        if lines is not None:
            claims += self.history.claims(item.path, lines, item.start_line, item.end_line, item.name)
        explanation = self._finish(item.qualified, KIND_LABELS.get(item.kind, item.kind), claims, reader,
                                   best.confidence)
        if definition in explanation.dropped:
            why = ("a macro generates it: its name does not appear in the macro's template"
                   if item.path == parsed.path else
                   f"its definition recorded in memory does not match the current {item.path} "
                   "(the memory is stale, or a macro generates the item)")
            return Explanation(item.qualified, True, f"`{item.name}` cannot be anchored: {why}",
                               dropped=explanation.claims + explanation.dropped)
        return explanation

    def _behaviour(self, item, resolver: Resolver, reader: SourceReader) -> list[Claim]:
        """What the item's code does (explain.behaviour), read from its current text."""
        lines = reader.lines(item.path)
        if lines is None:
            return []
        if item.kind in TYPE_KINDS:
            return type_claims(item, lines, item.path, self.catalog.members_of(item.name))
        if item.kind not in FUNCTION_KINDS:
            return []
        called = set(_MACRO_CALL.findall("\n".join(lines[item.start_line - 1 : item.end_line])))
        shapes = {}
        for name in called:
            shape, _, _ = self._macro_shape_named(name, resolver, reader)
            if shape is not None:
                shapes[name.rsplit("::", 1)[-1]] = shape
        return behaviour_claims(item, lines, item.path, shapes, lambda name: any(
            r.kind in FUNCTION_KINDS for r in resolver.by_name(name)))

    def _finish(self, symbol: str, kind: str, claims: list[Claim], reader: SourceReader,
                confidence: float = 1.0) -> Explanation:
        kept, dropped = verify(claims, reader)
        if not kept:
            return Explanation(symbol, True, "no claim about it could be anchored in the current files",
                               dropped=dropped)
        return Explanation(symbol, False, None, kept, dropped, kind=kind, confidence=confidence)

    def _buffer_for(self, parsed: ParsedFile) -> Callable[[str], str | None]:
        current = parsed.data.decode("utf-8", errors="replace")
        others = self.buffers

        def buffer(rel: str) -> str | None:
            if rel == parsed.path:
                return current
            return others(rel) if others is not None else None

        return buffer

    def _devlog(self) -> list[dict]:
        events = self._events
        if events is None:
            try:
                events = self.catalog.events()
            except Exception:  # a damaged devlog must not break hovers
                events = []
            self._events = events
        return events
