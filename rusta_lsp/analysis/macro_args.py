"""Macro calls whose arguments are expressions, read again as expressions.

tree-sitter sees a macro call's arguments as a flat token tree, so a name inside `format!(..)` or
`assert_eq!(..)` is a token, not an expression. For macros whose arguments are expressions
(`Shape`: std's formatting, assert, `vec!`, `matches!`, `dbg!`, and a `macro_rules!` whose every
rule takes `$e:expr` fragments or passes a `tt` repetition on to such a macro), the call is
rewritten in place into an ordinary expression holding the same argument text, and the file is
re-parsed incrementally. `expand` returns the rewritten text and tree with the map between its
offsets and the original's, so names resolve with the file's scopes around them:

    format!("{name}: {}", total, width = w)
        ->  { let width = w; ({ {name} }, total,) }

A format string's captures (`{name}`, `{:width$}`) become block expressions naming the capture,
and named arguments become `let`s the captures see. Pure: bytes and trees in, bytes and trees out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from tree_sitter import Node, Tree

from .parser import parse_tree, reparse


@dataclass(frozen=True)
class Shape:
    """How a macro's arguments read as expressions."""

    kind: str  # "exprs": comma-separated expressions; "array": `vec!`'s `[a, b]` or `[x; n]`;
    # "match": `matches!`'s expression, then a pattern with an optional `if` guard
    format_at: int | None = None  # the positional argument that is a format string, if any
    # For a macro_rules! whose arguments are only partly expressions (`mat!($name:ident, $re:expr,
    # ..)`): which of the leading comma-separated arguments are; the others stay unread. None: all.
    expressions: tuple[bool, ...] | None = None
    # Leading `$name:ident` arguments the rules use to name an item they define (`fn $name`):
    # the item's keyword per argument ("fn", "struct", ...), None where it is something else.
    defines: tuple[str | None, ...] | None = None
    # The token between one such argument and the next, where it is not a comma (`$d:ident => $v`).
    separators: tuple[str, ...] | None = None


_FORMAT = Shape("exprs", 0)
# The standard library's macros whose arguments are expressions (std, core and alloc alike).
STD_SHAPES = {
    **dict.fromkeys(("format", "print", "println", "eprint", "eprintln", "format_args", "panic",
                     "unreachable", "todo", "unimplemented"), _FORMAT),
    **dict.fromkeys(("write", "writeln", "assert", "debug_assert"), Shape("exprs", 1)),
    **dict.fromkeys(("assert_eq", "assert_ne", "debug_assert_eq", "debug_assert_ne"), Shape("exprs", 2)),
    "dbg": Shape("exprs"), "try": Shape("exprs"), "vec": Shape("array"), "matches": Shape("match"),
}  # fmt: skip
_EXPRESSION_FRAGMENTS = {"expr", "literal"}
ITEM_KEYWORDS = ("fn", "struct", "enum", "mod", "trait", "type", "const", "static", "union")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def text(node: Node | None) -> str:
    return "" if node is None else node.text.decode("utf-8", errors="replace")


# --- which macro_rules! take expressions ------------------------------------------------------


@lru_cache(maxsize=256)
def rules_shape(definition: bytes) -> tuple[Shape | None, str]:
    """(the shape of a `macro_rules!` whose every rule takes expressions, or None and why not).

    `definition` is the text of the `macro_rules!` item. A rule takes expressions when its
    matcher holds only `$x:expr` (or `$x:literal`) fragments and commas, repeated or not, or a
    `$($t:tt)*` that its transcriber hands whole to a macro or call taking expressions."""
    root = parse_tree(definition).root_node
    node = next((n for n in root.named_children if n.type == "macro_definition"), None)
    if node is None:
        return None, "its definition could not be read"
    name = text(node.child_by_field_name("name"))
    rules = [(c.child_by_field_name("left"), c.child_by_field_name("right"))
             for c in node.named_children if c.type == "macro_rule"]
    shapes: set[Shape] = set()
    for matcher, transcriber in rules:
        shape, why = _rule_shape(matcher, transcriber)
        if shape is None:
            partly = _partly_expressions(rules)
            if partly is not None:
                return partly, ""
            return None, f"`{name}!` {why}, so what its arguments become is unknown without expanding it"
        shapes.add(shape)
    if len(shapes) != 1:
        return None, f"`{name}!`'s rules read their arguments in different ways"
    return shapes.pop(), ""


