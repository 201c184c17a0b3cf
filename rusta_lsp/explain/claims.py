"""Claims about a symbol, each carrying the anchors that are its evidence.

Every claim is phrased so that it is true of its anchors: "declared as ..." of the definition,
"used by ..." of a reference, "the only method named ..." when scope could not pin the receiver.
The verifier (verify.py) later drops any claim whose anchors do not hold in the current files.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..memory.records import ItemRecord, RefRecord
from .locate import Subject
from .resolve import PINNED, Referent, Resolver, owner_of
from .scopes import BLOCK_ITEMS, Binding, shadowed, text

ANCHOR_KINDS = ("definition", "doc", "reference", "test", "history", "related")
KIND_LABELS = {
    "fn": "function", "method": "method", "struct": "struct", "enum": "enum", "variant": "enum variant",
    "field": "field", "trait": "trait", "impl": "impl block", "mod": "module", "const": "constant",
    "static": "static", "type": "type alias", "macro": "macro", "use": "import", "union": "union",
}  # fmt: skip
# Item keywords, as a macro's template writes them, in words.
KIND_WORDS = {"fn": "function", "struct": "struct", "enum": "enum", "mod": "module", "trait": "trait",
              "type": "type alias", "const": "constant", "static": "static", "union": "union"}
# Which reference kinds (analysis Ref.kind) can name an item of each kind.
REF_KINDS = {
    "method": {"method", "path"}, "field": {"field"}, "fn": {"call", "path"}, "macro": {"macro"},
    "struct": {"type", "path", "call"}, "enum": {"type", "path"}, "union": {"type", "path"},
    "trait": {"type", "path"}, "type": {"type", "path"}, "variant": {"path", "call"},
    "const": {"path"}, "static": {"path"}, "mod": {"path"},
}  # fmt: skip
_WORD = re.compile(r"[\w']+")
_ESCAPE = re.compile(r"\\[nrt0\\\"']")  # `\n` inside `#[doc = "..."]` is not the word "n..."


def words(text: str) -> list[str]:
    """The words of a text, punctuation, markers, escapes and whitespace aside."""
    return _WORD.findall(_ESCAPE.sub(" ", text))


MAX_SIGNATURE = 160
MAX_SCANNED_REFS = 600


@dataclass(frozen=True)
class Anchor:
    path: str  # relative to the workspace root
    start_line: int  # 1-based, inclusive
    end_line: int
    kind: str  # one of ANCHOR_KINDS
    needle: str = field(default="", compare=False)  # text the range must still contain

    def to_json(self) -> dict:
        return {"path": self.path, "start_line": self.start_line, "end_line": self.end_line, "kind": self.kind}


@dataclass
class Claim:
    text: str
    anchors: list[Anchor]

    def to_json(self) -> dict:
        return {"text": self.text, "anchors": [a.to_json() for a in self.anchors]}


@dataclass
class Explanation:
    symbol: str
    abstained: bool
    reason: str | None
    claims: list[Claim] = field(default_factory=list)
    dropped: list[Claim] = field(default_factory=list)  # claims the verifier rejected
    prose: list[Claim] = field(default_factory=list)  # generated sentences, each tied to an anchor
    kind: str = ""  # the subject's kind label, for the heading
    span: tuple[int, int] | None = None  # bytes of the identifier explained, in its document
    confidence: float | None = None  # how surely the symbol was resolved (1.0: by scope or definition)


@dataclass
class Limits:
    callers: int = 5
    tests: int = 5
    related: int = 2


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _code(text_: str) -> str:
    text_ = re.sub(r"\s+", " ", text_).strip()
    if len(text_) > MAX_SIGNATURE:
        text_ = text_[: MAX_SIGNATURE - 1] + "…"
    return f"`{text_.replace('`', 'ˋ')}`"


def _short(qualified: str) -> str:
    return qualified[len("crate::"):] if qualified.startswith("crate::") else qualified


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def summary(doc: str) -> str:
    """The doc comment's first paragraph, cut at its first sentence when that is long enough."""
    paragraph = doc.strip().split("\n\n", 1)[0]
    paragraph = re.sub(r"\s+", " ", paragraph).strip()
    match = re.match(r"(.{20,}?[.!?])(\s|$)", paragraph)
    result = match.group(1) if match else paragraph
    return result if len(result) <= 300 else result[:299] + "…"


