"""Intent: what a candidate edit does to the author's code, and the edits never offered.

Compiling is not being right: half-written code compiles after many wrong edits (delete the
argument, return the parameter, change the test's expected value). Two things live here.

`kind_of(edits, ctx, hint)` is a candidate's edit kind (`candidate.EDIT_KINDS`). A generator
that knows what it proposes passes it as `hint`; where the edit lands overrides that (test code
or an assertion, a deletion of the author's words, a function body), and what nobody labelled is
classified from the text it replaces. The calibrator reads the kind; `rusta report` counts by it.

`held_back(candidate, ctx)` applies the never-rules. A candidate they name is neither verified nor
offered, whatever the calibrator says; its reason, in plain words, is the diagnostic's reason to
abstain when nothing else is offered. Never:

- rewrite a test's assertion or expected value to make it compile;
- write a body for, or change the signature of, an unfinished function (empty body, `todo!()`
  or `unimplemented!()`, a TODO/FIXME comment within it or just above);
- delete an argument, expression, statement or import the author wrote (an empty `()` aside),
  unless the author's own recent edit is the evidence: the devlog shows they just removed a
  parameter of the function called (`SIGNATURE_EVENT`, logged by the engine on their saves);
- rename an unknown name to a near-miss neighbour of another meaning (`min_len` used where only
  `max_len` exists: the author is about to declare it);
- invent a value the author did not write (`let x: i32 = 42;` for an uninitialised `x`);
- put a `_` into a pattern where the author bound fewer values (`Apple(a)` -> `Apple(a, _)`: which
  field `a` is, and whether the other is wanted, is theirs to say);
- give one of two items that share a name an alias of rustc's invention (`use foo::core as
  other_core`): which of the two to rename, and to what, is the author's choice.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..analysis.parser import ancestors, descendants, parse_tree
from .candidate import Candidate, Edit, by_path

if TYPE_CHECKING:
    from .generators import GenContext

EXPECTS = "this would change what the test expects"
IMPORT_KEPT = "this import may be for code not written yet"
ALTERNATIVELY = re.compile(r"(?i)\s*(alternatively|or)\b")  # rustc's word for another way of the same fix
# Devlog events the engine logs when a save removed parameters from a function; the payload is
# {"name": str, "before": int, "after": int} (parameter counts).
SIGNATURE_EVENT = "signature_change"
RECENT_S = 30 * 60  # how long such an edit counts as the author's recent decision

COMMENTS = ("line_comment", "block_comment")
TODO = re.compile(r"\b(TODO|FIXME|XXX)\b")
PLACEHOLDER_MACROS = ("todo", "unimplemented")
ASSERTION = re.compile(r"(debug_)?assert(_eq|_ne|_matches)?")
TEST_ATTRIBUTE = re.compile(r"^#\[\s*((\w+::)*test\b|cfg\s*\(\s*test\s*\))")
WORD = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)'|[A-Za-z_][A-Za-z0-9_]*|\d[\w.]*")
# What an edit may remove with nothing in its place: words (above), and operators whose loss
# changes what the code does (`..=` -> `..`); separators and borrows aside.
OPERATOR = re.compile(r"[=!<>+\-/%^|]")  # by character; a `.` aside (`.clone()` is a conversion)
NUMBER = re.compile(r"\d[\d_]*(?:\.\d[\d_]*)?")
TUPLE_INDEX = re.compile(r"(?<=[A-Za-z_)\]])\.\d+")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LITERAL = re.compile(r"\"|'.|^\d")
# Words an edit may remove without removing the author's meaning: modifiers and conversions.
# A visibility or `unsafe` rustc rejects where it stands has no meaning there to lose.
MODIFIERS = {"mut", "ref", "move", "dyn", "as", "clone", "into", "to_string", "to_owned", "as_str",
             "as_ref", "as_mut", "unwrap", "iter", "try_into", "from", "Some", "Ok", "Box", "new", "pub", "unsafe"}
# Rust's strict keywords: never a name, so never a rename of one (`dyn` -> `impl` changes a type).
# Weak ones (`union`, `default`) may name things.
KEYWORDS = {"as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false",
            "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
            "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while"}
PATTERN_NODES = {"match_pattern", "tuple_struct_pattern", "tuple_pattern", "struct_pattern", "slice_pattern",
                 "field_pattern", "parameter", "closure_parameters", "or_pattern"}
PRIMITIVES = {"i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize",
              "f32", "f64", "bool", "char", "str"}
CONVERSION = re.compile(r"\.(into|try_into|to_string|to_owned|as_str|as_ref|as_mut|unwrap|iter)\(\)"
                        r"|\bas\s+\w|::(from|try_from|new)\(|^(Some|Ok|Err|Box::new)\(|\?$")
TYPE_NODES = {"primitive_type", "type_identifier", "generic_type", "reference_type", "unit_type", "tuple_type",
              "array_type", "scoped_type_identifier", "function_type", "pointer_type", "type_arguments",
              "abstract_type", "dynamic_type", "bounded_type"}
# One token put into the author's text, and the kind that makes (tried in this order).
INSERTIONS = (("mut ", "add_mut"), ("&mut ", "add_borrow"), ("&", "add_borrow"), ("ref ", "add_ref"),
              ("*", "add_deref"), (".clone()", "add_clone"))
# Kinds an edit in a signature keeps: a `mut`, a misspelt type's name, a path, a borrow of `self`.
SIGNATURE_SAFE = {"add_mut", "rename_similar", "restore_name", "add_import"}
# Kinds that keep the values a test compares: allowed in its assertions and bindings.
KEEPS_VALUES = {"add_borrow", "add_deref", "add_clone", "add_import", "restore_name", "rename_similar", "add_mut",
                "add_ref"}


# --- syntax around an edit ----------------------------------------------------------------------


def _text(node) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _leading(item):
    """The attributes and comments right before an item, nearest first."""
    prev = item.prev_named_sibling
    while prev is not None and prev.type in ("attribute_item", *COMMENTS):
        yield prev
        prev = prev.prev_named_sibling


def _is_test_item(node) -> bool:
    return node.type in ("function_item", "mod_item") and any(
        a.type == "attribute_item" and TEST_ATTRIBUTE.match(_text(a)) for a in _leading(node))


def in_test(path: str, node) -> bool:
    """Test code: a file under `tests/`, a `#[test]` function or a `#[cfg(test)]` module."""
    return path.startswith("tests/") or "/tests/" in path or any(_is_test_item(n) for n in ancestors(node))


def assertion(node):
    """The `assert*!` invocation whose arguments hold the node, or None."""
    for n in ancestors(node):
        if n.type == "macro_invocation":
            name = n.child_by_field_name("macro")
            if name is not None and ASSERTION.fullmatch(_text(name).rsplit("::", 1)[-1]):
                return n
    return None


def function(node):
    return next((n for n in ancestors(node) if n.type == "function_item"), None)


def unfinished(fn) -> str | None:
    """Why the function reads as not written yet, or None: an empty body, `todo!()` or
    `unimplemented!()` in it, a TODO/FIXME comment within it or just above."""
    body = fn.child_by_field_name("body")
    if body is None:
        return None
    if not [c for c in body.named_children if c.type not in COMMENTS]:
        return "its body is empty"
    for n in descendants(body):
        if n.type == "macro_invocation" and _text(n.child_by_field_name("macro")) in PLACEHOLDER_MACROS:
            return f"its body still has `{_text(n.child_by_field_name('macro'))}!()`"
        if n.type in COMMENTS and TODO.search(_text(n)):
            return "it has a TODO comment"
    if any(c.type in COMMENTS and TODO.search(_text(c)) for c in _leading(fn)):
        return "a TODO comment above it says so"
    return None


@dataclass
class Part:
    """One file's code edits (`use` lines aside) as one replacement of `old` by `new`."""

    path: str
    old: str
    new: str
    start: int
    end: int
    node: object  # the smallest named syntax node covering [start, end)

    @property
    def function(self):
        return function(self.node)

    def in_body(self) -> bool:
        body = self.function.child_by_field_name("body") if self.function is not None else None
        return body is not None and body.start_byte < max(self.end, self.start + 1) and self.start < body.end_byte

    def in_signature(self) -> bool:
        fn = self.function
        if fn is None:
            return False
        name, body = fn.child_by_field_name("name"), fn.child_by_field_name("body")
        end = body.start_byte if body is not None else fn.end_byte
        return name is not None and name.end_byte <= self.start and self.end <= end