def _partly_expressions(rules: list[tuple[Node | None, Node | None]]) -> Shape | None:
    """Which leading arguments every rule takes as `$x:expr` (or `literal`) fragments, and which
    `$x:ident` arguments every rule uses to name an item it defines (`fn $x`), when each rule
    starts with fragments separated by commas (`($name:ident, $re:expr, $($rest:tt)+)`); rules
    for internal use (`(@step ..)`) aside. None when no argument is either."""
    columns: list[set[str]] = []
    separators: list[str] | None = None
    for matcher, transcriber in rules:
        if matcher is None or transcriber is None:
            return None
        parts = [c for c in matcher.children[1:-1]]
        if parts and text(parts[0]).startswith("@"):
            continue
        fragments, between = [], []
        for number, part in enumerate(parts):
            if number % 2 == 1:
                if part.type in ("token_binding_pattern", "token_repetition_pattern", "token_tree_pattern"):
                    break
                between.append(text(part))
                continue
            following = parts[number + 1] if number + 1 < len(parts) else None
            if part.type != "token_binding_pattern" or (following is not None and following.type in (
                    "token_binding_pattern", "token_repetition_pattern", "token_tree_pattern")):
                break  # an argument is a fragment only when a separator token (or the end) follows it
            fragment = text(part.child_by_field_name("type"))
            if fragment == "ident":
                metavariable = re.escape(text(part.child_by_field_name("name")))
                defined = re.search(rf"\b({'|'.join(ITEM_KEYWORDS)})\s+{metavariable}\b", text(transcriber))
                fragment = f"ident defining {defined.group(1)}" if defined else fragment
            fragments.append(fragment)
        between = between[: max(len(fragments) - 1, 0)]
        if separators is None:
            separators = between
        common = 0  # rules align their arguments only as far as they separate them alike
        while common < min(len(separators), len(between)) and separators[common] == between[common]:
            common += 1
        separators = separators[:common]
        for number, fragment in enumerate(fragments):
            if number == len(columns):
                columns.append(set())
            columns[number].add(fragment)
    columns = columns[: len(separators or []) + 1]
    expressions = tuple(bool(kinds) and kinds <= _EXPRESSION_FRAGMENTS for kinds in columns)
    defines = tuple(next(iter(kinds)).rsplit(" ", 1)[-1] if len(kinds) == 1 and
                    next(iter(kinds)).startswith("ident defining") else None for kinds in columns)
    if not any(expressions) and not any(defines):
        return None
    plain = not separators or all(sep == "," for sep in separators)
    return Shape("exprs", expressions=expressions, defines=defines, separators=None if plain else tuple(separators))


def argument_at(data: bytes, call: Node, offset: int, shape: Shape) -> int | None:
    """The number of the top-level comma-separated argument of `call` holding `offset`."""
    args_node = call.named_children[-1] if call.named_children else None
    if args_node is None or args_node.type != "token_tree" or args_node.child_count < 2:
        return None
    return next((number for number, (start, end) in enumerate(_split(data, args_node, shape))
                 if start <= offset < end), None)


def _rule_shape(matcher: Node | None, transcriber: Node | None) -> tuple[Shape | None, str]:
    if matcher is None or transcriber is None:
        return None, "has a rule that could not be read"
    tt_names: list[str] = []
    for child in matcher.children[1:-1]:  # inside the delimiters
        why = _matcher_part(child, tt_names)
        if why:
            return None, why
    if not tt_names:
        return Shape("exprs"), ""
    if len(tt_names) > 1 or matcher.named_child_count != 1:
        return None, "takes `tt` fragments beside other tokens"
    return _forwarded(transcriber, tt_names[0])