def doc_needle(doc: str) -> str:
    """A few words of the doc's first line: present in the comment however it was written (the
    verifier compares words, Markdown and comment markers aside)."""
    first = next((line.strip() for line in doc.splitlines() if line.strip()), "")
    return " ".join(words(first)[:3])


def describe(item: ItemRecord) -> str:
    label = KIND_LABELS.get(item.kind, item.kind)
    owner = owner_of(item) if item.kind in ("method", "field", "variant", "type", "const") else None
    of = ""
    if owner and item.parent and item.parent != "crate" and item.parent.split("::")[-1] != item.name:
        of = f" of `{owner}`"
        if item.trait_name:
            of += f" (in its `{item.trait_name}` impl)"
    return f"{_article(label)} {label}{of}"


def definition_claim(referent: Referent, lead: str = "") -> Claim:
    item = referent.item
    hedge = "" if referent.confidence >= PINNED else f" (likely: {referent.why})"
    text_ = f"{lead}`{_short(item.qualified)}` is {describe(item)}{hedge}, declared as {_code(item.signature)}."
    return Claim(text_, [Anchor(item.path, item.start_line, item.end_line, "definition", item.name)])


def doc_claim(item: ItemRecord) -> Claim | None:
    if not item.doc.strip() or item.doc_start_line is None:
        return None
    end = item.doc_end_line or item.doc_start_line
    return Claim(f"Docs: {summary(item.doc)}", [Anchor(item.path, item.doc_start_line, end, "doc", doc_needle(item.doc))])


def candidate_claims(referents: list[Referent], limit: int = 6) -> list[Claim]:
    out = []
    for referent in referents[:limit]:
        item = referent.item
        out.append(Claim(
            f"Candidate: `{_short(item.qualified)}`, {describe(item)} ({referent.why}; confidence "
            f"{referent.confidence:.2f}), declared as {_code(item.signature)}.",
            [Anchor(item.path, item.start_line, item.end_line, "definition", item.name)],
        ))
    return out


def _module(item: ItemRecord) -> list[str]:
    parts = item.qualified.split("::")
    return parts[:-2] if item.kind in ("method", "field", "variant") else parts[:-1]