def _is_use(edit: Edit) -> bool:
    return edit.start == edit.end and edit.new_text.strip().startswith(("use ", "pub use "))


def parts(edits, ctx: GenContext) -> list[Part]:
    out = []
    for path, file_edits in by_path(edits).items():
        code = [e for e in file_edits if not _is_use(e)]
        if not code:
            continue
        data = ctx.text(path)
        start, end = min(e.start for e in code), max(e.end for e in code)
        new = data[start:end]
        for e in sorted(set(code), key=lambda e: e.start, reverse=True):
            new = new[: e.start - start] + e.new_text.encode() + new[e.end - start :]
        node = ctx.tree(path).root_node.named_descendant_for_byte_range(start, end)
        out.append(Part(path, data[start:end].decode("utf-8", "replace"), new.decode("utf-8", "replace"),
                        start, end, node))
    return out


# --- what an edit does --------------------------------------------------------------------------


def removed_words(old: str, new: str) -> list[str]:
    """The author's words (names, literals) the replacement drops with nothing in their place:
    empty unless the edit is a pure removal. An empty `()`, modifiers and conversions aside."""
    if old.strip(" ,\n\t") == "()":
        return []
    before, after = Counter(WORD.findall(old)), Counter(WORD.findall(new))
    if after - before:
        return []  # something new stands in their place: a rewrite, not a removal
    words = [w for w in (before - after).elements() if w not in MODIFIERS and w not in PRIMITIVES]
    # Operators count by character, however the edit is cut (`=` removed, or `..=` written as `..`).
    before, after = Counter(OPERATOR.findall(WORD.sub(" ", old))), Counter(OPERATOR.findall(WORD.sub(" ", new)))
    if after - before:
        return words  # an operator replaced (`//!` -> `///`) is not a removal either
    return words + list((before - after).elements())


