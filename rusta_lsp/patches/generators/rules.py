"""(c) Rules for frequent type and ownership errors: borrow, deref, clone, string and numeric
conversions, `mut`, `?`. Each rule rewrites the primary span's expression; verification picks."""

from __future__ import annotations

import re

from ..candidate import Candidate, Edit, describe
from ..diagnostics import Diagnostic, DiagSpan
from . import GenContext

NUMERIC = {
    "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128", "usize", "f32", "f64",
}
EXPECTED_FOUND = re.compile(r"expected `(?P<exp>.+?)`, found `(?P<found>.+?)`")
SIMPLE_EXPR = re.compile(r"[\w:.]+(\(.*\))?|\"[^\"]*\"|'.'")


def _wrap(expr: str) -> str:
    """Parenthesise an expression unless it is a path, call, field chain or literal."""
    return expr if SIMPLE_EXPR.fullmatch(expr) else f"({expr})"


def _strip_ref(ty: str) -> str:
    return re.sub(r"^&('\w+\s+)?(mut\s+)?", "", ty)


def _conversions(expected: str, found: str, expr: str) -> list[str]:
    """Rewrites of `expr` (typed `found`) into something typed `expected`."""
    e = _wrap(expr)
    out = []
    if expected.startswith("&mut ") and _strip_ref(expected) == found:
        out.append(f"&mut {e}")
    elif expected.startswith("&") and _strip_ref(expected) == found:
        out.append(f"&{e}")
    if found.startswith("&") and _strip_ref(found) == expected:
        out += [f"*{e}", f"{e}.clone()"]
    if expected == "String" and _strip_ref(found) in ("str", "String"):
        out += [f"{e}.to_string()", f"{e}.to_owned()", f"String::from({expr})"]
    if expected == "&str" and found in ("String", "&String"):
        out += [f"{e}.as_str()", f"&{e}"]
    if expected in NUMERIC and found in NUMERIC:
        out += [f"{e}.into()", f"{e} as {expected}", f"{expected}::try_from({expr}).unwrap()"]
    if expected in NUMERIC and _strip_ref(found) in NUMERIC and found.startswith("&"):
        out.append(f"*{e} as {expected}")
    inner = re.fullmatch(r"(Result|Option)<(?P<t>.+?)(, .+)?>", found)
    if inner and inner.group("t") == expected:
        out.append(f"{e}?")
    outer = re.fullmatch(r"(?P<w>Result|Option)<(?P<t>.+?)(, .+)?>", expected)
    if outer and outer.group("t") == found:
        out.append(f"{'Ok' if outer.group('w') == 'Result' else 'Some'}({expr})")
    return out


def _replace(diag: Diagnostic, span: DiagSpan, new: str, ctx: GenContext) -> Candidate:
    edits = (Edit(span.path, span.byte_start, span.byte_end, new),)
    return Candidate(diag, describe(edits, ctx.contents), edits, "rules")


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
    return [Candidate(diag, describe(edits, ctx.contents), edits, "rules")]


def _moved(diag: Diagnostic, ctx: GenContext) -> list[Candidate]:
    """E0382: clone the value where it was moved, or borrow it there."""
    out = []
    for span in diag.spans:
        if span.label and span.label.startswith("value moved here") and ctx.is_local(span.path):
            expr = ctx.span_text(span)
            out.append(_replace(diag, span, f"{_wrap(expr)}.clone()", ctx))
            out.append(_replace(diag, span, f"&{_wrap(expr)}", ctx))
    return out


def _declared_type(diag: Diagnostic, expected: str, found: str, ctx: GenContext) -> list[Candidate]:
    """The value may be right and the declaration wrong: change the type the expectation comes
    from (`let x: u32 = ...`, a return type) to the type found."""
    if "{" in found or "_" in found:
        return []  # `{integer}`, `[closure@...]`, inferred parts: not a type one can write
    out = []
    for span in diag.spans:
        label = span.label or ""
        declared = label == "expected due to this" or label.endswith("because of return type")
        if not span.is_primary and declared and ctx.is_local(span.path) and ctx.span_text(span) == expected:
            out.append(_replace(diag, span, found, ctx))
    return out


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
    labels = [s.label or "" for s in diag.spans if s.is_primary] + [c.message for c in diag.children]
    out = []
    for label in labels:
        m = EXPECTED_FOUND.search(label)
        if m:
            for new in _conversions(m.group("exp"), m.group("found"), expr):
                out.append(_replace(diag, span, new, ctx))
            out += _declared_type(diag, m.group("exp"), m.group("found"), ctx)
            break
    return out
