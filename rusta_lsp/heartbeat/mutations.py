"""Mutation engine: small, realistic breakages of the user's own code, each aimed at a rustc error.

A `Mutation` is one byte-range replacement in one file, with the text it replaces and the error
codes rustc is expected to report. Mutations never touch the user's files: callers apply them to
source text (`Mutation.apply`) and hand the result to a shadow copy (as a patch-engine overlay).

Besides slips of finished code, the engine makes code in progress (IN_PROGRESS_KINDS): a body
emptied or left at `todo!()`, a call to a function not written yet, a variable used before its
declaration is written, an import whose users were deleted, and a name with a near-miss
neighbour of another meaning. For those, and for the removals whose lost text nobody can guess
(NO_FIX_KINDS), the right answer is to abstain: `Mutation.no_fix`.

Sites are found with tree-sitter node by node; sampling is seeded, so a corpus is reproducible
(`bench/fix.py` and `bench/learning.py` reuse it). The in-progress kinds draw from a generator of
their own, so adding them left the other kinds' seeded sites as they were.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import tree_sitter
import tree_sitter_rust

from ..analysis.parser import ancestors, descendants
from ..analysis.positions import LineIndex
from ..cancel import CancelToken
from ..safe_read import read_or_skip

_LANGUAGE = tree_sitter.Language(tree_sitter_rust.language())

# Error codes each kind is expected to provoke; the first is the most common one.
EXPECTED_CODES: dict[str, tuple[str, ...]] = {
    "remove_use": ("E0433", "E0412", "E0425", "E0599", "E0405", "E0422", "E0423", "E0531", "E0532"),
    "misspell_ident": ("E0425",),
    "misspell_method": ("E0599",),
    "misspell_field": ("E0609", "E0560", "E0026", "E0615"),
    # Recent rustc reports an unknown type as E0425 too.
    "misspell_type": ("E0412", "E0425", "E0422", "E0433", "E0531", "E0532"),
    "drop_ref": ("E0308", "E0382", "E0507", "E0505", "E0277", "E0599"),
    "drop_deref": ("E0308", "E0369", "E0368", "E0277", "E0599", "E0614"),
    "drop_mut": ("E0596", "E0384", "E0594", "E0053"),
    "drop_clone": ("E0382", "E0507", "E0308", "E0505"),
    "drop_try": ("E0308", "E0599", "E0609", "E0277", "E0369", "E0614"),
    "change_numeric": ("E0308", "E0277", "E0053"),
    "remove_field_init": ("E0063",),
    "remove_argument": ("E0061",),
    "remove_match_arm": ("E0004",),
    # Code in progress.
    "empty_body": ("E0308", "E0277"),  # `{}` or a TODO comment where a value is returned
    "unfinished_producer": ("E0308", "E0277", "E0369", "E0599"),  # `-> Option<T> { todo!() }` a test asserts on
    "unwritten_fn": ("E0425", "E0599", "E0433"),  # a called function's definition not written yet
    "undeclared_local": ("E0425",),  # a `let` not written yet before the variable's uses
    "orphan_import": ("unused_imports",),  # the import's only user deleted (the lint denied on it)
    "near_miss_name": ("E0425",),  # `min_len` used where only `max_len` exists
}
MUTATION_KINDS = tuple(EXPECTED_CODES)
IN_PROGRESS_KINDS = ("empty_body", "unfinished_producer", "unwritten_fn", "undeclared_local", "orphan_import",
                     "near_miss_name")
# Kinds whose right answer is no patch: what was removed cannot be known, or is not written yet.
NO_FIX_KINDS = ("remove_field_init", "remove_argument", "remove_match_arm", *IN_PROGRESS_KINDS)

_KEYWORDS = {
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "for",
    "impl", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "static", "struct",
    "super", "trait", "true", "type", "unsafe", "use", "where", "while", "box", "try", "yield", "macro",
}
_INTEGER_TYPES = ("u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize")
_FLOAT_TYPES = ("f32", "f64")
# Declarations whose `name` child names a new thing: misspelling it is a rename, not an error.
_DECLARING_PARENTS = {
    "struct_item", "enum_item", "union_item", "type_item", "trait_item", "function_item",
    "function_signature_item", "enum_variant", "type_parameters", "constrained_type_parameter",
    "field_declaration", "associated_type", "macro_definition", "mod_item", "const_item", "static_item",
}


@dataclass(frozen=True)
class Mutation:
    id: str  # stable: hash of path, kind, range and replacement
    kind: str  # one of MUTATION_KINDS
    path: str  # relative to the workspace root, `/`-separated
    start_byte: int
    end_byte: int
    original: str  # the text the mutation replaces
    replacement: str
    line: int  # 1-based, where the replaced text starts
    col: int  # 1-based, Unicode scalar values
    expected_codes: tuple[str, ...]

    @property
    def no_fix(self) -> bool:
        """No right local fix: the right answer is to abstain. (A removed `()` argument has one
        right fix: `Ok()` becomes `Ok(())`.)"""
        return self.kind in NO_FIX_KINDS and self.original.strip(" ,") != "()"

    def apply(self, source: bytes) -> bytes:
        """The mutated source; raises ValueError when the file no longer holds the original text."""
        if source[self.start_byte : self.end_byte] != self.original.encode():
            raise ValueError(f"{self.path}:{self.line}: source changed since the mutation was found")
        return source[: self.start_byte] + self.replacement.encode() + source[self.end_byte :]

    def to_json(self) -> dict:
        data = asdict(self)
        data["expected_codes"] = list(self.expected_codes)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Mutation":
        return cls(**{**data, "expected_codes": tuple(data["expected_codes"])})


# --- site finders: (node, source, rng, names) -> list of (start, end, replacement) -------------

Edit = tuple[int, int, str]


def _text(node: tree_sitter.Node) -> str:
    return node.text.decode("utf-8", errors="replace") if node.text is not None else ""


def _misspell(name: str, rng: random.Random, taken: set[str]) -> str | None:
    """One-edit typo (drop, swap or double a letter) that is still an identifier and names nothing."""
    if len(name) < 3:
        return None
    options = []
    for i in range(1, len(name)):
        options.append(name[:i] + name[i + 1 :])  # drop
        if i + 1 < len(name) and name[i] != name[i + 1]:
            options.append(name[:i] + name[i + 1] + name[i] + name[i + 2 :])  # swap
        options.append(name[:i] + name[i] + name[i:])  # double
    options = [o for o in dict.fromkeys(options) if o not in taken and o != name and o.isidentifier()]
    return rng.choice(options) if options else None


def _with_separator(node: tree_sitter.Node) -> tuple[int, int]:
    """Range of a list element plus one neighbouring comma, so the list stays well formed."""
    nxt, prev = node.next_sibling, node.prev_sibling
    if nxt is not None and nxt.type == ",":
        after = nxt.next_sibling
        return node.start_byte, after.start_byte if after is not None and after.type != ")" else nxt.end_byte
    if prev is not None and prev.type == ",":
        return prev.start_byte, node.end_byte
    return node.start_byte, node.end_byte


def _line_range(node: tree_sitter.Node, source: bytes) -> tuple[int, int]:
    """The node plus its trailing newline when it sits alone on its line."""
    start, end = node.start_byte, node.end_byte
    line_start = source.rfind(b"\n", 0, start) + 1
    if source[line_start:start].strip() == b"" and source[end : end + 1] == b"\n":
        return line_start, end + 1
    return start, end


def _remove_use(node, source, rng, names) -> list[Edit]:
    if node.type != "use_declaration" or node.parent is None or node.parent.type not in (
        "source_file", "declaration_list"
    ):
        return []
    if node.parent.type == "declaration_list" and node.parent.parent is not None and node.parent.parent.type != "mod_item":
        return []
    # A re-export is for other crates: removing it breaks nothing inside this one.
    if node.named_children and node.named_children[0].type == "visibility_modifier":
        return []
    start, end = _line_range(node, source)
    return [(start, end, "")]


def _misspell_at(node, rng, names) -> list[Edit]:
    new = _misspell(_text(node), rng, names)
    return [(node.start_byte, node.end_byte, new)] if new else []


def _misspell_ident(node, source, rng, names) -> list[Edit]:
    # A use of a local binding in an expression: `x` in `f(x)`, `x + 1`, `x.len()`.
    if node.type != "identifier" or node.parent is None:
        return []
    parent = node.parent
    field = _field_name(node)
    if parent.type in ("let_declaration", "parameter", "closure_parameters", "tuple_pattern",
                       "field_pattern", "match_pattern", "scoped_identifier", "macro_invocation",
                       "scoped_type_identifier", "scoped_use_list", "use_as_clause", "use_list",
                       "token_tree", "shorthand_field_initializer", "for_expression",
                       "mut_pattern", "ref_pattern", "reference_pattern", "captured_pattern",
                       "tuple_struct_pattern", "slice_pattern", "or_pattern", "attribute",
                       "meta_item", "lifetime", "label", "break_expression", "continue_expression"):
        return []
    if parent.type == "call_expression" and field == "function":
        return []
    if parent.type in _DECLARING_PARENTS:
        return []
    if _text(node) not in names.get("locals", ()):
        return []
    return _misspell_at(node, rng, names["all"])


def _misspell_method(node, source, rng, names) -> list[Edit]:
    if node.type != "field_identifier" or node.parent is None or node.parent.type != "field_expression":
        return []
    call = node.parent.parent
    if call is None or call.type != "call_expression" or _field_name(node.parent) != "function":
        return []
    return _misspell_at(node, rng, names["all"])


def _misspell_field(node, source, rng, names) -> list[Edit]:
    if node.type != "field_identifier" or node.parent is None or node.parent.type != "field_expression":
        return []
    call = node.parent.parent
    if call is not None and call.type == "call_expression" and _field_name(node.parent) == "function":
        return []
    return _misspell_at(node, rng, names["all"])


def _misspell_type(node, source, rng, names) -> list[Edit]:
    # Only types the workspace defines: rustc then suggests the similar name, as for a real typo.
    if node.type != "type_identifier" or node.parent is None or node.parent.type in _DECLARING_PARENTS:
        return []
    if _text(node) not in names.get("types", ()):
        return []
    return _misspell_at(node, rng, names["all"])


def _drop_ref(node, source, rng, names) -> list[Edit]:
    if node.type != "reference_expression":
        return []
    value = node.child_by_field_name("value")
    if value is None:
        return []
    return [(node.start_byte, value.start_byte, "")]


def _drop_deref(node, source, rng, names) -> list[Edit]:
    if node.type != "unary_expression" or node.child_count != 2 or node.children[0].type != "*":
        return []
    return [(node.start_byte, node.children[1].start_byte, "")]


def _drop_mut(node, source, rng, names) -> list[Edit]:
    if node.type != "mutable_specifier" or node.parent is None:
        return []
    if node.parent.type not in ("let_declaration", "mut_pattern", "self_parameter", "reference_type"):
        return []
    if node.parent.type == "reference_type" and (node.parent.parent is None or node.parent.parent.type != "parameter"):
        return []
    end = node.end_byte
    while source[end : end + 1] == b" ":
        end += 1
    return [(node.start_byte, end, "")]


def _drop_clone(node, source, rng, names) -> list[Edit]:
    if node.type != "call_expression":
        return []
    function, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
    if function is None or args is None or function.type != "field_expression" or args.named_child_count:
        return []
    field = function.child_by_field_name("field")
    if field is None or _text(field) != "clone":
        return []
    value = function.child_by_field_name("value")
    return [(value.end_byte, node.end_byte, "")] if value is not None else []


def _drop_try(node, source, rng, names) -> list[Edit]:
    # `x?;` as a statement only loses a warning's worth of meaning without the `?`.
    if node.type != "try_expression" or node.child_count != 2 or node.parent.type == "expression_statement":
        return []
    mark = node.children[1]
    return [(mark.start_byte, mark.end_byte, "")] if mark.type == "?" else []


def _change_numeric(node, source, rng, names) -> list[Edit]:
    if node.type != "primitive_type" or node.parent is None:
        return []
    name = _text(node)
    family = _INTEGER_TYPES if name in _INTEGER_TYPES else _FLOAT_TYPES if name in _FLOAT_TYPES else None
    # Annotations on parameters, lets and return types; casts (`as u64`) accept any numeric type.
    if family is None or node.parent.type not in ("parameter", "let_declaration", "function_item"):
        return []
    return [(node.start_byte, node.end_byte, rng.choice([t for t in family if t != name]))]


def _remove_field_init(node, source, rng, names) -> list[Edit]:
    if node.type not in ("field_initializer", "shorthand_field_initializer"):
        return []
    parent = node.parent
    if parent is None or any(c.type == "base_field_initializer" for c in parent.named_children):
        return []
    start, end = _with_separator(node)
    return [(start, end, "")]


def _remove_argument(node, source, rng, names) -> list[Edit]:
    parent = node.parent
    if parent is None or parent.type != "arguments" or not node.is_named or node.type in ("line_comment", "block_comment"):
        return []
    call = parent.parent
    if call is None or call.type != "call_expression":
        return []
    start, end = _with_separator(node)
    return [(start, end, "")]


def _remove_match_arm(node, source, rng, names) -> list[Edit]:
    if node.type != "match_arm" or node.parent is None:
        return []
    arms = [c for c in node.parent.named_children if c.type == "match_arm"]
    if len(arms) < 2:
        return []
    # Removing one arm beside a catch-all still compiles; remove the catch-all itself instead.
    catch_all = [a for a in arms if _is_catch_all(a)]
    if catch_all and node not in catch_all:
        return []
    start, end = _line_range(node, source)
    return [(start, end, "")]


def _is_catch_all(arm: tree_sitter.Node) -> bool:
    pattern = arm.child_by_field_name("pattern")
    if pattern is None:
        return False
    guard = pattern.child_by_field_name("condition")
    text = _text(pattern.named_children[0]) if pattern.named_children else _text(pattern)
    return guard is None and (text == "_" or (text.isidentifier() and text[0].islower()))


# --- code in progress ------------------------------------------------------------------------


def _indent(node, source: bytes) -> str:
    line_start = source.rfind(b"\n", 0, node.start_byte) + 1
    head = source[line_start : node.start_byte]
    return head[: len(head) - len(head.lstrip())].decode()


def _returns_value(fn) -> bool:
    ret = fn.child_by_field_name("return_type")
    return ret is not None and _text(ret) not in ("()", "!", "Self") and fn.child_by_field_name("body") is not None


def _empty_body(node, source, rng, names) -> list[Edit]:
    """A body emptied, or left at a TODO comment, where the function returns a value."""
    if node.type != "function_item" or not _returns_value(node):
        return []
    body = node.child_by_field_name("body")
    if not [c for c in body.named_children if c.type not in ("line_comment", "block_comment")]:
        return []
    indent = _indent(node, source)
    return [(body.start_byte, body.end_byte, rng.choice(["{}", f"{{\n{indent}    // TODO\n{indent}}}"]))]


def _unfinished_producer(node, source, rng, names) -> list[Edit]:
    """A function a test asserts on, only started: its result made an `Option` and its body a
    `todo!()` (the assertion states what it will return)."""
    if node.type != "function_item" or not _returns_value(node):
        return []
    name, ret = _text(node.child_by_field_name("name")), node.child_by_field_name("return_type")
    if name not in names["asserted"] or name in names["called"] \
            or _text(ret).startswith(("Option", "Result", "impl", "&")):
        return []
    indent = _indent(node, source)
    body = node.child_by_field_name("body")
    return [(ret.start_byte, body.end_byte, f"Option<{_text(ret)}> {{\n{indent}    todo!()\n{indent}}}")]


def _item_range(node, source: bytes) -> tuple[int, int]:
    """An item's lines with its doc comments and attributes."""
    first = node
    prev = node.prev_named_sibling
    while prev is not None and prev.type in ("attribute_item", "line_comment", "block_comment") \
            and source[prev.end_byte : first.start_byte].count(b"\n") <= 1:
        first, prev = prev, prev.prev_named_sibling
    start, _ = _line_range(first, source)
    _, end = _line_range(node, source)
    return start, end