def _matcher_part(node: Node, tt_names: list[str]) -> str:
    """Why this part of a matcher is not an expression list ("" when it is)."""
    if node.type == ",":
        return ""
    if node.type == "token_binding_pattern":
        fragment = text(node.child_by_field_name("type"))
        return "" if fragment in _EXPRESSION_FRAGMENTS else f"takes `{fragment}` fragments"
    if node.type == "token_repetition_pattern":
        inner = [c for c in node.children if c.type not in ("$", "(", ")", "*", "+", "?", ",", ";")]
        if len(inner) == 1 and inner[0].type == "token_binding_pattern" and \
                text(inner[0].child_by_field_name("type")) == "tt":
            tt_names.append(text(inner[0].child_by_field_name("name")))
            return ""
        for child in inner:
            why = _matcher_part(child, tt_names)
            if why:
                return why
        return ""
    return f"matches the token `{text(node)}`"


def _forwarded(transcriber: Node, name: str) -> tuple[Shape | None, str]:
    """The shape a `$($t:tt)*` takes where the transcriber puts it: the whole argument list of a
    std macro taking expressions, or of a call, or a parenthesized list."""
    for repetition in _descendants(transcriber, "token_repetition"):
        if [text(c) for c in repetition.named_children] != [name]:
            continue
        holder = repetition.parent
        if holder is None or holder.type != "token_tree" or holder.named_child_count != 1:
            continue
        before = _previous_tokens(holder, 2)
        if before[-1:] == ["!"]:  # the arguments of another macro: only std's are known here
            if before[0] in STD_SHAPES:
                return STD_SHAPES[before[0]], ""
        elif text(holder).startswith("("):  # a call's arguments or a parenthesized list
            return Shape("exprs"), ""
    return None, "passes its `tt` fragments on to something that is not known to take expressions"


def _previous_tokens(node: Node, count: int) -> list[str]:
    out: list[str] = []
    sibling = node.prev_sibling
    while sibling is not None and len(out) < count:
        out.insert(0, text(sibling))
        sibling = sibling.prev_sibling
    return out


def _descendants(node: Node, kind: str):
    stack = [node]
    while stack:
        node = stack.pop()
        if node.type == kind:
            yield node
        stack.extend(reversed(node.children))


# --- the rewrite -----------------------------------------------------------------------------


@dataclass
class Expansion:
    """A text in which one macro call was rewritten as an expression, with its tree and the map
    back to the text it was made from (`outer`: itself an Expansion, or None for the file)."""

    data: bytes
    tree: Tree
    start: int  # the call's first byte, the same in both texts
    old_end: int  # the call's end in the text it was made from
    new_end: int  # the rewritten call's end here
    # Argument text copied from the original call: (start here, end here, start there).
    pieces: list[tuple[int, int, int]] = field(default_factory=list)
    outer: "Expansion | None" = None

    def _to_outer(self, offset: int) -> int:
        if offset < self.start:
            return offset
        if offset >= self.new_end:
            return offset - self.new_end + self.old_end
        for start, end, there in self.pieces:
            if start <= offset <= end:
                return there + offset - start
        # Text the rewrite added maps to where the next copied argument starts.
        return next((there for start, _, there in self.pieces if start > offset), self.old_end)

    def _from_outer(self, offset: int) -> int | None:
        if offset < self.start:
            return offset
        if offset >= self.old_end:
            return offset - self.old_end + self.new_end
        for start, end, there in self.pieces:
            if there <= offset < there + end - start:
                return start + offset - there
        return None  # punctuation of the call that the rewrite dropped

    def to_source(self, offset: int) -> int:
        """The offset in the original file of an offset in this text."""
        offset = self._to_outer(offset)
        return self.outer.to_source(offset) if self.outer is not None else offset

    def from_source(self, offset: int) -> int | None:
        """The offset here of an offset of the original file; None where the rewrite dropped it."""
        if self.outer is not None:
            offset = self.outer.from_source(offset)
            if offset is None:
                return None
        return self._from_outer(offset)

    def added(self, offset: int) -> bool:
        """Whether the byte at `offset` was written by a rewrite, not copied from the file."""
        if self.start <= offset < self.new_end and not any(s <= offset < e for s, e, _ in self.pieces):
            return True
        return self.outer is not None and self.outer.added(self._to_outer(offset))


