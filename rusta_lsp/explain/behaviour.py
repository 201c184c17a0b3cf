"""What the code does: claims read from an item's own text, each anchored to the lines it rests on.

For a function or method, from its body: what it returns (early `return`s, `Err(..)`/`None` and
the condition or arm behind each, `?`, the tail), what it changes (fields of `self`, what its
`&mut` parameters point at, statics), where it may panic (`unwrap`/`expect`, `panic!` and the
assert family, `unreachable!`/`todo!`, indexing, division by a value that may be zero), its
`unsafe` blocks, I/O and process effects, recursion, and the workspace functions it calls, most
called first. For a type: its derives, the workspace's trait impls of it and its constructors.

Read from syntax only, so each claim says what the text shows, never more: "may panic" where an
index could be out of bounds, "calls `parse`" by name. Macro calls whose arguments are
expressions are read through (analysis.macro_args), so `tri!(self.peek())` counts its call.
The item's lines are parsed on their own (a function is a small text) and cached by content.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from tree_sitter import Node

from ..analysis.macro_args import Expansion, Shape, expand
from ..analysis.parser import parse_tree
from ..memory.records import ItemRecord
from .claims import Anchor, Claim, words
from .resolve import is_std_method

FUNCTION_KINDS = {"fn", "method"}
TYPE_KINDS = {"struct", "enum", "union"}
MAX_SITES = 3  # sites named in one claim (the claim says how many more)
MAX_CALLS = 5  # workspace functions named in the calls claim
MAX_EXPANSIONS = 64  # macro calls read through in one body
# Methods of std collections and cells that change their receiver.
MUTATORS = {
    "push", "push_str", "push_back", "push_front", "pop", "pop_back", "pop_front", "insert", "remove",
    "clear", "extend", "extend_from_slice", "truncate", "drain", "retain", "sort", "sort_by",
    "sort_unstable", "dedup", "append", "swap", "take", "replace", "set", "reserve", "resize",
    "swap_remove", "entry", "get_mut", "iter_mut", "write", "write_all", "write_str", "write_fmt",
    "flush", "fill", "reverse", "rotate_left", "rotate_right", "split_off", "shrink_to_fit",
}  # fmt: skip
REPLACERS = ("mem::replace", "mem::swap", "mem::take")  # change the place their first argument points at
PANIC_METHODS = {"unwrap": "`.unwrap()`", "expect": "`.expect(..)`", "unwrap_err": "`.unwrap_err()`",
                 "expect_err": "`.expect_err(..)`"}
PANIC_MACROS = {"panic", "unreachable", "todo", "unimplemented", "assert", "assert_eq", "assert_ne"}
DEBUG_MACROS = {"debug_assert", "debug_assert_eq", "debug_assert_ne"}
PRINT_MACROS = {"print", "println", "eprint", "eprintln", "dbg"}
IO_PATHS = (
    ("std::fs", "the file system"), ("fs::", "the file system"), ("File::", "the file system"),
    ("OpenOptions", "the file system"), ("std::net", "the network"), ("TcpStream", "the network"),
    ("TcpListener", "the network"), ("UdpSocket", "the network"), ("std::process", "processes"),
    ("process::", "processes"), ("Command::new", "processes"), ("io::stdin", "standard input"),
    ("io::stdout", "standard output"), ("io::stderr", "standard error"), ("std::env::set_var", "the environment"),
)  # fmt: skip
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")
_NESTED_ITEMS = {"function_item", "impl_item", "trait_item", "mod_item", "struct_item", "enum_item"}


@dataclass
class _Site:
    line: int
    end_line: int
    needle: str
    text: str = ""


class _Body:
    """A function's text parsed on its own, macro calls that take expressions read through."""

    def __init__(self, text: bytes, first_line: int, shape_of: Callable[[str], Shape | None]):
        self.text = text
        self.first_line = first_line
        self._newlines = [i for i, b in enumerate(text) if b == 10]
        tree = parse_tree(text)
        self.view: Expansion | None = None
        self.macros: list[tuple[str, _Site, str]] = []  # (name, site, first argument) of every call
        self.tree = self._read_macros(tree, shape_of)

    def line(self, offset: int) -> int:
        source = self.view.to_source(offset) if self.view is not None else offset
        return self.first_line + bisect.bisect_left(self._newlines, source)

    def written(self, node: Node, limit: int = 60) -> str:
        """The node's text as the file writes it (macro calls not rewritten), shortened."""
        start, end = self._source(node.start_byte), self._source(node.end_byte)
        return _short(self.text[start:end].decode("utf-8", errors="replace"), limit)

    def site(self, node: Node, needle: str, shown: bool = False) -> _Site:
        """Where `node` sits in the file; `shown`: carry its text as the file writes it."""
        text = self.written(node) if shown else ""
        return _Site(self.line(node.start_byte), self.line(max(node.end_byte - 1, node.start_byte)), needle, text)

    def _read_macros(self, tree, shape_of):
        """Note every macro call, and rewrite those whose arguments are expressions."""
        seen: set[int] = set()
        data = self.text
        for _ in range(MAX_EXPANSIONS):
            call = next((n for n in _walk(tree.root_node) if n.type == "macro_invocation"
                         and self._source(n.start_byte) not in seen), None)
            if call is None:
                break
            seen.add(self._source(call.start_byte))
            name = _text(call.child_by_field_name("macro")).rsplit("::", 1)[-1]
            args = call.named_children[-1] if call.named_children else None
            first = _text(args).lstrip("([{").split(",", 1)[0].strip() if args is not None else ""
            self.macros.append((name, self.site(call, name), first))
            shape = shape_of(name)
            expanded = expand(data, tree, call, shape, outer=self.view) if shape is not None else None
            if expanded is not None:
                self.view, data, tree = expanded, expanded.data, expanded.tree
        return tree

    def _source(self, offset: int) -> int:
        return self.view.to_source(offset) if self.view is not None else offset