def _in_trait_impl(fn: tree_sitter.Node) -> bool:
    container = fn.parent.parent if fn.parent is not None and fn.parent.type == "declaration_list" else None
    return container is not None and container.type in ("impl_item", "trait_item") and (
        container.type == "trait_item" or container.child_by_field_name("trait") is not None)


def _unwritten_fn(node, source, rng, names) -> list[Edit]:
    """A called function whose definition is not written yet (free, or of an inherent impl)."""
    if node.type != "function_item" or node.parent is None or _in_trait_impl(node):
        return []
    name = _text(node.child_by_field_name("name"))
    if names["called"][name] == 0 or names["defined"][name] != 1 or name == "main":
        return []
    return [(*_item_range(node, source), "")]


def _undeclared_local(node, source, rng, names) -> list[Edit]:
    """A `let` not written yet while the code after it already uses the variable."""
    if node.type != "let_declaration" or node.parent is None or node.parent.type != "block":
        return []
    pattern = node.child_by_field_name("pattern")
    if pattern is not None and pattern.type == "mut_pattern":
        pattern = pattern.named_children[0] if pattern.named_children else None
    if pattern is None or pattern.type != "identifier" or names["bindings"][_text(pattern)] != 1:
        return []
    name = _text(pattern)
    later = [n for sibling in _siblings_after(node) for n in descendants(sibling)
             if n.type == "identifier" and _text(n) == name]
    return [_line_range(node, source) + ("",)] if later else []