def text_kind(old: str, new: str) -> str | None:
    """The kind a replacement of `old` by `new` reads as, from the text alone."""
    o, n = old.strip(), new.strip()
    inserted = next((kind for token, kind in INSERTIONS
                     if token in new and new.replace(token, "", 1).strip() == o), None)
    if inserted:
        return inserted
    if n == f"({o}).clone()":
        return "add_clone"
    if o != n and re.sub(r"^[&*]+\s*(mut\s+)?", "", o) == n:
        return "convert_type"  # a borrow or a dereference dropped
    if IDENTIFIER.fullmatch(o) and IDENTIFIER.fullmatch(n):
        if o in KEYWORDS or n in KEYWORDS:
            return "other"
        return "convert_type" if o in PRIMITIVES or n in PRIMITIVES else "rename_similar"
    if IDENTIFIER.fullmatch(o) and re.fullmatch(r"[\w:.]*(::|\.)" + re.escape(o), n):
        return "restore_name"  # `self.x`, `io::Error`, `Self::new`
    if CONVERSION.search(n) or n == "?" or (o and not n):
        return "convert_type"
    if (set(IDENTIFIER.findall(o)) | set(IDENTIFIER.findall(n))) & PRIMITIVES:
        return "convert_type"  # an annotation or a literal's suffix: `u32` → `u64`, `5u8` → `5usize`
    return None