@lru_cache(maxsize=512)
def _parsed_body(text: bytes, first_line: int, shapes: tuple) -> _Body:
    known = dict(shapes)
    return _Body(text, first_line, known.get)


def behaviour_claims(item: ItemRecord, lines: list[str], path: str, shapes: dict[str, Shape],
                     workspace_functions: Callable[[str], bool]) -> list[Claim]:
    """Claims about what function `item` does, from its lines in the current text (`lines`, the
    file's lines). `shapes`: the macros whose arguments are expressions, by name;
    `workspace_functions(name)`: whether the workspace defines a function of that name."""
    if item.kind not in FUNCTION_KINDS or not 1 <= item.start_line <= item.end_line <= len(lines):
        return []
    text = "\n".join(lines[item.start_line - 1 : item.end_line]).encode()
    body = _parsed_body(text, item.start_line, tuple(sorted(shapes.items())))
    function = next((n for n in _walk(body.tree.root_node) if n.type == "function_item"
                     and _text(n.child_by_field_name("name")) == item.name), None)
    block = function.child_by_field_name("body") if function is not None else None
    if block is None:
        return []
    reader = _Reader(body, function, block, item, workspace_functions)
    claims: list[Claim] = []
    for make in (reader.changes, reader.errors, reader.panics, reader.io, reader.unsafe_blocks,
                 reader.early_returns, reader.tail, reader.recursion, reader.calls):
        claims += make()
    return [Claim(c.text, [Anchor(path, s.line, s.end_line, "definition", s.needle) for s in c.anchors])
            for c in claims]


@dataclass
class _Said:
    text: str
    anchors: list[_Site]


