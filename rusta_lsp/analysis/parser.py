"""tree-sitter-rust parsing of one source file into plain items. No I/O; never raises on input.

Items are found by walking declaration containers only (source file, `mod {}`, impl, trait,
extern blocks, and ERROR nodes so a syntax error keeps the items around it). Referenced
identifiers come from one tree-sitter query over the whole file and are handed to the innermost
item that contains them: walking every expression node in Python would cost several times the
parse itself.
"""

from __future__ import annotations

import dataclasses
import re
import threading

import tree_sitter_rust
from tree_sitter import Language, Node, Parser, Query, QueryCursor

from .model import FileAnalysis, Item, ModDecl, ParseError, Ref
from .positions import LineIndex

RUST = Language(tree_sitter_rust.language())

# Capture name = Ref.kind. Earlier patterns win when one node is captured twice
# (a method name is also a field_identifier of a field_expression).
_REF_QUERY = Query(
    RUST,
    """
    (call_expression function: (identifier) @call)
    (call_expression function: (field_expression field: (field_identifier) @method))
    (call_expression function: (generic_function function: (field_expression field: (field_identifier) @method)))
    (call_expression function: (generic_function function: (identifier) @call))
    (scoped_identifier path: (_) @qualifier name: (identifier) @path)
    (scoped_type_identifier path: (_) @qualifier name: (type_identifier) @type)
    (field_expression field: (field_identifier) @field)
    (shorthand_field_initializer (identifier) @field)
    (field_initializer field: (field_identifier) @field)
    (type_identifier) @type
    (macro_invocation macro: (identifier) @macro)
    (macro_invocation macro: (scoped_identifier name: (identifier) @macro))
    (token_tree (identifier) @token)
    """,
)
_KIND_PRIORITY = {"method": 0, "call": 1, "macro": 2, "path": 3, "field": 4, "type": 5, "token": 6}

_LEAF_ITEMS = {
    "function_item": "fn",
    "function_signature_item": "fn",
    "struct_item": "struct",
    "enum_item": "enum",
    "union_item": "union",
    "const_item": "const",
    "static_item": "static",
    "type_item": "type",
    "associated_type": "type",
    "macro_definition": "macro",
}
_BODY_FIELDS = ("body",)
_TEST_ATTR = re.compile(r"^(?:[\w:]+::)?test\b")
_WS = re.compile(r"\s+")
_ITEM_KEYWORDS = re.compile(r"\b(?:fn|struct|enum|impl|trait|mod|union|type|const|static)\s+[$\w]")
_BLANK = bytes(0x0A if b == 0x0A else 0x20 for b in range(256))
_FRAGMENT = re.compile(r"\$(\w+)\s*:\s*(\w+)")

_local = threading.local()


def _parser() -> Parser:
    # Parsers are not thread-safe; one per thread.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = Parser(RUST)
    return parser


def parse_tree(source: bytes):
    return _parser().parse(source)


def descendants(node):
    """The node and every node under it, in source order."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def ancestors(node):
    """The node and the nodes around it, innermost first."""
    while node is not None:
        yield node
        node = node.parent


def reparse(source: bytes, edited_tree):
    """Parse `source` reusing `edited_tree` (an older tree that `Tree.edit` told of the changes)."""
    return _parser().parse(source, edited_tree)


def skip_reason(source: bytes) -> str | None:
    """Why a file cannot be analysed as Rust text, or None."""
    if b"\x00" in source[:8192]:
        return "binary file (NUL byte)"
    try:
        source.decode("utf-8")
    except UnicodeDecodeError as err:
        return f"not UTF-8 (byte {err.start})"
    return None


def analyze_source(
    source: bytes | str, path: str, module_path: str = "crate", *, test_file: bool = False
) -> FileAnalysis:
    """Items, references and syntax errors of one file. `test_file` marks everything as test code
    (files of `tests/` targets)."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    result = FileAnalysis(path=path, module_path=module_path)
    reason = skip_reason(data)
    if reason:
        result.skipped = reason
        return result
    tree = parse_tree(data)
    index = LineIndex(data)
    result.line_count = index.line_count
    walker = _ItemWalker(data, index, result, test_file)
    walker.walk_container(tree.root_node, module_path, parent=None, in_test=test_file)
    result.module_doc = walker.module_doc
    _collect_errors(tree.root_node, index, result.errors)
    _attach_refs(tree.root_node, data, index, result.items)
    _expand_item_macros(walker, data, result)
    return result