def _writes_body(part: Part) -> bool:
    """The edit writes what a function computes: anything put into an empty body, new lines of
    code, or a removed `;` that makes the last statement the body's value."""
    if not part.in_body():
        return False
    body = part.function.child_by_field_name("body")
    if not [c for c in body.named_children if c.type not in COMMENTS]:
        return bool(part.new.strip())
    if part.old.strip() == ";" and not part.new.strip():
        return True
    return not part.old.strip() and "\n" in part.new and bool(WORD.search(part.new))


def kind_of(edits, ctx: GenContext, hint: str | None = None) -> str:
    """The candidate's edit kind. Where the edit lands comes first: test code or an assertion
    (`edit_test`), then a removal of the author's words (`delete_code`), then a function's body
    (`write_body`) or signature (`change_signature`, `mut` aside); then the generator's `hint`;
    then the text it replaces."""
    found = parts(edits, ctx)
    if not found:
        return "add_import" if edits else hint or "other"
    if any(in_test(p.path, p.node) or assertion(p.node) is not None for p in found):
        return "edit_test"
    if any(removed_words(p.old, p.new) and not p.in_signature() and p.node.type not in TYPE_NODES for p in found):
        return "delete_code"  # of an argument, expression, statement or item; a type is retyped
    if any(_writes_body(p) for p in found):
        return "write_body"
    text = text_kind(found[0].old, found[0].new)
    if any(p.in_signature() for p in found) and text not in SIGNATURE_SAFE:
        return "change_signature"
    return hint or text or "other"


# --- the never-rules ----------------------------------------------------------------------------


def held_back(cand: Candidate, ctx: GenContext) -> str | None:
    """Why the candidate is never offered, in words its author understands, or None."""
    for part in parts(cand.edits, ctx):
        reason = (_expectation(part) or _unfinished_target(cand, part) or _deletion(cand.kind, part, ctx)
                  or _near_miss(cand.kind, part, ctx) or _invented_value(part) or _wildcard(part)
                  or _clash_alias(part, ctx))
        if reason:
            return reason
    return None


def alternatives(best: Candidate, verified: list[Candidate]) -> str | None:
    """Why not to offer `best` when rustc lists it among equals and another of them compiles too:
    which one is meant is the author's choice. Equals are the suggestions of one help message ("one
    of the available implementations", "one of the following valid forms", "fully-qualified syntax
    to disambiguate"), or of one diagnostic whose help calls one of them an alternative ("consider
    returning an `impl Trait`", "alternatively, box the return type"). An import aside: the
    workspace's own imports rank those, and one path is usually the item's."""
    help_text = best.extra.get("help")
    if best.source != "rustc" or not help_text or best.kind == "add_import":
        return None

    def equal(other: Candidate) -> bool:
        other_help = other.extra.get("help") or ""
        return other_help == help_text or ALTERNATIVELY.match(other_help) is not None \
            or ALTERNATIVELY.match(help_text) is not None

    others = [c for c in verified if c is not best and c.source == "rustc" and c.edit_key != best.edit_key
              and c.diagnostic == best.diagnostic and equal(c)]
    if not others:
        return None
    return (f"rustc offers several fixes here that compile ({best.title}; {others[0].title}): "
            "which one is yours to choose")


def _expectation(part: Part) -> str | None:
    """An assertion's values or a test's expected value changed."""
    if text_kind(part.old, part.new) in KEEPS_VALUES:
        return None  # a borrow, a `mut`, a clone or a name put right compares the same values
    if assertion(part.node) is not None:
        return EXPECTS
    if not in_test(part.path, part.node):
        return None
    if any(LITERAL.match(w) for w in Counter(WORD.findall(part.old)) - Counter(WORD.findall(part.new))):
        return EXPECTS  # a literal of a test is its expected value
    fn = part.function
    binding = next((n for n in ancestors(part.node) if n.type == "let_declaration"), None)
    if fn is None or binding is None:
        return None
    pattern = binding.child_by_field_name("pattern")
    names = {_text(n) for n in descendants(pattern) if n.type == "identifier"} if pattern is not None else set()
    asserted = {_text(n) for m in descendants(fn) if m.type == "macro_invocation" and assertion(m) is m
                for n in descendants(m) if n.type == "identifier"}
    return EXPECTS if names & asserted else None  # the value a test asserts on