class _Reader:
    def __init__(self, body: _Body, function: Node, block: Node, item: ItemRecord,
                 workspace_functions: Callable[[str], bool]):
        self.body = body
        self.function = function
        self.block = block
        self.item = item
        self.workspace_functions = workspace_functions
        self.nodes = list(_walk(block, skip=_NESTED_ITEMS))
        # Closures run when called: their effects count, their `return`s are their own.
        self.own = list(_walk(block, skip=_NESTED_ITEMS | {"closure_expression"}))
        self.mut_params = _mut_parameters(function)

    # --- returns -----------------------------------------------------------------------------

    def early_returns(self) -> list[_Said]:
        returns = [n for n in self.own if n.type == "return_expression"]
        returns = [n for n in returns if not _is_error_value(n.named_children[0] if n.named_children else None)]
        if not returns:
            return []
        sites = [self.body.site(n, "return", shown=True) for n in returns]
        return [_said("Returns early", sites, lambda s: f"`{s.text}` on line {s.line}")]

    def errors(self) -> list[_Said]:
        out = []
        for node in self.own:
            value = None
            if node.type == "call_expression" and _text(node.child_by_field_name("function")) == "Err":
                value = node
            elif node.type == "identifier" and _text(node) == "None" and _returned(node, self.block):
                value = node
            if value is None:
                continue
            why = _condition(value, self.block, self.body)
            site = self.body.site(value, "Err" if value.type != "identifier" else "None", shown=True)
            out.append(_Said(f"Returns `{site.text}` on line {site.line}{why}.", [site]))
        tries = [n for n in self.own if n.type == "try_expression"]
        if tries:
            sites = [self.body.site(n, (words(_text(n)) or ["?"])[-1]) for n in tries]
            out.append(_said(f"Passes errors on with `?` at {_count(len(sites), 'place')}", sites,
                             lambda s: f"line {s.line}"))
        tris = [site for name, site, _ in self.body.macros if name == "tri"]  # serde_json's `?`
        if tris:
            out.append(_said(f"Passes errors on with `tri!` at {_count(len(tris), 'place')}", tris,
                             lambda s: f"line {s.line}"))
        return out

    def tail(self) -> list[_Said]:
        last = _tail(self.block)
        if last is None:
            return []
        if _is_error_value(last) or last.type in ("unit_expression",):
            return []
        if last.type in ("match_expression", "if_expression"):
            head = "match" if last.type == "match_expression" else "if"
            site = self.body.site(last, head)
            return [_Said(f"Ends with {'a `match`' if head == 'match' else 'an `if`'} whose value it returns "
                          f"(lines {site.line}-{site.end_line}).", [site])]
        first_word = (words(_text(last)) or [""])[0]
        if not first_word:
            return []
        site = self.body.site(last, first_word, shown=True)
        return [_Said(f"Returns `{site.text}`, its last expression (line {site.line}).", [site])]

    # --- changes -----------------------------------------------------------------------------

    def changes(self) -> list[_Said]:
        fields: dict[str, list[_Site]] = {}
        params: dict[str, list[_Site]] = {}
        statics: dict[str, list[_Site]] = {}
        for node in self.nodes:
            target, whole = None, False  # whole: the place itself is replaced, not just a method run on it
            if node.type in ("assignment_expression", "compound_assignment_expr"):
                target, whole = node.child_by_field_name("left"), True
            elif node.type == "call_expression":
                function = node.child_by_field_name("function")
                arguments = node.child_by_field_name("arguments")
                if function is not None and function.type == "field_expression" and \
                        _text(function.child_by_field_name("field")) in MUTATORS:
                    target = function.child_by_field_name("value")
                elif _text(function).endswith(REPLACERS) and arguments is not None and arguments.named_children:
                    target, whole = arguments.named_children[0], True  # mem::replace(self, ..)
            if target is None:
                continue
            root, path = _place(target)
            if root == "self" and (path or whole):
                place = f"self.{path[0]}" if path else "self"
                fields.setdefault(place, []).append(self.body.site(node, place.replace(".", " ")))
            elif root in self.mut_params:
                params.setdefault(root, []).append(self.body.site(node, root))
            elif root and _CONSTANT.match(root) and node.type != "call_expression":
                statics.setdefault(root, []).append(self.body.site(node, root))
        for node in self.nodes:  # atomics: `COUNTER.fetch_add(1, ..)` changes the static
            if node.type == "call_expression":
                function = node.child_by_field_name("function")
                if function is not None and function.type == "field_expression":
                    value, method = function.child_by_field_name("value"), _text(function.child_by_field_name("field"))
                    if value is not None and value.type == "identifier" and _CONSTANT.match(_text(value)) and \
                            (method == "store" or method.startswith(("fetch_", "compare_exchange", "swap"))):
                        statics.setdefault(_text(value), []).append(self.body.site(node, _text(value)))
        for name, site, first in self.body.macros:  # `write!(out, ..)` writes through `out`
            if name in ("write", "writeln") and first in self.mut_params:
                params.setdefault(first, []).append(site)
        out = [_said(f"Changes `{name}`", sites, lambda s: f"line {s.line}") for name, sites in fields.items()]
        out += [_said(f"Writes through its `&mut` parameter `{name}`", sites, lambda s: f"line {s.line}")
                for name, sites in params.items()]
        out += [_said(f"Changes the static `{name}`", sites, lambda s: f"line {s.line}")
                for name, sites in statics.items()]
        return out

    # --- panics, unsafe, I/O -----------------------------------------------------------------

    def panics(self) -> list[_Said]:
        found: dict[str, list[_Site]] = {}
        for node in self.nodes:
            if node.type == "call_expression":
                function = node.child_by_field_name("function")
                method = _text(function.child_by_field_name("field")) if function is not None and \
                    function.type == "field_expression" else ""
                if method in PANIC_METHODS:
                    field = function.child_by_field_name("field")
                    found.setdefault(PANIC_METHODS[method], []).append(self.body.site(field, method))
            elif node.type == "index_expression":
                index = node.named_children[-1] if node.named_children else None
                if index is not None and not (index.type == "range_expression" and not index.named_children):
                    found.setdefault("indexing out of bounds", []).append(
                        self.body.site(node, (words(_text(node)) or [""])[0], shown=True))
            elif node.type == "binary_expression":
                operator = node.child_by_field_name("operator")
                right = node.child_by_field_name("right")
                if operator is not None and _text(operator) in ("/", "%") and right is not None and \
                        right.type not in ("integer_literal", "float_literal") and not _text(right).endswith("f64"):
                    found.setdefault("division by zero", []).append(
                        self.body.site(node, (words(_text(right)) or [""])[0], shown=True))
        for name, site, _ in self.body.macros:
            if name in PANIC_MACROS:
                found.setdefault(f"`{name}!`", []).append(site)
            elif name in DEBUG_MACROS:
                found.setdefault(f"`{name}!` (debug builds)", []).append(site)
        out = []
        for what, sites in found.items():
            if what == "indexing out of bounds":
                out.append(_said("May panic on an index out of bounds", sites, lambda s: f"`{s.text}` (line {s.line})"))
            elif what == "division by zero":
                out.append(_said("May panic dividing by zero if the divisor is an integer", sites,
                                 lambda s: f"`{s.text}` (line {s.line})"))
            else:
                out.append(_said(f"May panic with {what}", sites, lambda s: f"line {s.line}"))
        return out

    def unsafe_blocks(self) -> list[_Said]:
        sites = [self.body.site(n, "unsafe") for n in self.nodes if n.type == "unsafe_block"]
        return [_said("Has `unsafe` code", sites, lambda s: f"lines {s.line}-{s.end_line}" if s.end_line > s.line
                      else f"line {s.line}")] if sites else []

    def io(self) -> list[_Said]:
        found: dict[str, list[_Site]] = {}
        for node in self.nodes:
            if node.type in ("scoped_identifier", "call_expression") and node.parent is not None and \
                    node.parent.type != "scoped_identifier":
                written = _text(node.child_by_field_name("function")) if node.type == "call_expression" else _text(node)
                for prefix, what in IO_PATHS:
                    if written.startswith(prefix) or f"::{prefix}" in written:
                        found.setdefault(what, []).append(self.body.site(node, words(written)[-1], shown=True))
                        break
        for name, site, _ in self.body.macros:
            if name in PRINT_MACROS:
                target = "standard error" if name in ("eprint", "eprintln", "dbg") else "standard output"
                found.setdefault(f"prints to {target}", []).append(_Site(site.line, site.end_line, name, f"{name}!"))
        out = []
        for what, sites in found.items():
            label = what if what.startswith("prints") else f"uses {what}"
            out.append(_said(f"I/O: {label}", sites, lambda s: f"`{s.text}` (line {s.line})"))
        return out

    # --- calls -------------------------------------------------------------------------------

    def _called(self) -> list[tuple[str, Node, str]]:
        """(name, node, how) of every call in the body: "fn", "path" or "method"."""
        out = []
        for node in self.nodes:
            if node.type != "call_expression":
                continue
            function = node.child_by_field_name("function")
            if function is None:
                continue
            if function.type == "identifier":
                out.append((_text(function), function, "fn"))
            elif function.type == "scoped_identifier":
                out.append((_text(function.child_by_field_name("name")), function, "path:" + _text(function)))
            elif function.type == "field_expression":
                field = function.child_by_field_name("field")
                out.append((_text(field), field, "method:" + _text(function.child_by_field_name("value"))))
            elif function.type == "generic_function":
                inner = function.child_by_field_name("function")
                out.append((_text(inner).rsplit("::", 1)[-1].rsplit(".", 1)[-1], inner, "generic"))
        return out

    def recursion(self) -> list[_Said]:
        name = self.item.name
        method = self.item.kind == "method"
        sites = []
        for called, node, how in self._called():
            if called != name:
                continue
            if (how == "fn" and not method) or how in ("path:Self::" + name, "method:self") or \
                    (how.startswith("path:") and not method and how.endswith("::" + name) and "Self" not in how):
                sites.append(self.body.site(node, name))
        return [_said("Calls itself (recursion)", sites, lambda s: f"line {s.line}")] if sites else []

    def calls(self) -> list[_Said]:
        counts: Counter[str] = Counter()
        first: dict[str, _Site] = {}
        for called, node, how in self._called():
            if called == self.item.name or not called or called[0].isupper():
                continue
            if how.startswith("method:") and is_std_method(called):
                continue  # a std type's method as likely as the workspace's namesake
            if not self.workspace_functions(called):
                continue
            counts[called] += 1
            first.setdefault(called, self.body.site(node, called))
        if not counts:
            return []
        ranked = counts.most_common(MAX_CALLS)
        more = len(counts) - len(ranked)
        listed = ", ".join(f"`{name}` ({_times(n)})" for name, n in ranked)
        return [_Said(f"Calls workspace functions, most called first: {listed}"
                      + (f" and {more} more" if more else "") + ".", [first[name] for name, _ in ranked])]