class _ItemWalker:
    def __init__(self, data: bytes, index: LineIndex, result: FileAnalysis, test_file: bool):
        self.data = data
        self.index = index
        self.result = result
        self.module_doc = ""
        # macro_rules! definitions that expand to items, and top-level invocations, by macro name.
        self.item_macros: dict[str, tuple[Node, str]] = {}
        self.invocations: list[tuple[str, Node, str]] = []  # (macro name, token tree, module)

    # --- helpers -------------------------------------------------------------------------

    def text(self, node: Node | None) -> str:
        if node is None:
            return ""
        return self.data[node.start_byte : node.end_byte].decode("utf-8", errors="replace")

    def signature(self, node: Node) -> str:
        """The declaration head: text up to the body or initial value, whitespace collapsed."""
        if node.type == "macro_definition":
            return f"macro_rules! {self.text(node.child_by_field_name('name'))}"
        end = node.end_byte
        for name in ("body", "value"):
            child = node.child_by_field_name(name)
            if child is not None:
                end = child.start_byte
                break
        head = self.data[node.start_byte : end].decode("utf-8", errors="replace")
        head = _WS.sub(" ", head).strip().rstrip("=").rstrip(";").strip()
        return head

    # --- walking -------------------------------------------------------------------------

    def walk_container(self, node: Node, module: str, parent: str | None, in_test: bool,
                       impl_type: str | None = None, trait_name: str | None = None,
                       in_trait: bool = False) -> None:
        docs: list[tuple[str, Node]] = []  # pending outer doc comments (text, comment node)
        attrs: list[tuple[str, Node]] = []  # pending attributes (text without `#[ ]`, node)
        for child in node.named_children:
            kind = child.type
            if kind in ("line_comment", "block_comment"):
                doc = self.doc_text(child)
                if doc is None:
                    continue
                text, inner = doc
                if inner:
                    if node.type == "source_file":
                        self.module_doc += text + "\n"
                    continue
                docs.append((text, child))
                continue
            if kind == "attribute_item":
                attr = self.text(child)[2:-1].strip()
                attrs.append((attr, child))
                doc_value = _doc_attribute(attr)
                if doc_value is not None:
                    docs.append((doc_value, child))
                continue
            if kind == "inner_attribute_item":
                continue
            if kind == "expression_statement" and child.named_child_count == 1:
                child = child.named_children[0]
                kind = child.type
            if kind == "macro_invocation":
                name_node = child.child_by_field_name("macro")
                tree = next((c for c in child.named_children if c.type == "token_tree"), None)
                if name_node is not None and tree is not None:
                    self.invocations.append((self.text(name_node), tree, module))
                docs, attrs = [], []
                continue
            if kind == "ERROR":
                # Keep what the parser recovered inside the error.
                self.walk_container(child, module, parent, in_test, impl_type, trait_name, in_trait)
                docs, attrs = [], []
                continue
            self.item(child, module, parent, in_test, impl_type, trait_name, in_trait, docs, attrs)
            docs, attrs = [], []

    def doc_text(self, node: Node) -> tuple[str, bool] | None:
        """(text, is_inner) for doc comments, None for ordinary comments."""
        head = self.data[node.start_byte : node.start_byte + 4]
        if head[:3] not in (b"///", b"//!", b"/**", b"/*!") or head in (b"////", b"/***"):
            return None
        doc = node.child_by_field_name("doc")
        if doc is None:
            return None
        inner = node.child_by_field_name("inner") is not None
        text = self.text(doc)
        if node.type == "block_comment":
            lines = [re.sub(r"^\s*\*?\s?", "", line) for line in text.splitlines()]
            text = "\n".join(lines).strip()
        else:
            text = text.rstrip("\r\n")
            text = text[1:] if text.startswith(" ") else text
        return text, inner

    def item(self, node: Node, module: str, parent: str | None, in_test: bool,
             impl_type: str | None, trait_name: str | None, in_trait: bool,
             docs: list[tuple[str, Node]], attrs: list[tuple[str, Node]]) -> None:
        kind = node.type
        attr_texts = [a for a, _ in attrs]
        # Doc comments and attributes come first, in either order.
        first = min([node] + [n for _, n in docs[:1] + attrs[:1]], key=lambda n: n.start_byte)
        doc = "\n".join(t for t, _ in docs).strip()
        doc_span = self.index.node_span(docs[0][1], docs[-1][1]) if docs else None
        visibility = ""
        for child in node.named_children:
            if child.type == "visibility_modifier":
                visibility = self.text(child)
                break
        container = parent or module

        def make(item_kind: str, name: str, path: str, name_node: Node | None, **extra) -> Item:
            name_span = name_node if name_node is not None else node
            item = Item(
                kind=item_kind, name=name, path=path, signature=self.signature(node), doc=doc,
                span=self.index.node_span(first, node),
                name_span=self.index.node_span(name_span),
                attrs=attr_texts, parent=container, doc_span=doc_span, visibility=visibility,
                is_test=in_test or any(_TEST_ATTR.match(a) for a in attr_texts),
                **extra,
            )
            self.result.items.append(item)
            return item

        if kind in _LEAF_ITEMS:
            name_node = node.child_by_field_name("name")
            name = self.text(name_node)
            item_kind = _LEAF_ITEMS[kind]
            if item_kind == "fn" and (impl_type or in_trait):
                item_kind = "method"
            owner = f"{module}::{impl_type}" if impl_type else container
            path = f"{owner}::{name}"
            make(item_kind, name, path, name_node, impl_type=impl_type, trait_name=trait_name)
            if kind == "macro_definition" and _ITEM_KEYWORDS.search(self.text(node)):
                self.item_macros[name] = (node, module)
            if kind in ("struct_item", "union_item"):
                self.fields(node.child_by_field_name("body"), path, in_test)
            elif kind == "enum_item":
                self.variants(node.child_by_field_name("body"), path, in_test)
        elif kind == "mod_item":
            name_node = node.child_by_field_name("name")
            name = self.text(name_node)
            path = f"{module}::{name}"
            cfg_test = any(re.fullmatch(r"cfg\s*\(\s*test\s*\)", a) for a in attr_texts)
            in_test = in_test or cfg_test
            make("mod", name, path, name_node)
            body = node.child_by_field_name("body")
            if body is None:
                path_attr = None
                for a in attr_texts:
                    m = re.fullmatch(r'path\s*=\s*"(.*)"', a)
                    if m:
                        path_attr = m.group(1)
                self.result.mod_decls.append(
                    ModDecl(name, self.index.node_span(node), path_attr, cfg_test,
                            parent_module=module)
                )
            else:
                self.walk_container(body, path, parent=None, in_test=in_test)
        elif kind == "impl_item":
            type_node = node.child_by_field_name("type")
            trait_node = node.child_by_field_name("trait")
            self_type = _base_name(self.text(type_node))
            trait = _base_name(self.text(trait_node)) if trait_node is not None else None
            head = f"impl {trait} for {self_type}" if trait else f"impl {self_type}"
            item = make("impl", head, f"{module}::<{head}>", type_node,
                        impl_type=self_type, trait_name=trait)
            body = node.child_by_field_name("body")
            if body is not None:
                self.walk_container(body, module, parent=item.path, in_test=item.is_test,
                                    impl_type=self_type, trait_name=trait)
        elif kind == "trait_item":
            name_node = node.child_by_field_name("name")
            name = self.text(name_node)
            path = f"{container}::{name}"
            item = make("trait", name, path, name_node)
            body = node.child_by_field_name("body")
            if body is not None:
                self.walk_container(body, module, parent=path, in_test=item.is_test, in_trait=True)
        elif kind == "use_declaration":
            argument = node.child_by_field_name("argument")
            for name, target, name_node in _expand_use(self, argument, module):
                make("use", name, f"{container}::{name}", name_node, use_target=target)
        elif kind == "foreign_mod_item":
            body = node.child_by_field_name("body")
            if body is not None:
                self.walk_container(body, module, parent, in_test)

    def fields(self, body: Node | None, owner: str, in_test: bool) -> None:
        if body is None or body.type != "field_declaration_list":
            return
        self._members(body, "field_declaration", "field", owner, in_test)

    def variants(self, body: Node | None, owner: str, in_test: bool) -> None:
        if body is None:
            return
        self._members(body, "enum_variant", "variant", owner, in_test)

    def _members(self, body: Node, node_type: str, kind: str, owner: str, in_test: bool) -> None:
        docs: list[tuple[str, Node]] = []
        attrs: list[str] = []
        for child in body.named_children:
            if child.type in ("line_comment", "block_comment"):
                doc = self.doc_text(child)
                if doc is not None and not doc[1]:
                    docs.append((doc[0], child))
                continue
            if child.type == "attribute_item":
                attrs.append(self.text(child)[2:-1].strip())
                continue
            if child.type != node_type:
                continue
            name_node = child.child_by_field_name("name")
            name = self.text(name_node)
            first = docs[0][1] if docs else child
            visibility = next(
                (self.text(c) for c in child.named_children if c.type == "visibility_modifier"), ""
            )
            self.result.items.append(Item(
                kind=kind, name=name, path=f"{owner}::{name}",
                signature=_WS.sub(" ", self.text(child)).strip(),
                doc="\n".join(t for t, _ in docs).strip(),
                span=self.index.node_span(first, child),
                name_span=self.index.node_span(name_node or child),
                attrs=attrs, parent=owner, is_test=in_test, visibility=visibility,
                doc_span=self.index.node_span(docs[0][1], docs[-1][1]) if docs else None,
            ))
            docs, attrs = [], []


