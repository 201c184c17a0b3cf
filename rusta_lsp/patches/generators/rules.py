"""(c) Rules for frequent type and ownership errors: borrow, deref, clone, string and numeric
conversions, `mut`, `?`, and misspelt names rustc has no suggestion for.

rustc flags where a mismatch shows, which is not always where it was made: a value bound three
lines up without `.clone()`, a parameter declared `u32`, the other arm of a `match`. So besides
rewriting the flagged expression, the rules rewrite where the types come from: the binding of a
flagged variable (its annotation or its initialiser), the declaration of a flagged field, the
parameter an argument goes to, and the expression the expectation came from. Rules only propose;
verification picks.
"""

from __future__ import annotations

import re
from collections import Counter

from tree_sitter import Query, QueryCursor

from ...analysis.parser import RUST, descendants
from ..candidate import Candidate, Edit, describe
from ..intent import kind_of, osa_distance
from ..diagnostics import Diagnostic, DiagSpan
from . import GenContext

NUMERIC = {
    "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize", "f32", "f64",
}
EXPECTED_FOUND = re.compile(r"expected `(?P<exp>.+?)`, found (?:[a-z ]+ )?`(?P<found>.+?)`")
SIMPLE_EXPR = re.compile(r"[\w:.]+(\(.*\))?|\"[^\"]*\"|'.'")
# Secondary spans that say where the expected type comes from.
EXPECTATION = re.compile(
    r"expected due to this|expected due to the type of this binding|expected because this is `.+`"
    r"|expected `.+` because of return type|expected because of this|this is found to be of type `.+`"
)
HAS_TYPE = re.compile(r"this expression has type `(?P<ty>.+)`")
SUMMED = re.compile(r"a value of type `(?P<exp>.+?)` cannot be (made by summing|made by multiplying|built from) "
                    r"an iterator over elements of type `(?P<found>.+?)`")
DEFINED_HERE = re.compile(r"(function|method|associated function|tuple variant|tuple struct) defined here")
# Errors that name something unknown, and the syntax nodes that name it.
UNKNOWN_NAME_CODES = {"E0220", "E0412", "E0422", "E0425", "E0433", "E0599", "E0609", "E0405", "E0531", "E0532"}
IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
KEYWORDS = {
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl",
    "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static",
    "struct", "super", "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn",
}
MAX_NAMES = 3
RETYPE = "convert_type"  # the kind of a rule that changes a declared type (in a signature: change_signature)
FIELD_QUERY = Query(RUST, "(field_declaration name: (field_identifier) @name)")


# --- rewriting one expression from the type found to the type expected -----------------------


def _prefixed(expr: str) -> str:
    """The operand of a prefix operator: unary expressions bind tighter already (`&*x`)."""
    return expr if SIMPLE_EXPR.fullmatch(expr.lstrip("*&!- ")) else f"({expr})"


def _wrap(expr: str) -> str:
    """Parenthesise an expression unless it is a path, call, field chain or literal."""
    return expr if SIMPLE_EXPR.fullmatch(expr) else f"({expr})"


def _copy(ty: str) -> bool:
    """A type known to be `Copy` from its name alone (numbers, bool, char, shared references)."""
    return ty in NUMERIC or ty in ("bool", "char") or (ty.startswith("&") and not ty.startswith("&mut"))


def _strip_ref(ty: str) -> str:
    return re.sub(r"^&('\w+\s+)?(mut\s+)?", "", ty)