class _Writer:
    def __init__(self, data: bytes, start: int):
        self.data = data
        self.start = start
        self.parts: list[bytes] = []
        self.length = 0
        self.pieces: list[tuple[int, int, int]] = []

    def add(self, text_: str) -> None:
        self.parts.append(text_.encode())
        self.length += len(self.parts[-1])

    def copy(self, start: int, end: int) -> None:
        here = self.start + self.length
        self.parts.append(self.data[start:end])
        self.length += end - start
        self.pieces.append((here, here + end - start, start))


def expand(data: bytes, tree: Tree, call: Node, shape: Shape, outer: Expansion | None = None) -> Expansion | None:
    """Rewrite the macro call `call` of `tree` (parsed from `data`) as an expression of `shape`;
    None when its arguments do not split as that shape expects."""
    args_node = call.named_children[-1] if call.named_children else None
    if args_node is None or args_node.type != "token_tree" or args_node.child_count < 2:
        return None
    writer = _Writer(data, call.start_byte)
    if shape.kind == "array":
        writer.add("[")
        writer.copy(args_node.children[0].end_byte, args_node.children[-1].start_byte)
        writer.add("]")
    else:
        if shape.kind == "match":
            args = _top_level_commas(data, args_node)
            if len(args) < 2:
                return None
            writer.add("(match ")
            writer.copy(*args[0])
            writer.add(" { ")
            writer.copy(args[1][0], args[-1][1])
            writer.add(" => () })")
        elif not _write_expressions(writer, data, args_node, shape):
            return None
    new_text = b"".join(writer.parts)
    new_data = data[: call.start_byte] + new_text + data[call.end_byte :]
    edited = tree.copy()
    end_row = call.start_point[0] + new_text.count(b"\n")
    end_col = (len(new_text) - new_text.rfind(b"\n") - 1) if b"\n" in new_text else call.start_point[1] + len(new_text)
    edited.edit(start_byte=call.start_byte, old_end_byte=call.end_byte, new_end_byte=call.start_byte + len(new_text),
                start_point=call.start_point, old_end_point=call.end_point, new_end_point=(end_row, end_col))
    return Expansion(new_data, reparse(new_data, edited), call.start_byte, call.end_byte,
                     call.start_byte + len(new_text), writer.pieces, outer)


def _top_level_commas(data: bytes, args_node: Node) -> list[tuple[int, int]]:
    """The byte ranges between the call's top-level comma tokens (empty ones dropped)."""
    children = args_node.children
    out = []
    start = children[0].end_byte
    for number, child in enumerate(children[1:], 1):
        if child.type == "," or number == len(children) - 1:
            if data[start : child.start_byte].strip():
                out.append((start, child.start_byte))
            start = child.end_byte
    return out


def _split(data: bytes, args_node: Node, shape: Shape) -> list[tuple[int, int]]:
    """The argument ranges, split at the shape's separator tokens (commas when it has none)."""
    if shape.separators is None:
        return _top_level_commas(data, args_node)
    children = args_node.children
    out, start, expected = [], children[0].end_byte, list(shape.separators)
    for number, child in enumerate(children[1:], 1):
        last = number == len(children) - 1
        if last or (expected and data[child.start_byte : child.end_byte].decode("utf-8", "replace") == expected[0]):
            if data[start : child.start_byte].strip():
                out.append((start, child.start_byte))
            start = child.end_byte
            if not last:
                expected.pop(0)
    return out


_PREFIX = b"fn f() { ("