def _expand_item_macros(walker: _ItemWalker, data: bytes, result: FileAnalysis) -> None:
    """Items defined inside `macro_rules!` templates (regex's `define_set!` defines `RegexSet`).

    tree-sitter sees a macro body as a token tree. We re-parse each rule's expansion on its own,
    at its original byte offsets (everything else blanked, `$var` spelt `_var`, so lengths and
    lines are unchanged), then name the items once per invocation in this file, substituting
    `ident` arguments by position. The items' spans point at the template: that is where the
    code is written.
    """
    for macro_name, (definition, module) in walker.item_macros.items():
        calls = [(tree, mod) for name, tree, mod in walker.invocations if name == macro_name]
        for rule in definition.named_children:
            if rule.type != "macro_rule":
                continue
            matcher, body = rule.child_by_field_name("left"), rule.child_by_field_name("right")
            if matcher is None or body is None or body.end_byte - body.start_byte < 3:
                continue
            start, end = body.start_byte + 1, body.end_byte - 1
            blank = bytearray(data.translate(_BLANK))
            blank[start:end] = data[start:end].replace(b"$", b"_")
            params = _FRAGMENT.findall(walker.text(matcher).split("$(", 1)[0])
            template = _ItemWalker(bytes(blank), walker.index, FileAnalysis(result.path, module), False)
            root = parse_tree(bytes(blank)).root_node
            template.walk_container(root, module, None, False)
            _attach_refs(root, bytes(blank), walker.index, template.result.items)
            for tree, call_module in calls:
                args = _macro_args(walker.text(tree))
                subst = {f"_{p}": a for (p, frag), a in zip(params, args)
                         if frag == "ident" and re.fullmatch(r"[A-Za-z_]\w*", a)}
                for item in template.result.items:
                    named = _substitute(item, subst, module, call_module)
                    if named is not None:
                        named.attrs = named.attrs + [f"expanded from {macro_name}!"]
                        result.items.append(named)