def _unfinished_target(cand: Candidate, part: Part) -> str | None:
    """A body written, or a signature changed to fit the body, of a function not written yet. An
    error of the parameters' or generics' own (a generic parameter the list lacks, a bare trait for
    a type) is not the body's: mending it leaves what the function returns as the author wrote it."""
    fn = part.function
    if cand.kind not in ("write_body", "change_signature") or fn is None:
        return None
    returns = fn.child_by_field_name("return_type")
    if (cand.kind == "change_signature" and cand.diagnostic.code != "E0308" and _in_signature(cand.diagnostic, part)
            and (returns is None or part.end <= returns.start_byte or part.start >= returns.end_byte)):
        return None
    why = unfinished(fn)
    return f"this function is not written yet (`{_text(fn.child_by_field_name('name'))}`: {why})" if why else None


def _in_signature(diag, part: Part) -> bool:
    """The diagnostic's primary span lies between the function's name and its body."""
    p, fn = diag.primary, part.function
    if p is None or p.path != part.path:
        return False
    name, body = fn.child_by_field_name("name"), fn.child_by_field_name("body")
    end = body.start_byte if body is not None else fn.end_byte
    return name is not None and name.end_byte <= p.byte_start and p.byte_end <= end


def _invented_value(part: Part) -> str | None:
    """A literal the edit writes whose value the author's text there does not have (`= 42` for an
    uninitialised binding, `return 42;`): the value is theirs to choose. A literal's suffix may
    change (`5u8` -> `5usize`)."""
    def values(text: str) -> Counter:
        text = TUPLE_INDEX.sub("", text)  # `.0` of a tuple is a field, not a value
        return Counter(NUMBER.match(w).group(0) if w[0].isdigit() else w for w in WORD.findall(text)
                       if LITERAL.match(w))
    new = values(part.new) - values(part.old)
    if not new:
        return None
    return f"this would invent a value you have not written (`{_clip(next(iter(new)))}`)"


def _wildcard(part: Part) -> str | None:
    """A `_` put into a pattern: it ignores a value the author's pattern did not bind, and in a
    tuple pattern it also decides which field their binding is."""
    if Counter(WORD.findall(part.new))["_"] <= Counter(WORD.findall(part.old))["_"]:
        return None
    if not any(n.type in PATTERN_NODES for n in ancestors(part.node)):
        return None
    return "this would ignore a value with `_` where your pattern may mean to bind it"


def _clash_alias(part: Part, ctx: GenContext) -> str | None:
    """An `as new_name` given to an import or `extern crate` that clashes with another item: which
    of the two to rename, and to what, is the author's choice."""
    alias = re.search(r"\bas\s+([A-Za-z_]\w*)", part.new)
    if alias is None or re.search(r"\bas\s+" + re.escape(alias.group(1)) + r"\b", part.old):
        return None
    if not any(n.type in ("use_declaration", "extern_crate_declaration") for n in ancestors(part.node)):
        return None
    if alias.group(1) in code_names(ctx, part.path):
        return None  # a name the code already uses for it
    return "two items share this name; which one to rename, and to what, is yours to choose"


def _deletion(kind: str, part: Part, ctx: GenContext) -> str | None:
    if kind != "delete_code":
        return None
    if re.search(r"(^|\n)\s*(pub(\([^)]*\))?\s+)?use\s", part.old):
        return f"{IMPORT_KEPT} (`{_clip(part.old)}`)"
    arguments = next((n for n in ancestors(part.node) if n.type == "arguments"), None)
    if arguments is not None and arguments.parent is not None and arguments.parent.type == "call_expression":
        callee = _text(arguments.parent.child_by_field_name("function"))
        if re.split(r"::|\.", callee)[-1] in recent_removals(ctx):
            return None  # the author just removed a parameter of the function called
    return f"this would delete code you wrote (`{_clip(' '.join(removed_words(part.old, part.new)))}`)"