def _siblings_after(node):
    sibling = node.next_named_sibling
    while sibling is not None:
        yield sibling
        sibling = sibling.next_named_sibling


def _orphan_import(node, source, rng, names) -> list[Edit]:
    """The code using an imported name deleted (the one statement, function or impl holding every
    use), the import left for code to come; the `unused_imports` lint is denied on it, as a
    project's `-D warnings` would."""
    if not _remove_use(node, source, rng, names):
        return []
    imported = node.child_by_field_name("argument")
    if imported is None or imported.type not in ("scoped_identifier", "identifier"):
        return []
    users = names["uses"].get(_text(imported).rsplit("::", 1)[-1], [])
    holders = {_user_holder(u) for u in users}
    if len(holders) != 1 or None in holders:
        return []
    holder = holders.pop()
    name = holder.child_by_field_name("name") if holder.type == "function_item" else None
    called = name is not None and (names["called"][_text(name)] or _text(name) == "main")
    if holder.start_byte < node.end_byte or called:
        return []  # a function still called would leave errors of its own
    start, end = _item_range(holder, source) if holder.type != "expression_statement" else _line_range(holder, source)
    between = source[node.start_byte : start].decode("utf-8", "replace")
    return [(node.start_byte, end, f"#[deny(unused_imports)]\n{_indent(node, source)}{between}")]