def _macro_args(token_tree: str) -> list[str]:
    """Top-level comma-separated arguments of a macro call's token tree."""
    args, depth, current = [], 0, []
    for ch in token_tree[1:-1]:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    args.append("".join(current).strip())
    return args


def _substitute(item: Item, subst: dict[str, str], module: str, call_module: str) -> Item | None:
    """The template item as named by one invocation; None if a name stays a metavariable."""
    def fill(text: str | None) -> str | None:
        if text is None:
            return None
        for var, value in subst.items():
            text = re.sub(rf"\b{re.escape(var)}\b", value, text)
        return text

    path = fill(item.path)
    if call_module != module:
        path = call_module + path[len(module):]
    if re.search(r"(^|::)_\w", path.replace(call_module, "", 1)) and not item.name.startswith("_"):
        return None
    return dataclasses.replace(
        item, name=fill(item.name), path=path, signature=fill(item.signature),
        parent=fill(item.parent), impl_type=fill(item.impl_type), trait_name=fill(item.trait_name),
        use_target=fill(item.use_target), refs=list(item.refs),
    )


def _doc_attribute(attr: str) -> str | None:
    m = re.fullmatch(r'doc\s*=\s*"((?:[^"\\]|\\.)*)"', attr, re.S)
    if m is None:
        return None
    return m.group(1).replace('\\"', '"').replace("\\n", "\n").strip()


def _base_name(type_text: str) -> str:
    """`Ledger<T>` -> `Ledger`, `crate::a::Ledger` -> `Ledger`, `&'a mut [T]` -> `[T]`."""
    text = type_text.strip()
    text = re.sub(r"^&\s*('\w+\s*)?(mut\s+)?", "", text)
    depth = 0
    out = []
    for ch in text:  # drop generic arguments, keeping the head
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    head = "".join(out).strip()
    if head.startswith("dyn "):
        head = head[4:]
    return head.rsplit("::", 1)[-1] if "::" in head and not head.startswith("[") else head