def _near_miss(kind: str, part: Part, ctx: GenContext) -> str | None:
    missing, existing = part.old.strip(), part.new.strip()
    if kind != "rename_similar" or not (IDENTIFIER.fullmatch(missing) and IDENTIFIER.fullmatch(existing)):
        return None
    if not near_miss(missing, existing, code_names(ctx, part.path)):
        return None
    return f"`{missing}` looks like a name not declared yet; `{existing}` means something else"


def segments(name: str) -> list[str]:
    """`is_morning` -> [is, morning]; `maxLen` -> [max, len]."""
    return [s.lower() for s in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)]


def code_names(ctx: GenContext, path: str) -> list[str]:
    """Every name the file's code writes (identifiers, not the words of its comments), once per run."""
    key = ("intent", "names", path)
    if key not in ctx.lookups:
        ctx.lookups[key] = [_text(n) for n in descendants(ctx.tree(path).root_node)
                            if n.type in ("identifier", "field_identifier", "type_identifier")]
    return ctx.lookups[key]


def near_miss(missing: str, existing: str, names: list[str]) -> bool:
    """`missing` is a name of its own rather than a slip of `existing`: more than one slip apart
    (`min_len` and `max_len`), too short to tell a slip (`x` and `y`), written more than once in
    the code (`names`: a slip is made once), or one of its words is a word of the file's other
    names that `existing` lacks (`form` where `form_data` is written)."""
    if osa_distance(missing, existing, 2) >= 2 or names.count(missing) > 1:
        return True
    if len(missing) <= 2 and len(existing) <= len(missing):
        return True  # `y` for `x`; but `wt` for `wtr` is a letter dropped
    words = {w for name in set(names) - {missing} for w in segments(name)}
    return any(len(w) >= 3 and w in words for w in set(segments(missing)) - set(segments(existing)))


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of neighbours counts one), or limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return min(prev[-1], limit + 1)


def _clip(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the author's own recent edits --------------------------------------------------------------


def parameter_counts(source: bytes) -> dict[str, int]:
    """Function name -> its number of parameters (`self` included), for names declared once."""
    counts: dict[str, int] = {}
    seen: Counter = Counter()
    for n in descendants(parse_tree(source).root_node):
        if n.type in ("function_item", "function_signature_item"):
            name, params = n.child_by_field_name("name"), n.child_by_field_name("parameters")
            if name is not None and params is not None:
                seen[_text(name)] += 1
                counts[_text(name)] = sum(c.type in ("parameter", "self_parameter") for c in params.named_children)
    return {k: v for k, v in counts.items() if seen[k] == 1}


def signature_changes(before: bytes, after: bytes) -> list[dict]:
    """Functions of a file that lost parameters between two texts of it (SIGNATURE_EVENT payloads)."""
    old, new = parameter_counts(before), parameter_counts(after)
    return [{"name": name, "before": old[name], "after": n} for name, n in new.items() if name in old and n < old[name]]


def recent_removals(ctx: GenContext) -> set[str]:
    """Functions the author removed parameters from lately: this run's edits and the devlog's."""
    key = ("intent", SIGNATURE_EVENT)
    if key not in ctx.lookups:
        names = {c["name"] for c in ctx.signature_changes}
        if ctx.memory is not None:
            try:
                events = ctx.memory.events(SIGNATURE_EVENT, since=time.time() - RECENT_S)
                names |= {e["payload"].get("name") for e in events}
            except Exception:  # noqa: BLE001 — no devlog yet: no evidence either
                pass
        ctx.lookups[key] = names
    return ctx.lookups[key]