def _user_holder(use: tree_sitter.Node):
    """What deleting a use of a name takes with it: its statement (one that assigns, returns or
    binds nothing), else its function or impl block; None when neither (a field's type)."""
    for a in ancestors(use):
        if a.type == "expression_statement" and _text(a).endswith(";") and not any(
            n.type in ("assignment_expression", "compound_assignment_expr", "return_expression", "break_expression")
            for n in descendants(a)
        ):
            return a
        if a.type == "function_item" and _in_trait_impl(a):
            continue  # the impl would lack the trait's item: the whole impl goes
        if a.type in ("function_item", "impl_item") and a.parent is not None and a.parent.type in (
            "source_file", "declaration_list"
        ):
            return a
    return None


def _near_miss_name(node, source, rng, names) -> list[Edit]:
    """A use of a local renamed to a name not declared yet whose near-miss neighbour is that local:
    one word swapped for a like-spelt word of the file (`max_len` -> `min_len`)."""
    if not _misspell_ident(node, source, random.Random(0), names):
        return []  # the places a local's use can be misspelt
    name = _text(node)
    words = name.split("_")
    options = []
    for i, word in enumerate(words):
        for other in sorted(names["words"]):
            if other != word and len(word) >= 3 and other not in _KEYWORDS and _distance(word, other) <= 2:
                new = "_".join(words[:i] + [other] + words[i + 1 :])
                if new not in names["all"] and 1 <= _distance(new, name) <= max(len(new), 3) // 3:
                    options.append(new)
    return [(node.start_byte, node.end_byte, rng.choice(options))] if options else []


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (rustc's similar-name suggestions use it)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            row.append(min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = row
    return prev[-1]


def _field_name(node: tree_sitter.Node) -> str | None:
    parent = node.parent
    if parent is None:
        return None
    for i in range(parent.child_count):
        if parent.children[i] == node:
            return parent.field_name_for_child(i)
    return None


_FINDERS: dict[str, Callable] = {
    "remove_use": _remove_use,
    "misspell_ident": _misspell_ident,
    "misspell_method": _misspell_method,
    "misspell_field": _misspell_field,
    "misspell_type": _misspell_type,
    "drop_ref": _drop_ref,
    "drop_deref": _drop_deref,
    "drop_mut": _drop_mut,
    "drop_clone": _drop_clone,
    "drop_try": _drop_try,
    "change_numeric": _change_numeric,
    "remove_field_init": _remove_field_init,
    "remove_argument": _remove_argument,
    "remove_match_arm": _remove_match_arm,
    "empty_body": _empty_body,
    "unfinished_producer": _unfinished_producer,
    "unwritten_fn": _unwritten_fn,
    "undeclared_local": _undeclared_local,
    "orphan_import": _orphan_import,
    "near_miss_name": _near_miss_name,
}


# Node types each finder looks at (remove_argument looks at any child of `arguments`).
_NODE_TYPES: dict[str, tuple[str, ...]] = {
    "remove_use": ("use_declaration",),
    "misspell_ident": ("identifier",),
    "misspell_method": ("field_identifier",),
    "misspell_field": ("field_identifier",),
    "misspell_type": ("type_identifier",),
    "drop_ref": ("reference_expression",),
    "drop_deref": ("unary_expression",),
    "drop_mut": ("mutable_specifier",),
    "drop_clone": ("call_expression",),
    "drop_try": ("try_expression",),
    "change_numeric": ("primitive_type",),
    "remove_field_init": ("field_initializer", "shorthand_field_initializer"),
    "remove_match_arm": ("match_arm",),
    "empty_body": ("function_item",),
    "unfinished_producer": ("function_item",),
    "unwritten_fn": ("function_item",),
    "undeclared_local": ("let_declaration",),
    "orphan_import": ("use_declaration",),
    "near_miss_name": ("identifier",),
}


def _dispatch(kinds: list[str]) -> dict[str, list[str]]:
    """node type -> the kinds to try on it, in MUTATION_KINDS order (the seeded typos depend on it)."""
    table: dict[str, list[str]] = {}
    for kind in kinds:
        for node_type in _NODE_TYPES.get(kind, ()):
            table.setdefault(node_type, []).append(kind)
    return table


# --- walking -------------------------------------------------------------------------------------


def _is_test_or_macro(node: tree_sitter.Node) -> bool:
    """Test-only code (not built by a plain check) and macro token trees (not parsed as Rust)."""
    if node.type in ("macro_invocation", "token_tree", "macro_definition", "attribute_item"):
        return True
    if node.type in ("mod_item", "function_item"):
        prev = node.prev_named_sibling
        while prev is not None and prev.type in ("attribute_item", "line_comment", "block_comment"):
            if prev.type == "attribute_item" and "test" in _text(prev):
                return True
            prev = prev.prev_named_sibling
    return False


def _walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    if _is_test_or_macro(node):
        return
    yield node
    for child in node.children:
        yield from _walk(child)


def _collect_names(root: tree_sitter.Node) -> dict:
    """What the finders need to know of the whole file: every identifier (typos must not hit one),
    locals, defined types; and for code in progress the calls outside tests, the functions tests
    assert on, definitions and bindings per name, the uses of each name, and the words names are
    made of."""
    names: dict = {"all": set(), "locals": set(), "types": set(), "asserted": set(), "called": Counter(),
                   "defined": Counter(), "bindings": Counter(), "uses": {}, "words": set()}
    stack = [(root, False, False, False)]
    while stack:
        node, in_test, in_assert, in_use = stack.pop()
        kind, parent = node.type, node.parent
        if kind in ("identifier", "field_identifier", "type_identifier"):
            text = _text(node)
            names["all"].add(text)
            names["words"].update(w for w in text.lower().split("_") if len(w) >= 3 and w.isalpha())
            if not in_use:  # an import is not a use of what it imports
                names["uses"].setdefault(text, []).append(node)
        if kind == "identifier" and parent is not None and parent.type in (
            "let_declaration", "parameter", "mut_pattern", "tuple_pattern"
        ):
            names["locals"].add(_text(node))
            names["bindings"][_text(node)] += 1
        if kind in ("struct_item", "enum_item", "type_item", "trait_item", "union_item"):
            name = node.child_by_field_name("name")
            if name is not None:
                names["types"].add(_text(name))
        if kind == "function_item" and node.child_by_field_name("name") is not None:
            names["defined"][_text(node.child_by_field_name("name"))] += 1
        called = _called_name(node)
        if called and in_assert:
            names["asserted"].add(called)
        elif called and not in_test:
            names["called"][called] += 1
        in_use = in_use or kind == "use_declaration"
        in_test = in_test or (kind in ("mod_item", "function_item") and _is_test_or_macro(node))
        in_assert = in_assert or (kind == "macro_invocation" and _text(node.child_by_field_name("macro")).startswith(
            ("assert", "debug_assert")))
        stack.extend((child, in_test, in_assert, in_use) for child in node.children)
    return names


def _called_name(node: tree_sitter.Node) -> str | None:
    """The function a call names: `f(..)`, `x.f(..)`, `a::f(..)`, and `f` followed by `(..)` among
    a macro's tokens."""
    if node.type == "call_expression":
        function = node.child_by_field_name("function")
        if function is not None and function.type == "field_expression":
            function = function.child_by_field_name("field")
        elif function is not None and function.type == "scoped_identifier":
            function = function.child_by_field_name("name")
        return _text(function) if function is not None and function.type in ("identifier", "field_identifier") else None
    if node.type == "identifier" and node.parent is not None and node.parent.type == "token_tree":
        after = node.next_sibling
        is_call = after is not None and after.type == "token_tree" and _text(after).startswith("(")
        return _text(node) if is_call else None
    return None


def _make(kind: str, path: str, source: bytes, index: LineIndex, edit: Edit) -> Mutation:
    start, end, replacement = edit
    original = source[start:end].decode("utf-8", errors="replace")
    digest = hashlib.sha1(f"{path}\0{kind}\0{start}\0{end}\0{replacement}".encode()).hexdigest()[:12]
    pos = index.pos(start)
    return Mutation(digest, kind, path, start, end, original, replacement, pos.line, pos.col, EXPECTED_CODES[kind])


def find_mutations(
    source: bytes,
    path: str,
    kinds: Iterable[str] = MUTATION_KINDS,
    seed: int = 0,
    extra_types: Iterable[str] = (),
) -> list[Mutation]:
    """Every mutation site of the given kinds in one file, in source order.

    `extra_types` names types defined elsewhere in the workspace (misspelling targets).
    The seed picks typos and replacement types, so the same inputs give the same mutations.
    """
    kinds = [k for k in MUTATION_KINDS if k in set(kinds)]
    tree = tree_sitter.Parser(_LANGUAGE).parse(source)
    names = _collect_names(tree.root_node)
    names["types"] |= set(extra_types)
    index = LineIndex(source)
    rng = random.Random(f"{seed}:{path}")
    progress_rng = random.Random(f"{seed}:{path}:in-progress")
    found: list[Mutation] = []
    seen: set[tuple[bool, int, int]] = set()
    by_type = _dispatch(kinds)
    arguments = "remove_argument" in kinds
    for node in _walk(tree.root_node):
        todo = by_type.get(node.type, [])
        if arguments and node.is_named and node.parent is not None and node.parent.type == "arguments":
            todo = sorted([*todo, "remove_argument"], key=MUTATION_KINDS.index)
        for kind in todo:
            in_progress = kind in IN_PROGRESS_KINDS
            for edit in _FINDERS[kind](node, source, progress_rng if in_progress else rng, names):
                if (in_progress, edit[0], edit[1]) not in seen:
                    seen.add((in_progress, edit[0], edit[1]))
                    found.append(_make(kind, path, source, index, edit))
    return found


def workspace_sources(root: Path) -> list[Path]:
    """`.rs` files under the crates' `src/` folders (what a plain `cargo check` builds)."""
    files = []
    for manifest in sorted(root.rglob("Cargo.toml")):
        if any(part in ("target", ".git") or part.startswith(".") for part in manifest.relative_to(root).parts[:-1]):
            continue
        src = manifest.parent / "src"
        if src.is_dir():
            files.extend(p for p in sorted(src.rglob("*.rs")) if "target" not in p.relative_to(root).parts)
    return sorted(set(files))


def defined_types(sources: dict[str, bytes], cancel: CancelToken | None = None) -> set[str]:
    types: set[str] = set()
    for source in sources.values():
        if cancel is not None:
            cancel.check()
        types |= _collect_names(tree_sitter.Parser(_LANGUAGE).parse(source).root_node)["types"]
    return types


def mutation_corpus(
    root: Path,
    seed: int = 0,
    kinds: Iterable[str] = MUTATION_KINDS,
    per_kind: int | None = None,
    files: Iterable[Path] | None = None,
    cancel: CancelToken | None = None,
) -> list[Mutation]:
    """Mutations across a workspace, sampled per kind with a seeded generator.

    Sorted by kind then a seeded shuffle, so `per_kind` keeps a reproducible, spread-out sample.
    `cancel` is checked between files (the heartbeat's token: the user typed).
    """
    root = Path(root)
    paths = list(files) if files is not None else workspace_sources(root)
    sources = {p.relative_to(root).as_posix(): data for p in paths if (data := read_or_skip(p, root)) is not None}
    types = defined_types(sources, cancel)
    by_kind: dict[str, list[Mutation]] = {}
    for rel, source in sorted(sources.items()):
        if cancel is not None:
            cancel.check()
        for m in find_mutations(source, rel, kinds, seed=seed, extra_types=types):
            by_kind.setdefault(m.kind, []).append(m)
    rng = random.Random(seed)
    corpus: list[Mutation] = []
    for kind in MUTATION_KINDS:
        sites = by_kind.get(kind, [])
        rng.shuffle(sites)
        corpus.extend(sites[:per_kind] if per_kind is not None else sites)
    return corpus