def _common(a: list[str], b: list[str]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def _relevant(ref: RefRecord, item: ItemRecord, unique: bool, rivals: list[ItemRecord],
              line_text: Callable[[str, int], str], imported: Callable[[RefRecord], str | None]) -> bool:
    """Whether a stored reference names this item (not a namesake elsewhere)."""
    if ref.path == item.path and item.start_line <= ref.line <= item.end_line:
        return False  # inside its own definition
    if rivals:
        # Namesakes with the same owner name (`bytes::Regex::new`, `unicode::Regex::new`): what the
        # reference's file imports under that name decides; failing that, the reference must sit
        # strictly closer, by module, to this item than to any rival.
        owner_path = imported(ref)
        if owner_path is not None:
            return owner_path == item.qualified.rsplit("::", 1)[0]
        where = ref.enclosing.split("::")
        mine = _common(where, _module(item))
        if any(_common(where, _module(r)) >= mine for r in rivals):
            return False
    owner = owner_of(item)
    if ref.kind == "token":
        # Inside macro arguments (`assert_eq!(Ledger::new(), ..)`) only the text tells: accept
        # `Owner::name`, or a name nothing else in the workspace shares that is not a member.
        # The line is read only for what `Owner::` may precede (reading a file costs a hover).
        if owner and item.kind in ("method", "fn", "const", "variant", "type") and (
                line_text(ref.path, ref.line)[: ref.col - 1].rstrip().endswith(f"{owner}::")):
            return True
        return unique and item.kind not in ("method", "field")
    if ref.kind not in REF_KINDS.get(item.kind, set()):
        return False
    if unique:
        return True
    qualifier = ref.qualifier.rsplit("::", 1)[-1] if ref.qualifier else ""
    if qualifier:
        return qualifier == owner or (qualifier == "Self" and _inside_owner(ref, item))
    # Unqualified: a method or field of the same type (`self.x`), or a same-module call.
    if item.kind in ("method", "field"):
        return _inside_owner(ref, item)
    return ref.path == item.path


def _inside_owner(ref: RefRecord, item: ItemRecord) -> bool:
    owner = owner_of(item)
    module = item.qualified.rsplit("::", 2)[0] if item.kind in ("method", "field") else ""
    return bool(owner and module and ref.enclosing.startswith(f"{module}::{owner}::"))


def usage_claims(resolver: Resolver, item: ItemRecord, limits: Limits,
                 line_text: Callable[[str, int], str]) -> list[Claim]:
    """Callers (non-test references) and the tests that exercise the item, a few of each."""
    catalog = resolver.catalog
    namesakes = [r for r in resolver.by_name(item.name) if r.kind not in ("use", "impl")]
    unique = len(namesakes) <= 1
    rivals = [r for r in namesakes if r.qualified != item.qualified and owner_of(r) == owner_of(item)]
    callers: list[Claim] = []
    tests: list[Claim] = []
    seen: set[str] = set()
    # Nearest first (same file, same crate), and a bounded scan: `Result` has thousands of refs.
    crate = resolver.ctx.crate_of(item.path)
    refs = catalog.references(item.name, limit=MAX_SCANNED_REFS, rank=lambda path: (
        (path != item.path) + (resolver.ctx.crate_of(path) != crate)))
    for ref in refs:
        wanted = tests if ref.in_test else callers
        limit = limits.tests if ref.in_test else limits.callers
        if len(callers) >= limits.callers and len(tests) >= limits.tests:
            break
        if len(wanted) >= limit or ref.enclosing in seen or not _relevant(
                ref, item, unique, rivals, line_text, resolver.imported_owner):
            continue
        seen.add(ref.enclosing)
        if not ref.in_test:
            callers.append(Claim(f"Used by `{_short(ref.enclosing)}`.",
                                 [Anchor(ref.path, ref.line, ref.end_line, "reference", item.name)]))
            continue
        test = next((t for t in catalog.lookup_path(ref.enclosing) if t.is_test and t.path == ref.path), None)
        if test is not None:
            tests.append(Claim(f"Exercised by test `{_short(test.qualified)}`.",
                               [Anchor(test.path, test.start_line, test.end_line, "test", item.name)]))
    return callers + tests


def related_claims(catalog, item: ItemRecord, limits: Limits) -> list[Claim]:
    """README and docs passages that mention the item by name."""
    word = re.compile(rf"(?<!\w){re.escape(item.name)}(?!\w)")
    out = []
    for passage in catalog.passages_mentioning(item.name, limits.related):
        lines = passage.text.splitlines()
        excerpt = next((l.strip() for l in lines if word.search(l)), "")
        out.append(Claim(
            f"Mentioned in `{passage.path}`: “{excerpt[:160]}”",
            [Anchor(passage.path, passage.start_line, passage.end_line, "related", item.name)],
        ))
    return out


def _event_phrase(kind: str, code: str, outcome: str, count: int) -> str:
    what = code or "a diagnostic"
    if kind == "patch_outcome":  # the user applied (or rejected) a Rusta patch here
        if outcome == "rejected":
            return f"A suggested fix for {what} was rejected here {_times(count)}."
        return f"{what} was fixed here {_times(count)}."
    if kind == "drill":
        done = {"restored": "fixed", "abstained": "left alone (abstained)"}.get(outcome, outcome or "attempted")
        return f"A drill broke this code with {what} {_times(count)}; it was {done}."
    return f"{kind.replace('_', ' ').capitalize()} ({what}) {_times(count)}."


def history_claims(events: list[dict], item: ItemRecord) -> list[Claim]:
    """What the devlog remembers about the lines of this item."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for event in events:
        line = event.get("line")
        if event.get("path") != item.path or line is None or not item.start_line <= line <= item.end_line:
            continue
        payload = event.get("payload") or {}
        kind = event.get("kind", "")
        if kind == "patch_outcome":
            if payload.get("drill"):
                continue  # practice, already told by its "drill" event
            outcome = "applied" if payload.get("correct") else "rejected"
        else:
            outcome = str(payload.get("outcome") or "")
        counts[(kind, str(payload.get("code") or ""), outcome)] += 1
    anchor = Anchor(item.path, item.start_line, item.end_line, "history", item.name)
    return [Claim(_event_phrase(kind, code, outcome, n), [anchor]) for (kind, code, outcome), n in counts.most_common(3)]


def local_claims(binding: Binding, path: str, line_of) -> list[Claim]:
    """A local variable: where it is bound, with which annotation, and what it shadows."""
    def anchor(node) -> Anchor:
        return Anchor(path, line_of(node.start_byte), line_of(max(node.end_byte - 1, node.start_byte)),
                      "definition", binding.name)

    line = line_of(binding.ident.start_byte)
    if binding.kind == "named argument":
        return [Claim(f"`{binding.name}` is a named argument of this macro call, given on line {line}.",
                      [anchor(binding.decl)])]
    how = {
        "let": "bound by `let`", "parameter": "a parameter", "closure parameter": "a closure parameter",
        "match arm": "bound by a `match` arm pattern", "if let": "bound by an `if let` pattern",
        "while let": "bound by a `while let` pattern", "for": "bound by a `for` loop pattern",
    }[binding.kind]
    typed = f" of type {_code(text(binding.type_node))}" if binding.type_node is not None else ""
    claims = [Claim(f"`{binding.name}` is a local variable{typed}, {how} on line {line}.", [anchor(binding.decl)])]
    earlier = shadowed(binding)
    if earlier is not None:
        claims.append(Claim(
            f"It shadows an earlier `{binding.name}` bound on line {line_of(earlier.ident.start_byte)}.",
            [anchor(earlier.decl)],
        ))
    return claims


_NODE_LABELS = {
    **BLOCK_ITEMS, "field_declaration": "field", "enum_variant": "enum variant",
    "function_signature_item": "function", "associated_type": "associated type",
}  # fmt: skip


def block_item_claim(node, path: str, line_of) -> Claim:
    """An item the analysis did not index (declared inside a function body): read from the tree."""
    name = text(node.child_by_field_name("name"))
    label = _NODE_LABELS.get(node.type, "item")
    owner = node.parent
    while owner is not None and owner.type != "function_item":
        owner = owner.parent
    inside = f" declared inside `{text(owner.child_by_field_name('name'))}`" if owner is not None else ""
    head = text(node).split("{", 1)[0].split("=", 1)[0]
    return Claim(f"`{name}` is {_article(label)} {label}{inside}, declared as {_code(head)}.",
                 [Anchor(path, line_of(node.start_byte), line_of(max(node.end_byte - 1, node.start_byte)),
                         "definition", name)])


def generated_claims(subject: Subject, path: str, line_of, reader) -> list[Claim]:
    """A name a macro call passes to define an item (`mat!(my_test, ..)` whose rule writes
    `fn $name`): the call that defines it, and the line of the macro's template that does."""
    keyword, macro = subject.generated
    call = subject.macro_call
    invoked = text(call.child_by_field_name("macro"))
    here = Anchor(path, line_of(call.start_byte), line_of(max(call.end_byte - 1, call.start_byte)), "definition",
                  subject.name)
    anchors = [here]
    template = reader.lines(macro.path) or []
    line = next((number for number in range(macro.start_line, min(macro.end_line, len(template)) + 1)
                 if re.search(rf"\b{keyword}\s+\$\w+", template[number - 1])), None)
    if line is not None:
        anchors.append(Anchor(macro.path, line, line, "definition", keyword))
    label = KIND_WORDS.get(keyword, "item")
    return [Claim(f"`{subject.name}` names the {label} that this `{invoked}!` call defines"
                  + (f" (its template writes `{keyword} $…` on line {line} of `{macro.path}`)." if line else "."),
                  anchors)]


def generic_claim(subject: Subject, path: str, line_of) -> Claim:
    owner = subject.generic_owner
    name_node = owner.child_by_field_name("name") if owner is not None else None
    owner_name = text(name_node) or "this item"
    start = line_of(owner.start_byte) if owner is not None else line_of(subject.start_byte)
    end = line_of(max(owner.end_byte - 1, owner.start_byte)) if owner is not None else start
    return Claim(f"`{subject.name}` is a generic type parameter of `{owner_name}`.",
                 [Anchor(path, start, end, "definition", subject.name)])
