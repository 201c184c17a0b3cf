"""Local variables from tree-sitter scopes: which `let`, parameter or pattern binds an identifier.

Pure code over a syntax tree. Rust's rules that matter here: a `let` binds from the end of its
statement on (so `let x = x + 1` reads the earlier `x`) and shadows earlier bindings of the same
name; parameters, closure parameters, `match` arms, `if let`/`while let` conditions and `for`
patterns bind inside their body only; a nested `fn` does not see its parent's locals.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

# Nodes that only carry sub-patterns; walking up through them keeps us inside a pattern.
_PATTERN_WRAPPERS = {
    "tuple_pattern", "tuple_struct_pattern", "struct_pattern", "field_pattern", "ref_pattern",
    "mut_pattern", "captured_pattern", "or_pattern", "slice_pattern", "reference_pattern",
    "match_pattern", "remaining_field_pattern",
}  # fmt: skip
# Children of patterns that name types or constants, never bindings.
_NOT_BINDING_FIELDS = {"type", "condition"}
# An upper-case bare identifier in a pattern is a unit variant or constant (`None`, `MAX`).
_CONSTANT_LIKE = re.compile(r"^[A-Z]")


@dataclass(frozen=True)
class Binding:
    name: str
    ident: Node  # the identifier that binds the name
    # "let", "parameter", "closure parameter", "match arm", "if let", "while let", "for", or
    # "named argument" (`name = value` in a formatting macro's arguments, read as a `let`)
    kind: str
    decl: Node  # the statement, parameter or arm holding it (the anchor's range)
    type_node: Node | None = None  # the annotation, when written next to a plain identifier
    value: Node | None = None  # the initializer of a `let x = ...`, to guess a receiver's type


def text(node: Node | None) -> str:
    return "" if node is None else node.text.decode("utf-8", errors="replace")


def pattern_bindings(pattern: Node | None) -> Iterator[Node]:
    """Identifiers a pattern binds."""
    if pattern is None:
        return
    kind = pattern.type
    if kind == "identifier":
        if not _CONSTANT_LIKE.match(text(pattern)):
            yield pattern
        return
    if kind == "shorthand_field_identifier":
        yield pattern
        return
    if kind not in _PATTERN_WRAPPERS:
        return
    for index, child in enumerate(pattern.children):
        field = pattern.field_name_for_child(index)
        if not child.is_named or field in _NOT_BINDING_FIELDS:
            continue
        if kind == "field_pattern" and field == "name" and child.type == "field_identifier":
            continue  # `Point { x: px }` binds px, not x
        yield from pattern_bindings(child)


def _find(pattern: Node | None, name: str) -> Node | None:
    return next((n for n in pattern_bindings(pattern) if text(n) == name), None)


def _type_of_plain(pattern: Node | None, type_node: Node | None) -> Node | None:
    # An annotation describes the bound value only when the pattern is a plain identifier.
    if pattern is not None and pattern.type in ("identifier", "mut_pattern"):
        return type_node
    return None


def _parameter_binding(param: Node, name: str, kind: str) -> Binding | None:
    if param.type == "parameter":
        pattern = param.child_by_field_name("pattern")
        found = _find(pattern, name)
        if found is not None:
            return Binding(name, found, kind, param, _type_of_plain(pattern, param.child_by_field_name("type")))
        return None
    found = _find(param, name)  # closure parameters may be bare patterns
    return Binding(name, found, kind, param) if found is not None else None


def _let_binding(stmt: Node, name: str) -> Binding | None:
    pattern = stmt.child_by_field_name("pattern")
    found = _find(pattern, name)
    if found is None:
        return None
    return Binding(name, found, "let", stmt, _type_of_plain(pattern, stmt.child_by_field_name("type")),
                   stmt.child_by_field_name("value"))


def _condition_bindings(condition: Node | None, name: str, kind: str, before: int) -> Binding | None:
    """`if let` / `while let` / let chains: conditions that end before `before` bind."""
    if condition is None:
        return None
    lets = [condition] if condition.type == "let_condition" else [
        c for c in condition.named_children if c.type == "let_condition"
    ]
    for cond in reversed(lets):
        if cond.end_byte > before:
            continue
        found = _find(cond.child_by_field_name("pattern"), name)
        if found is not None:
            return Binding(name, found, kind, cond)
    return None


def inside(node: Node, container: Node | None) -> bool:
    """Whether `node` lies within `container` (byte ranges; False without a container)."""
    return container is not None and container.start_byte <= node.start_byte and node.end_byte <= container.end_byte


def find_binding(ident: Node) -> Binding | None:
    """The binding an identifier in an expression refers to, or None when it is not a local."""
    return _lookup(ident, text(ident))


def _lookup(ident: Node, name: str) -> Binding | None:
    node = ident.parent
    while node is not None:
        kind = node.type
        found: Binding | None = None
        if kind == "block":
            for stmt in reversed(node.named_children):
                if stmt.type == "let_declaration" and stmt.end_byte <= ident.start_byte:
                    found = _let_binding(stmt, name)
                    if found is not None:
                        break
        elif kind in ("function_item", "closure_expression"):
            params = node.child_by_field_name("parameters")
            if params is not None and not inside(ident, params):
                label = "parameter" if kind == "function_item" else "closure parameter"
                for param in params.named_children:
                    found = _parameter_binding(param, name, label)
                    if found is not None:
                        break
            if found is None and kind == "function_item":
                return None  # a nested fn does not capture its parent's locals
        elif kind == "match_arm":
            pattern = node.child_by_field_name("pattern")
            in_guard = inside(ident, pattern.child_by_field_name("condition")) if pattern else False
            if pattern is not None and (not inside(ident, pattern) or in_guard):
                found = _find(pattern, name)
                found = Binding(name, found, "match arm", node) if found is not None else None
        elif kind in ("if_expression", "while_expression"):
            condition = node.child_by_field_name("condition")
            label = "if let" if kind == "if_expression" else "while let"
            body = node.child_by_field_name("consequence" if kind == "if_expression" else "body")
            if inside(ident, body):
                found = _condition_bindings(condition, name, label, ident.start_byte)
        elif kind == "let_chain":
            found = _condition_bindings(node, name, "if let", ident.start_byte)
        elif kind == "for_expression":
            if inside(ident, node.child_by_field_name("body")):
                pattern = node.child_by_field_name("pattern")
                found = _find(pattern, name)
                found = Binding(name, found, "for", node) if found is not None else None
        elif kind in ("impl_item", "trait_item", "mod_item", "source_file", "const_item", "static_item"):
            return None
        if found is not None:
            return found
        node = node.parent
    return None


def binding_site(ident: Node) -> Binding | None:
    """When the identifier itself is bound here (`let x`, a parameter, a pattern), its Binding."""
    node = ident.parent
    while node is not None and node.type in _PATTERN_WRAPPERS:
        node = node.parent
    if node is None:
        return None
    name = text(ident)
    if node.type == "let_declaration":
        found = _let_binding(node, name)
    elif node.type == "parameter":
        found = _parameter_binding(node, name, "parameter")
    elif node.type == "closure_parameters":
        found = _parameter_binding(ident, name, "closure parameter")
    elif node.type in ("match_arm", "let_condition", "for_expression"):
        pattern = node.child_by_field_name("pattern")
        hit = _find(pattern, name)
        label = {"match_arm": "match arm", "let_condition": "if let", "for_expression": "for"}[node.type]
        found = Binding(name, hit, label, node) if hit is not None else None
    else:
        return None
    if found is not None and found.ident.start_byte == ident.start_byte:
        return found
    return None


def shadowed(binding: Binding) -> Binding | None:
    """The earlier binding of the same name that `binding` shadows, if any."""
    return _lookup(binding.decl, binding.name) if binding.kind == "let" else None


# Items a block may declare; they are visible in the whole block, before and after.
BLOCK_ITEMS = {
    "function_item": "function", "struct_item": "struct", "enum_item": "enum", "union_item": "union",
    "const_item": "constant", "static_item": "static", "type_item": "type alias", "trait_item": "trait",
    "macro_definition": "macro", "mod_item": "module",
}  # fmt: skip


def block_item(ident: Node) -> Node | None:
    """An item declared in a block around the identifier (`fn helper` inside a fn body) by that name."""
    name = text(ident)
    node = ident.parent
    while node is not None and node.type not in ("impl_item", "trait_item", "mod_item", "source_file"):
        if node.type == "block":
            for child in node.named_children:
                if child.type in BLOCK_ITEMS and text(child.child_by_field_name("name")) == name:
                    return child
        node = node.parent
    return None
