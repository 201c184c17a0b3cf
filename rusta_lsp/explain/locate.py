"""What sits under the cursor: the identifier and the syntactic role that decides how to resolve it.

Pure code over a tree-sitter tree; no memory, no I/O. Anything we cannot read safely from syntax
alone (macro arguments, attributes, literals, comments) becomes an abstention with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from . import scopes
from .scopes import Binding, text

_IDENTS = {
    "identifier", "field_identifier", "type_identifier", "shorthand_field_identifier", "self",
    "crate", "super", "primitive_type", "metavariable",
}  # fmt: skip
# Item nodes whose `name` child is the item's own name (the cursor is on a definition).
_DEFINITIONS = {
    "function_item", "function_signature_item", "struct_item", "enum_item", "union_item",
    "trait_item", "type_item", "associated_type", "const_item", "static_item", "mod_item",
    "macro_definition", "enum_variant", "field_declaration",
}  # fmt: skip
_PATHS = {"scoped_identifier", "scoped_type_identifier", "scoped_use_list"}
# Constructors whose result has the type they are called on: `Ledger::new()` is a Ledger.
_CONSTRUCTORS = ("new", "default")
_CONSTRUCTOR_PREFIXES = ("new_", "with_")


@dataclass
class Receiver:
    """The type of `a.b` in `a.b.c()`: a root type (as written) and the fields followed from it."""

    root_type: str  # as written: `Ledger`, `fmt::Formatter`, `T`
    fields: list[str] = field(default_factory=list)
    bounds: list[str] | None = None  # for a type parameter (or `impl Trait`): its trait bounds


@dataclass
class Subject:
    name: str  # the identifier as written
    start_byte: int
    end_byte: int
    # definition | local | block item | path | use | type | call | value | method | field | macro
    # | self | generic
    role: str
    abstain: str | None = None  # why nothing may be said about this position
    segments: list[str] = field(default_factory=list)  # path up to the cursor: ["Ledger", "new"]
    binding: Binding | None = None  # for locals
    receiver: Receiver | None = None  # for methods and fields, when its type can be read
    receiver_text: str = ""  # the receiver expression as written, for messages
    owner: str | None = None  # struct named (as written) in `S { f: .. }` / `S { f, .. }`, for fields
    impl_type: str | None = None  # self type of the enclosing impl
    trait_name: str | None = None  # the enclosing trait (for `Self` inside a trait)
    inline_modules: list[str] = field(default_factory=list)  # `mod a { mod b { .. } }` around it
    generic_owner: Node | None = None  # the item declaring a type parameter
    item_node: Node | None = None  # the declaration, for definitions and items declared in blocks
    called: bool = False  # the path is the function of a call: `a::b(..)`
    node: Node | None = None
    # The macro call whose arguments hold the position: its arguments may read as expressions
    # (analysis.macro_args); until they do, `abstain` says why nothing is stated.
    macro_call: Node | None = None
    # For a name a macro call uses to define an item (`mat!(my_test, ..)` with `fn $name`): the
    # item's keyword and the macro's definition (a memory record), set where the rules are read.
    generated: tuple[str, object] | None = None


def ident_at(root: Node, offset: int) -> Node | None:
    """The identifier-like leaf at `offset`, or just before it (a cursor after the last letter)."""
    for probe in (offset, offset - 1):
        if probe < 0:
            continue
        node = root.named_descendant_for_byte_range(probe, probe)
        if node is not None and node.type in _IDENTS and node.start_byte <= probe < node.end_byte:
            return node
    return None


def _nothing_reason(root: Node, offset: int) -> str:
    node = root.descendant_for_byte_range(offset, offset)
    while node is not None:
        kind = node.type
        if kind in ("line_comment", "block_comment"):
            return "the position is inside a comment"
        if "string" in kind or kind == "char_literal":
            return "the position is inside a string literal"
        if kind.endswith("_literal"):
            return "the position is on a literal, not a name"
        if kind == "lifetime":
            return "lifetimes and labels are not explained"
        node = node.parent
    return "no identifier at this position"


def type_path(node: Node | None) -> str | None:
    """A nominal type as written, generics and references dropped: `&mut fmt::Formatter<'_>` ->
    `fmt::Formatter`; None for tuples, slices, `impl Trait`, `dyn Trait`..."""
    while node is not None and node.type in ("reference_type", "generic_type", "mut_pattern", "parenthesized_type"):
        node = node.child_by_field_name("type") if node.type in ("reference_type", "generic_type") else (
            node.named_children[-1] if node.named_children else None)
    if node is None or node.type not in ("type_identifier", "scoped_type_identifier", "primitive_type"):
        return None
    segments = _path_segments(node) if node.type == "scoped_type_identifier" else [text(node)]
    return "::".join(segments) if segments else None


def _bound_names(bounds: Node | None) -> list[str]:
    out = []
    for bound in bounds.named_children if bounds is not None else []:
        named = type_path(bound)
        if named:
            out.append(named.rsplit("::", 1)[-1])
    return out


def _generic_bounds(at: Node, name: str) -> list[str] | None:
    """The trait bounds of type parameter `name` as seen from `at` (`T: A + B`, `where T: C`);
    None when no enclosing item declares such a parameter."""
    node = at.parent
    while node is not None:
        params = node.child_by_field_name("type_parameters")
        for param in params.named_children if params is not None else []:
            if param.type == "type_parameter" and text(param.child_by_field_name("name")) == name:
                bounds = _bound_names(param.child_by_field_name("bounds"))
                for clause in (c for c in node.named_children if c.type == "where_clause"):
                    for predicate in clause.named_children:
                        if text(predicate.child_by_field_name("left")) == name:
                            bounds += _bound_names(predicate.child_by_field_name("bounds"))
                return bounds
        node = node.parent
    return None


def _typed(type_node: Node) -> Receiver | None:
    """A receiver whose type is written: a named type, a type parameter, or `impl Trait`."""
    if type_node.type == "reference_type":
        return _typed(type_node.child_by_field_name("type"))
    if type_node.type in ("abstract_type", "dynamic_type"):
        bounds = _bound_names(type_node) or [n for n in [type_path(type_node.child_by_field_name("trait"))] if n]
        return Receiver(text(type_node), bounds=[b.rsplit("::", 1)[-1] for b in bounds])
    named = type_path(type_node)
    if named is None:
        return None
    bounds = _generic_bounds(type_node, named) if "::" not in named else None
    return Receiver(named, bounds=bounds)


def _value_type(value: Node | None) -> str | None:
    """The type of an initializer when syntax tells it: `S { .. }`, `S::new(..)`, `&mut S::new()`."""
    while value is not None and value.type in ("reference_expression", "parenthesized_expression"):
        value = value.named_children[-1] if value.named_children else None
    if value is None:
        return None
    if value.type == "struct_expression":
        return type_path(value.child_by_field_name("name"))
    if value.type == "call_expression":
        function = value.child_by_field_name("function")
        if function is not None and function.type == "scoped_identifier":
            name = text(function.child_by_field_name("name"))
            path = _path_segments(function.child_by_field_name("path"))
            if path and (name in _CONSTRUCTORS or name.startswith(_CONSTRUCTOR_PREFIXES)):
                return "::".join(path)
    return None


def _path_segments(path: Node | None) -> list[str] | None:
    """`a::b::C` as ["a", "b", "C"]; None for paths we do not read (`<T as Trait>::f`, generics)."""
    if path is None:
        return []
    if path.type in ("identifier", "type_identifier", "self", "crate", "super", "metavariable"):
        return [text(path)]
    if path.type in ("scoped_identifier", "scoped_type_identifier"):
        head = _path_segments(path.child_by_field_name("path"))
        name = path.child_by_field_name("name")
        if head is None or name is None:
            return None
        return head + [text(name)]
    if path.type == "generic_type":
        return _path_segments(path.child_by_field_name("type"))
    return None


def _segments_to(ident: Node) -> list[str] | None:
    """Path segments from the start of the path to the identifier under the cursor."""
    node = ident
    while node.parent is not None and node.parent.type in ("scoped_identifier", "scoped_type_identifier"):
        parent = node.parent
        if parent.child_by_field_name("name") is not None and parent.child_by_field_name("name").id == node.id:
            node = parent
            continue
        break
    # `node` is now the smallest path ending at the identifier.
    return _path_segments(node)


def _use_segments(ident: Node) -> tuple[list[str], bool] | None:
    """For an identifier inside a `use` tree: (full path up to it, is it an alias)."""
    own = _segments_to(ident)
    if own is None:
        return None
    node = ident
    alias = False
    parent = ident.parent
    if parent is not None and parent.type == "use_as_clause":
        if parent.child_by_field_name("alias") is not None and parent.child_by_field_name("alias").id == ident.id:
            alias = True
            own = _path_segments(parent.child_by_field_name("path")) or own
    prefix: list[str] = []
    while node is not None and node.type != "use_declaration":
        if node.type == "scoped_use_list" and node.child_by_field_name("list") is not None and \
                scopes.inside(ident, node.child_by_field_name("list")):
            head = _path_segments(node.child_by_field_name("path"))
            if head is None:
                return None
            prefix = head + prefix
        node = node.parent
    if own and own[0] == "self" and prefix:  # `use a::{self}` names `a`
        own = own[1:]
    return prefix + own, alias


def _receiver(expr: Node | None, subject: Subject) -> Receiver | None:
    """The type of a receiver expression, when syntax and scopes can tell it."""
    if expr is None:
        return None
    if expr.type == "self":
        owner = subject.impl_type or subject.trait_name  # in a trait, `self` has the trait's methods
        return Receiver(owner) if owner else None
    if expr.type == "identifier":
        binding = scopes.find_binding(expr)
        if binding is None:
            return None
        if binding.type_node is not None:
            return _typed(binding.type_node)
        named = _value_type(binding.value)
        return Receiver(named) if named else None
    if expr.type == "field_expression":
        inner = _receiver(expr.child_by_field_name("value"), subject)
        field_node = expr.child_by_field_name("field")
        if inner is None or inner.bounds is not None or field_node is None or field_node.type != "field_identifier":
            return None
        return Receiver(inner.root_type, inner.fields + [text(field_node)])
    named = _value_type(expr)
    return Receiver(named) if named else None


def _context(ident: Node, subject: Subject) -> None:
    """Fill the enclosing impl, trait and inline modules."""
    node = ident.parent
    modules: list[str] = []
    while node is not None:
        if node.type == "impl_item" and subject.impl_type is None:
            written = type_path(node.child_by_field_name("type"))
            subject.impl_type = written.rsplit("::", 1)[-1] if written else None
        elif node.type == "trait_item" and subject.trait_name is None and subject.impl_type is None:
            subject.trait_name = text(node.child_by_field_name("name"))
        elif node.type == "mod_item":
            modules.append(text(node.child_by_field_name("name")))
        node = node.parent
    subject.inline_modules = list(reversed(modules))


def _generic_owner(ident: Node) -> Node | None:
    """The item whose type parameters declare this name (`T` in `fn f<T>(x: T)`), if any."""
    name = text(ident)
    node = ident.parent
    while node is not None:
        params = node.child_by_field_name("type_parameters")
        if params is not None:
            for param in params.named_children:
                declared = param.child_by_field_name("name") or (param.named_children[0] if param.named_children else None)
                if declared is not None and declared.type == "type_identifier" and text(declared) == name:
                    return node
        node = node.parent
    return None


def _enclosing(ident: Node, kinds: set[str], stop: set[str] = frozenset()) -> Node | None:
    node = ident.parent
    while node is not None:
        if node.type in kinds:
            return node
        if node.type in stop:
            return None
        node = node.parent
    return None


def locate(root: Node, offset: int) -> Subject:
    """The subject under the byte offset `offset` of the tree `root`."""
    ident = ident_at(root, offset)
    if ident is None:
        subject = Subject("", offset, offset, "none", abstain=_nothing_reason(root, offset))
        literal = root.descendant_for_byte_range(offset, offset)
        if literal is not None and literal.type == "string_content":
            literal = literal.parent
        if literal is not None and literal.type in ("string_literal", "raw_string_literal") and \
                literal.parent is not None and literal.parent.type == "token_tree":
            subject.macro_call = _enclosing(literal, {"macro_invocation"}, stop={"block", "declaration_list"})
        return subject
    name = text(ident)
    subject = Subject(name, ident.start_byte, ident.end_byte, "none", node=ident)
    _context(ident, subject)
    parent = ident.parent
    pfield = parent.field_name_for_child(_child_index(parent, ident)) if parent is not None else None

    macro = _enclosing(ident, {"token_tree", "token_tree_pattern"}, stop={"block", "declaration_list"})
    if macro is not None:
        owner = _enclosing(macro, {"macro_invocation", "attribute", "macro_definition"})
        if owner is not None and owner.type == "attribute":
            subject.abstain = f"`{name}` is inside an attribute's arguments, which tree-sitter reads as plain tokens"
        elif owner is not None and owner.type == "macro_definition":
            subject.abstain = f"`{name}` is inside a `macro_rules!` template; its meaning depends on each expansion"
        else:
            called = text(owner.child_by_field_name("macro")) if owner is not None else "a macro"
            subject.macro_call = owner
            subject.abstain = (
                f"`{name}` is inside the arguments of `{called}!`; tree-sitter sees macro arguments as "
                "tokens, so what it names is unknown without expanding the macro"
            )
        return subject
    if _enclosing(ident, {"attribute"}) is not None:
        subject.abstain = f"`{name}` is part of an attribute; attributes are not explained"
        return subject
    if ident.type == "primitive_type":
        subject.abstain = f"`{name}` is a built-in primitive type"
        return subject
    if ident.type == "metavariable":
        subject.abstain = f"`{name}` is a macro metavariable; it only has a meaning inside one expansion"
        return subject

    if parent is not None and pfield == "name" and parent.type in _DEFINITIONS:
        subject.role = "definition"
        subject.item_node = parent
        return subject
    if parent is not None and parent.type == "type_parameter" and pfield == "name":
        subject.role = "generic"
        subject.generic_owner = parent.parent.parent if parent.parent is not None else None
        return subject
    if parent is not None and parent.type == "macro_invocation" and pfield == "macro":
        subject.role = "macro"
        return subject
    if _enclosing(ident, {"use_declaration"}, stop={"block"}) is not None:
        found = _use_segments(ident)
        if found is None:
            subject.abstain = "this `use` path has a form that is not resolved (generics or `<T as Trait>`)"
            return subject
        subject.role = "use"
        subject.segments = found[0]
        return subject
    if ident.type in ("crate", "super") or (ident.type == "self" and parent is not None and parent.type in _PATHS):
        subject.role = "path"
        subject.segments = _segments_to(ident) or [name]
        return subject
    if ident.type == "self":
        subject.role = "self"
        return subject
    if name == "Self" and not (parent is not None and parent.type in _PATHS and pfield == "name"):
        subject.role = "self"  # `Self` alone or heading `Self::X`: the impl's type
        return subject
    if parent is not None and parent.type in ("scoped_identifier", "scoped_type_identifier"):
        segments = _segments_to(ident)
        if segments is None:
            subject.abstain = "this path has a form that is not resolved (`<T as Trait>::..` or generic arguments)"
            return subject
        subject.role = "path"
        subject.segments = segments
        bounds = _generic_bounds(ident, segments[0]) if len(segments) == 2 and pfield == "name" else None
        if bounds is not None:  # `R::parse_str(..)` with `R: Read`: a method of R's bounds
            subject.role = "method"
            subject.receiver = Receiver(segments[0], bounds=bounds)
            subject.receiver_text = segments[0]
            return subject
        whole = parent
        while whole.parent is not None and whole.parent.type == "scoped_identifier":
            whole = whole.parent
        call = whole.parent
        subject.called = pfield == "name" and whole.id == parent.id and call is not None and \
            call.type == "call_expression" and call.child_by_field_name("function").id == whole.id
        return subject

    if ident.type == "field_identifier":
        if parent is not None and parent.type == "field_expression":
            subject.receiver_text = text(parent.child_by_field_name("value"))
            subject.receiver = _receiver(parent.child_by_field_name("value"), subject)
            grand = parent.parent
            is_call = grand is not None and grand.type == "call_expression" and \
                grand.child_by_field_name("function") is not None and \
                grand.child_by_field_name("function").id == parent.id
            if grand is not None and grand.type == "generic_function":
                is_call = True
            subject.role = "method" if is_call else "field"
            return subject
        owner = _enclosing(ident, {"struct_expression", "struct_pattern"}, stop={"block"})
        subject.role = "field"
        if owner is not None:
            subject.owner = type_path(owner.child_by_field_name("name") or owner.child_by_field_name("type"))
        return subject
    if ident.type == "shorthand_field_identifier":
        binding = scopes.binding_site(ident)
        subject.role = "local"
        subject.binding = binding
        if binding is None:
            subject.abstain = f"`{name}` is a field pattern whose binding could not be read"
        return subject

    if ident.type == "type_identifier":
        owner = _generic_owner(ident)
        if owner is not None:
            subject.role = "generic"
            subject.generic_owner = owner
            return subject
    else:  # a plain identifier: a local (or its binding site) comes before any item
        binding = scopes.binding_site(ident) or scopes.find_binding(ident)
        if binding is not None:
            subject.role = "local"
            subject.binding = binding
            return subject
    local_item = scopes.block_item(ident)
    if local_item is not None:
        subject.role = "block item"
        subject.item_node = local_item
        return subject
    subject.segments = [name]
    if ident.type == "type_identifier":
        subject.role = "type"
        return subject
    if parent is not None and parent.type == "tuple_struct_pattern" and pfield == "type":
        subject.role = "call"
    elif parent is not None and parent.type == "call_expression" and pfield == "function":
        subject.role = "call"
    elif parent is not None and parent.type == "generic_function":
        subject.role = "call"
    else:
        subject.role = "value"
    return subject


def _child_index(parent: Node, child: Node) -> int:
    for index, candidate in enumerate(parent.children):
        if candidate.id == child.id:
            return index
    return -1