def type_claims(item: ItemRecord, lines: list[str], path: str, members: list[ItemRecord]) -> list[Claim]:
    """A type's derives (from its attributes), the traits the workspace implements for it and its
    constructors (`members`: the impls and methods of types of its name, from the catalog)."""
    if item.kind not in TYPE_KINDS or not 1 <= item.start_line <= item.end_line <= len(lines):
        return []
    out: list[Claim] = []
    for number in range(item.start_line, item.end_line + 1):
        derive = re.search(r"#\[derive\(([^)]*)\)\]", lines[number - 1])
        if derive:
            names = [d.strip().rsplit("::", 1)[-1] for d in derive.group(1).split(",") if d.strip()]
            out.append(Claim(f"Derives {', '.join(f'`{n}`' for n in names)} (line {number}).",
                             [Anchor(path, number, number, "definition", "derive")]))
    module = item.qualified.rsplit("::", 1)[0]
    own = [m for m in members if m.qualified.startswith(module + "::")] or members
    impls = [m for m in own if m.kind == "impl" and m.trait_name]
    if impls:
        shown = impls[:4]
        more = f" and {len(impls) - 4} more" if len(impls) > 4 else ""
        out.append(Claim(f"The workspace implements {', '.join(f'`{m.trait_name}`' for m in shown)}{more} for it.",
                         [Anchor(m.path, m.start_line, m.end_line, "definition", m.trait_name.rsplit('::', 1)[-1])
                          for m in shown]))
    makers = [m for m in own if m.kind == "method" and not m.trait_name and "self" not in _parameters(m.signature)
              and re.search(rf"->\s*(Self|{re.escape(item.name)})\b", m.signature)]
    if makers:
        shown = makers[:4]
        more = f" and {len(makers) - 4} more" if len(makers) > 4 else ""
        out.append(Claim(f"Made by {', '.join(f'`{m.name}`' for m in shown)}{more}.",
                         [Anchor(m.path, m.start_line, m.end_line, "definition", m.name) for m in shown]))
    return out