def _expressions(data: bytes, args_node: Node) -> list[Node] | None:
    """The call's arguments parsed as the elements of a tuple, in a snippet of their own (a comma
    inside `HashMap<K, V>` or a closure's `|a, b|` does not split them); None when they do not
    parse as expressions. Node offsets are the snippet's: subtract `len(_PREFIX)`, add the start."""
    children = args_node.children
    inner = data[children[0].end_byte : children[-1].start_byte]
    tree = parse_tree(_PREFIX + inner + b"\n); }")
    if tree.root_node.has_error:
        return None
    body = tree.root_node.named_children[0].child_by_field_name("body")
    statement = body.named_children[0] if body is not None and body.named_children else None
    value = statement.named_children[0] if statement is not None and statement.named_children else None
    if value is None or value.type not in ("tuple_expression", "parenthesized_expression", "unit_expression"):
        return None
    return [c for c in value.named_children if c.type not in ("line_comment", "block_comment", "attribute_item")]


def _write_expressions(writer: _Writer, data: bytes, args_node: Node, shape: Shape) -> bool:
    """`{ let name = value; (positional, ..,) }`, the format string replaced by its captures;
    arguments the macro does not take as expressions become `()`."""
    parsed = _expressions(data, args_node) if shape.separators is None else None
    if parsed is None:
        if shape.expressions is None:
            return False
        writer.add("(")  # arguments that are not expressions need not parse as one
        for number, (start, end) in enumerate(_split(data, args_node, shape)):
            if _is_expression(shape, number):
                writer.copy(start, end)
            else:
                writer.add("()")
            writer.add(",")
        writer.add(")")
        return True
    shift = args_node.children[0].end_byte - len(_PREFIX)
    named = [n for n in parsed if n.type == "assignment_expression" and
             n.child_by_field_name("left") is not None and n.child_by_field_name("left").type == "identifier"]
    writer.add("{ ")
    for node in named:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        writer.add("let ")
        writer.copy(left.start_byte + shift, left.end_byte + shift)
        writer.add(" = ")
        writer.copy(right.start_byte + shift, right.end_byte + shift)
        writer.add("; ")
    writer.add("(")
    positional = [n for n in parsed if all(n.id != m.id for m in named)]
    for number, node in enumerate(positional):
        start, end = node.start_byte + shift, node.end_byte + shift
        if not _is_expression(shape, number):
            writer.add("()")
        elif number == shape.format_at and node.type in ("string_literal", "raw_string_literal"):
            writer.add("{ ")
            for at, name in format_captures(data[start:end]):
                writer.add("{")
                writer.copy(start + at, start + at + len(name.encode()))
                writer.add("} ")
            writer.add("}")
        else:
            writer.copy(start, end)
        writer.add(",")
    writer.add(") }")
    return True


def _is_expression(shape: Shape, number: int) -> bool:
    return shape.expressions is None or (number < len(shape.expressions) and shape.expressions[number])


def format_captures(literal: bytes) -> list[tuple[int, str]]:
    """(byte offset in the literal, name) of every name a format string captures: `{name}`,
    `{name:?}`, and the `name$` of a width or precision (`{:>width$}`, `{:.prec$}`)."""
    content = literal.decode("utf-8", errors="replace")
    out: list[tuple[int, str]] = []
    at = 0
    while at < len(content):
        char = content[at]
        if content.startswith(("{{", "}}"), at):
            at += 2
            continue
        if char != "{":
            at += 1
            continue
        close = content.find("}", at)
        if close < 0:
            break
        spec = content[at + 1 : close]
        argument, _, options = spec.partition(":")
        found = _IDENT.fullmatch(argument.strip())
        if found:
            out.append((len(content[: at + 1 + argument.index(found.group(0))].encode()), found.group(0)))
        for match in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)\$", options):
            offset = at + 1 + len(argument) + 1 + match.start(1)
            out.append((len(content[:offset].encode()), match.group(1)))
        at = close + 1
    return out