def _conversions(expected: str, found: str, expr: str) -> list[str]:
    """Rewrites of `expr` (typed `found`) into something typed `expected`."""
    e, p = _wrap(expr), _prefixed(expr)
    out = []
    if expected.startswith("&mut ") and _strip_ref(expected) == found:
        out.append(f"&mut {p}")
    elif expected.startswith("&") and _strip_ref(expected) == found:
        out.append(f"&{p}")
    if expected.startswith("&mut ") and found.startswith("&") and _strip_ref(expected) == _strip_ref(found) \
            and expr.startswith("&") and not expr.startswith("&mut"):
        out.append(f"&mut {expr[1:].lstrip()}")
    if expected.startswith("*const "):
        out.append(f"&{p}")  # a reference coerces to a raw pointer
    elif expected.startswith("*mut "):
        out.append(f"&mut {p}")
    if found.startswith("&") and _strip_ref(found) == expected:
        # Moving out of a borrow compiles only for `Copy` types; the rest need a clone.
        out += [f"*{p}", f"{e}.clone()"] if _copy(expected) else [f"{e}.clone()"]
    if expected == "String" and _strip_ref(found) in ("str", "String"):
        out += [f"{e}.to_string()", f"{e}.to_owned()", f"String::from({expr})"]
    if expected == "&str" and found in ("String", "&String"):
        out += [f"{e}.as_str()", f"&{p}"]
    if expected in NUMERIC and found in NUMERIC:
        out += [f"{e}.into()", f"{e} as {expected}", f"{expected}::try_from({expr}).unwrap()"]
    if expected in NUMERIC and _strip_ref(found) in NUMERIC and found.startswith("&"):
        out.append(f"*{p} as {expected}")
    inner = re.fullmatch(r"(Result|Option)<(?P<t>.+?)(, .+)?>", found)
    if inner and inner.group("t") == expected:
        out.append(f"{e}?")
    outer = re.fullmatch(r"(?P<w>Result|Option)<(?P<t>.+?)(, .+)?>", expected)
    if outer and outer.group("t") == found:
        out.append(f"{'Ok' if outer.group('w') == 'Result' else 'Some'}({expr})")
    return out