def _resolve_prefix(path: str, module: str) -> str:
    """Resolve `self::`/`super::` in a use path against the module it appears in."""
    parts = path.split("::")
    base = module.split("::")
    if parts[0] == "self":
        return "::".join(base + parts[1:])
    if parts[0] == "super":
        while parts and parts[0] == "super":
            parts.pop(0)
            if len(base) > 1:
                base.pop()
        return "::".join(base + parts)
    return path


def _expand_use(walker: _ItemWalker, node: Node | None, module: str,
                prefix: str = "") -> list[tuple[str, str, Node]]:
    """Flatten a use tree into (bound name, full target path, name node)."""
    if node is None:
        return []
    kind = node.type
    join = (lambda tail: f"{prefix}::{tail}" if prefix else tail)
    if kind in ("identifier", "scoped_identifier", "crate", "self", "super", "metavariable"):
        text = walker.text(node)
        full = join(text)
        last = text.rsplit("::", 1)[-1]
        if last == "self" and prefix:  # `use a::{self}` binds `a`
            full = prefix
            last = prefix.rsplit("::", 1)[-1]
        name_node = node.child_by_field_name("name") or node
        return [(last, _resolve_prefix(full, module), name_node)]
    if kind == "use_as_clause":
        path = walker.text(node.child_by_field_name("path"))
        alias_node = node.child_by_field_name("alias")
        return [(walker.text(alias_node), _resolve_prefix(join(path), module), alias_node)]
    if kind == "use_wildcard":
        inner = walker.text(node)[:-1].rstrip(":")
        full = join(inner) if inner else prefix
        return [("*", _resolve_prefix(f"{full}::*", module), node)]
    if kind == "scoped_use_list":
        path_node = node.child_by_field_name("path")
        new_prefix = join(walker.text(path_node)) if path_node is not None else prefix
        return _expand_use(walker, node.child_by_field_name("list"), module, new_prefix)
    if kind == "use_list":
        out = []
        for child in node.named_children:
            out.extend(_expand_use(walker, child, module, prefix))
        return out
    return []


def _collect_errors(root: Node, index: LineIndex, errors: list[ParseError]) -> None:
    if not root.has_error:
        return
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing:
            errors.append(ParseError(f"missing `{node.type}`", index.span(node.start_byte, node.end_byte)))
            continue
        if node.type == "ERROR":
            snippet = node.text.decode("utf-8", errors="replace")[:40].split("\n")[0] if node.text else ""
            errors.append(ParseError(f"syntax error near `{snippet}`",
                                     index.span(node.start_byte, node.end_byte)))
        stack.extend(child for child in node.children if child.has_error or child.is_missing)
    errors.sort(key=lambda e: e.span.start_byte)


def _attach_refs(root: Node, data: bytes, index: LineIndex, items: list[Item]) -> None:
    """Give every referenced identifier to the innermost item around it."""
    captures = QueryCursor(_REF_QUERY).captures(root)
    qualifiers = {}
    for node in captures.get("qualifier", ()):
        qualifiers[node.end_byte] = data[node.start_byte : node.end_byte].decode("utf-8", "replace")
    best: dict[int, tuple[str, Node]] = {}
    for kind in sorted((k for k in captures if k in _KIND_PRIORITY), key=_KIND_PRIORITY.__getitem__):
        for node in captures[kind]:  # the first kind to claim a node wins
            best.setdefault(node.start_byte, (kind, node))
    # Item names are definitions, not references.
    for item in items:
        best.pop(item.name_span.start_byte, None)
    # Sweep refs and items in source order with a stack of the items open at each offset:
    # items nest or are disjoint, so the top of the stack is the innermost owner.
    owners = sorted((i for i in items if i.kind not in ("use", "mod")),
                    key=lambda i: (i.span.start_byte, -i.span.end_byte))
    stack: list[Item] = []
    next_owner = 0
    ascii_text = index.ascii
    for start in sorted(best):
        while next_owner < len(owners) and owners[next_owner].span.start_byte <= start:
            stack.append(owners[next_owner])
            next_owner += 1
        while stack and stack[-1].span.end_byte <= start:
            stack.pop()
        if not stack:
            continue
        kind, node = best[start]
        # `a::b` qualifier ends with `::` right before the name.
        qualifier = qualifiers.get(start - 2, "") if kind in ("path", "type", "macro") else ""
        row, col = node.start_point
        if ascii_text:
            line, col = row + 1, col + 1
        else:
            pos = index.pos_in_line(row, col)
            line, col = pos.line, pos.col
        name = data[start : node.end_byte].decode("utf-8", "replace")
        stack[-1].refs.append(Ref(name, kind, line, col, start, qualifier))