# --- helpers ---------------------------------------------------------------------------------


def _said(lead: str, sites: list[_Site], each: Callable[[_Site], str]) -> _Said:
    shown = sites[:MAX_SITES]
    listed = ", ".join(each(s) for s in shown)
    more = f" and {len(sites) - len(shown)} more" if len(sites) > len(shown) else ""
    return _Said(f"{lead}: {listed}{more}.", shown)


def _walk(node: Node, skip: set[str] = frozenset()):
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(c for c in reversed(current.children) if c.type not in skip)


def _text(node: Node | None) -> str:
    return "" if node is None else node.text.decode("utf-8", errors="replace")


def _short(text: str, limit: int = 60) -> str:
    text = re.sub(r"\s+", " ", text).strip().replace("`", "ˋ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _parameters(signature: str) -> str:
    start = signature.find("(")
    return signature[start : signature.find(")", start) + 1] if start >= 0 else ""


def _is_error_value(node: Node | None) -> bool:
    """`Err(..)` or `None`, told by their own claims."""
    if node is None:
        return False
    if node.type == "return_expression":
        node = node.named_children[0] if node.named_children else None
        if node is None:
            return False
    return (node.type == "call_expression" and _text(node.child_by_field_name("function")) == "Err") or \
        (node.type == "identifier" and _text(node) == "None")


def _returned(node: Node, block: Node) -> bool:
    """Whether a value is what the function returns: a `return`'s value, or a tail (of the body,
    of a branch, of a match arm) all the way up to the body."""
    current = node
    while current is not None and current.id != block.id:
        parent = current.parent
        if parent is None:
            return False
        if parent.type == "return_expression":
            return True
        if parent.type == "match_arm" and parent.child_by_field_name("value") is not None and \
                parent.child_by_field_name("value").id == current.id:
            current = parent.parent.parent  # the match expression
            continue
        if parent.type == "block":
            tail = _tail(parent)
            if tail is None or current.id not in (tail.id, tail.parent.id):
                return False
            current = parent if parent.id == block.id else parent.parent
            if current is not None and current.type == "else_clause":
                current = current.parent
            continue
        if parent.type in ("if_expression", "else_clause") or (
                parent.type == "expression_statement" and not _semicolon(parent)):
            current = parent
            continue
        return False
    return current is not None and current.id == block.id


def _semicolon(statement: Node) -> bool:
    return any(c.type == ";" for c in statement.children)


def _tail(block: Node) -> Node | None:
    """The expression a block ends with (its value), or None when it ends with a statement. A
    `match` or `if` at the end parses as a statement without a `;`: its expression is the tail."""
    named = [c for c in block.named_children if c.type not in ("line_comment", "block_comment")]
    if not named:
        return None
    last = named[-1]
    if last.type == "expression_statement" and not _semicolon(last) and last.named_children:
        return last.named_children[0]
    if last.type.endswith(("_statement", "_declaration", "_item")):
        return None
    return last


def _condition(node: Node, block: Node, body: _Body) -> str:
    """When the value is produced: the nearest enclosing `if` condition or `match` arm pattern."""
    current = node.parent
    while current is not None and current.id != block.id:
        if current.type == "match_arm":
            pattern = current.child_by_field_name("pattern")
            return f" in the arm `{body.written(pattern, 50)}`" if pattern is not None else ""
        if current.type == "if_expression":
            condition = current.child_by_field_name("condition")
            consequence = current.child_by_field_name("consequence")
            inside = consequence is not None and consequence.start_byte <= node.start_byte < consequence.end_byte
            if condition is not None:
                return f" when `{body.written(condition, 50)}`" if inside else \
                    f" when not `{body.written(condition, 50)}`"
        if current.type == "closure_expression":
            return ""
        current = current.parent
    return ""


def _place(node: Node | None) -> tuple[str, list[str]]:
    """The root name and the fields of a place expression: `self.a.b[i]` -> ("self", ["a", "b"])."""
    fields: list[str] = []
    while node is not None:
        if node.type == "field_expression":
            fields.insert(0, _text(node.child_by_field_name("field")))
            node = node.child_by_field_name("value")
        elif node.type == "index_expression":
            node = node.named_children[0] if node.named_children else None
        elif node.type in ("unary_expression", "parenthesized_expression", "reference_expression"):
            node = node.named_children[-1] if node.named_children else None
        elif node.type in ("identifier", "self"):
            return _text(node), fields
        else:
            return "", fields
    return "", fields


def _mut_parameters(function: Node) -> set[str]:
    """Names of parameters whose type is `&mut ..`."""
    params = function.child_by_field_name("parameters")
    out = set()
    for param in params.named_children if params is not None else []:
        if param.type != "parameter":
            continue
        kind = param.child_by_field_name("type")
        pattern = param.child_by_field_name("pattern")
        if kind is not None and kind.type == "reference_type" and \
                any(c.type == "mutable_specifier" for c in kind.children) and pattern is not None and \
                pattern.type == "identifier":
            out.add(_text(pattern))
    return out