def _tuple_parts(ty: str) -> list[str] | None:
    """`(A, B<C, D>)` -> ["A", "B<C, D>"]; None for anything but a tuple type."""
    if not (ty.startswith("(") and ty.endswith(")")):
        return None
    parts, depth, start = [], 0, 1
    for i, ch in enumerate(ty[1:-1], 1):
        depth += {"(": 1, "<": 1, "[": 1, ")": -1, ">": -1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(ty[start:i].strip())
            start = i + 1
    parts.append(ty[start:-1].strip())
    return [p for p in parts if p]


def _compatible(expected: str, found: str) -> bool:
    """Types that already agree, as far as the message can tell (`_`, `{integer}` infer)."""
    return expected == found or "_" in (expected, found) or "{" in expected or "{" in found


def _convert(diag: Diagnostic, ctx: GenContext, path: str, node, expected: str, found: str) -> list[Candidate]:
    """Candidates rewriting the expression `node` from `found` to `expected`; a tuple literal
    whose tuple type mismatches is rewritten in the element that differs."""
    if _in_macro(node):
        return []  # tokens of a macro call, not an expression (its declarations are fair game)
    exp_parts, found_parts = _tuple_parts(expected), _tuple_parts(found)
    elements = [c for c in node.named_children if c.type not in ("attribute_item", "line_comment", "block_comment")]
    if node.type == "tuple_expression" and exp_parts and found_parts and len(exp_parts) == len(found_parts) == len(elements):
        out = []
        for element, exp, fnd in zip(elements, exp_parts, found_parts):
            if not _compatible(exp, fnd):
                out += _convert(diag, ctx, path, element, exp, fnd)
        return out
    text = _node_text(node)
    if not text or "\n" in text:
        return []
    return [_replace_node(diag, ctx, path, node, new) for new in _conversions(expected, found, text)]


# --- where a type comes from: bindings, fields, parameters ---------------------------------


def _node_text(node) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _replace_node(diag: Diagnostic, ctx: GenContext, path: str, node, new: str, kind: str | None = None) -> Candidate:
    """Replace a node's text; a shorthand field (`S { x }`) keeps its field name (`S { x: &x }`).
    `kind`: what the rule does, when its text alone does not say (a declared type changed)."""
    if node.parent is not None and node.parent.type == "shorthand_field_initializer" and new != _node_text(node):
        new = f"{_node_text(node)}: {new}"
    edits = (Edit(path, node.start_byte, node.end_byte, new),)
    return Candidate(diag, describe(edits, ctx.contents), edits, "rules", kind=kind_of(edits, ctx, kind))


def _in_macro(node) -> bool:
    """Inside a macro call's token tree: tokens, not expressions; rewriting them is guessing."""
    while node is not None:
        if node.type == "token_tree":
            return True
        node = node.parent
    return False


def _binds(decl, name: str) -> bool:
    pattern = decl.child_by_field_name("pattern")
    return pattern is not None and pattern.type == "identifier" and _node_text(pattern) == name


def _binding(node):
    """The `let` or parameter that binds the identifier `node`: the last one before it in the
    enclosing function (shadowing aside, which verification sorts out)."""
    name, fn = _node_text(node), node.parent
    while fn is not None and fn.type not in ("function_item", "closure_expression"):
        fn = fn.parent
    if fn is None:
        return None
    found = None
    for n in descendants(fn):
        if n.start_byte >= node.start_byte:
            break
        if n.type in ("let_declaration", "parameter") and _binds(n, name):
            found = n
    return found


def _fields(root, name: str):
    """The struct fields named `name` declared in the file (a query: files are large)."""
    for node in QueryCursor(FIELD_QUERY).captures(root).get("name", ()):
        if _node_text(node) == name:
            yield node.parent


def _declaration_types(node):
    """Type nodes declaring the type of the flagged expression: the annotation of a variable's
    binding, or the declared type of a field (`self.len`) in this file."""
    if node.type == "identifier":
        decl = _binding(node)
        return [decl.child_by_field_name("type")] if decl is not None and decl.child_by_field_name("type") else []
    if node.type == "field_expression":
        root = node
        while root.parent is not None:
            root = root.parent
        field = _node_text(node.child_by_field_name("field"))
        return [d.child_by_field_name("type") for d in _fields(root, field)]
    return []


def _from_declaration(diag, ctx, path: str, node, expected: str, found: str) -> list[Candidate]:
    """The flagged variable or field is what it was declared to be, and the declaration is wrong:
    change a declared `found` to `expected`, or convert an unannotated variable's initialiser."""
    if "{" in expected or "_" in expected:
        return []  # `{integer}`, inferred parts: not a type one can write
    if node.type == "identifier":
        decl = _binding(node)
        annotation = decl.child_by_field_name("type") if decl is not None else None
        if annotation is not None:
            if _node_text(annotation) != found:
                return []
            return [_replace_node(diag, ctx, path, annotation, expected, RETYPE)]
        value = decl.child_by_field_name("value") if decl is not None and decl.type == "let_declaration" else None
        return _convert(diag, ctx, path, value, expected, found) if value is not None else []
    return [_replace_node(diag, ctx, path, ty, expected, RETYPE) for ty in _declaration_types(node)
            if _node_text(ty) == found]


def _declared_type(diag, ctx, span: DiagSpan, expected: str, found: str) -> list[Candidate]:
    """The value is right and the expectation wrong: change where `expected` comes from (a type
    annotation, a return type, a variable's or field's declaration) to `found`, or convert the
    expression that set the expectation (another arm of a `match`) to `found`."""
    if "{" in found or "_" in found:
        return []
    node = ctx.node_at(span)
    if node is None:
        return []
    if _node_text(node) == expected:
        return [_replace_node(diag, ctx, span.path, node, found, RETYPE)]
    decl = node if node.type == "let_declaration" else node.parent
    if decl is not None and decl.type == "let_declaration" and node in (decl, decl.child_by_field_name("pattern")):
        ty = decl.child_by_field_name("type")  # `let mut x: T = ...` flagged as the binding
        return [_replace_node(diag, ctx, span.path, ty, found, RETYPE)] if _node_text(ty) == expected else []
    out = [_replace_node(diag, ctx, span.path, ty, found, RETYPE) for ty in _declaration_types(node)
           if _node_text(ty) == expected]
    if node.type not in ("identifier", "field_expression"):
        out += _convert(diag, ctx, span.path, node, found, expected)
    return out


def _parameter_types(diag, ctx, expected: str, found: str) -> list[Candidate]:
    """An argument of the right type for a parameter declared wrong: retype the parameter."""
    if "{" in found or "_" in found:
        return []
    out = []
    for child in diag.children:
        if not DEFINED_HERE.fullmatch(child.message):
            continue
        for span in child.spans:
            node = ctx.node_at(span) if ctx.is_local(span.path) else None
            if node is not None and node.type == "parameter" and _node_text(node.child_by_field_name("type")) == expected:
                out.append(_replace_node(diag, ctx, span.path, node.child_by_field_name("type"), found, RETYPE))
    return out


def _try_scrutinee(diag, ctx) -> list[Candidate]:
    """A pattern checked against a `Result`/`Option` that lost its `?`: put the `?` back."""
    out = []
    for span in diag.spans:
        m = HAS_TYPE.fullmatch(span.label or "")
        if not span.is_primary and m and re.match(r"(Result|Option)<", m.group("ty")) and ctx.is_local(span.path):
            node = ctx.node_at(span)
            if node is not None and not _in_macro(node):
                out.append(_replace_node(diag, ctx, span.path, node, f"{_wrap(_node_text(node))}?"))
    return out


def _mismatch(diag: Diagnostic, ctx: GenContext, span: DiagSpan) -> list[Candidate]:
    """E0308: convert the value, fix its declaration, or fix the expectation."""
    labels = [s.label or "" for s in diag.spans if s.is_primary] + [c.message for c in diag.children]
    m = next(filter(None, (EXPECTED_FOUND.search(label) for label in labels)), None)
    if m is None:
        return _try_scrutinee(diag, ctx)
    expected, found = m.group("exp"), m.group("found")
    node = ctx.node_at(span)
    if node is None:
        return []
    out = _convert(diag, ctx, span.path, node, expected, found)
    out += _from_declaration(diag, ctx, span.path, node, expected, found)
    for other in diag.spans:
        if not other.is_primary and EXPECTATION.fullmatch(other.label or "") and ctx.is_local(other.path):
            out += _declared_type(diag, ctx, other, expected, found)
    out += _parameter_types(diag, ctx, expected, found)
    return out + _try_scrutinee(diag, ctx)


def _aggregate(diag: Diagnostic, ctx: GenContext, span: DiagSpan, wanted: str, items: str) -> list[Candidate]:
    """E0277 `sum`/`product`/`collect` into the wrong type: retype the `let` or the return type
    that asks for a `wanted` out of `items`."""
    out = []
    node = ctx.node_at(span)
    while node is not None and node.type not in ("function_item", "closure_expression"):
        node = node.parent
        ty = node.child_by_field_name("type") if node is not None and node.type == "let_declaration" else None
        if _node_text(ty) == wanted:
            out.append(_replace_node(diag, ctx, span.path, ty, items, RETYPE))
    ret = node.child_by_field_name("return_type") if node is not None and node.type == "function_item" else None
    if _node_text(ret) == wanted:
        out.append(_replace_node(diag, ctx, span.path, ret, items, RETYPE))
    return out


# --- single-site rules ------------------------------------------------------------------------


def _replace(diag: Diagnostic, span: DiagSpan, new: str, ctx: GenContext, kind: str | None = None) -> Candidate:
    edits = (Edit(span.path, span.byte_start, span.byte_end, new),)
    return Candidate(diag, describe(edits, ctx.contents), edits, "rules", kind=kind_of(edits, ctx, kind))


def _mut_binding(diag: Diagnostic, ctx: GenContext) -> list[Candidate]:
    """`let x` → `let mut x` for the binding the error names (E0596, E0384)."""
    name = re.search(r"`(\*?)(?P<n>\w+)`", diag.message)
    span = diag.primary
    if not name or span is None:
        return []
    text = ctx.text(span.path)
    pattern = re.compile(rb"\blet\s+(?!mut\b)(" + re.escape(name.group("n").encode()) + rb")\b")
    found = [m for m in pattern.finditer(text[: span.byte_start])]
    if not found:
        return []
    at = found[-1].start(1)
    edits = (Edit(span.path, at, at, "mut "),)
    return [Candidate(diag, describe(edits, ctx.contents), edits, "rules", kind=kind_of(edits, ctx, "add_mut"))]


def _moved(diag: Diagnostic, ctx: GenContext) -> list[Candidate]:
    """E0382: clone the value where it was moved, or borrow it there."""
    out = []
    for span in diag.spans:
        if span.label and span.label.startswith("value moved here") and ctx.is_local(span.path):
            expr = ctx.span_text(span)
            out.append(_replace(diag, span, f"{_wrap(expr)}.clone()", ctx))
            out.append(_replace(diag, span, f"&{_prefixed(expr)}", ctx))
    return out


def _mutability(diag: Diagnostic, ctx: GenContext, span: DiagSpan, expr: str) -> list[Candidate]:
    """E0053 "types differ in mutability": the impl's reference type takes or drops `mut`."""
    m = re.fullmatch(r"&(?P<lt>'\w+\s+)?(?P<mut>mut\s+)?(?P<rest>.+)", expr, re.S)
    if not m:
        return []
    head = f"&{m.group('lt') or ''}"
    return [_replace(diag, span, f"{head}{m.group('rest')}" if m.group("mut") else f"{head}mut {m.group('rest')}", ctx)]


def _similar_names(diag: Diagnostic, ctx: GenContext, span: DiagSpan, name: str) -> list[Candidate]:
    """An unknown name one or two typos away from a name this file uses: the likeliest few,
    closest and most used first. Only asked when rustc has no suggestion (it has none for, e.g.,
    the associated types of a bound)."""
    if f"`{name}`" not in diag.message or not IDENTIFIER.fullmatch(name) or "crate" in diag.message:
        return []  # a crate that cannot be found is a missing dependency far more often than a typo
    limit = 1 if len(name) <= 4 else 2
    counts = Counter(IDENTIFIER.findall(ctx.text(span.path).decode("utf-8", "replace")))
    near = sorted(
        (d, -n, other) for other, n in counts.items()
        if other != name and other not in KEYWORDS and (d := osa_distance(name, other, limit)) <= limit
    )
    return [_replace(diag, span, other, ctx, "rename_similar") for _, _, other in near[:MAX_NAMES]]


def generate(diag: Diagnostic, ctx: GenContext) -> list[Candidate]:
    span = diag.primary
    if span is None or not ctx.is_local(span.path):
        return []
    if diag.code in ("E0596", "E0384"):
        return _mut_binding(diag, ctx)
    if diag.code == "E0382":
        return _moved(diag, ctx)
    expr = ctx.span_text(span)
    if not expr or "\n" in expr:
        return []
    if diag.code == "E0507":
        return [_replace(diag, span, f"{_wrap(expr)}.clone()", ctx)]
    if diag.code == "E0614" and expr.startswith("*"):
        return [_replace(diag, span, expr[1:], ctx)]
    if diag.code == "E0053" and any(s.label == "types differ in mutability" for s in diag.spans):
        return _mutability(diag, ctx, span, expr)
    if diag.code == "E0277" and (m := SUMMED.search(diag.message)):
        return _aggregate(diag, ctx, span, m.group("exp"), m.group("found"))
    if diag.code in UNKNOWN_NAME_CODES and not diag.suggestions():
        return _similar_names(diag, ctx, span, expr.strip())
    if diag.code == "E0308":
        return _mismatch(diag, ctx, span)
    return []
