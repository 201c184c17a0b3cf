"""From analysis results to memory rows: items, refs and passages of one file."""

from __future__ import annotations

import hashlib
import re

from ..analysis.model import FileAnalysis, Item
from .retrieval import words
from .writer import FileRows

BODY_HEAD_CHARS = 600  # the head of a body says what it does; the model truncates anyway
EMBED_TEXT_CHARS = 1500  # ~256 word pieces: never hand the tokenizer more than it keeps
PASSAGE_MAX_LINES = 30
NOT_EMBEDDED = ("use",)  # imports say nothing a vector would add; their targets are embedded


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def rust_rows(analysis: FileAnalysis, data: bytes, digest: str) -> FileRows:
    items = [_item_row(analysis.path, item, data) for item in analysis.items]
    refs = [
        {
            "path": analysis.path,
            "name": ref.name,
            "kind": ref.kind,
            "qualifier": ref.qualifier,
            "line": ref.line,
            "col": ref.col,
            "end_line": ref.line,
            "end_col": ref.end_col,
            "enclosing": item.path,
            "in_test": item.is_test,
        }
        for item in analysis.items
        for ref in item.refs
    ]
    passages = _module_doc_passage(analysis, data)
    file = {
        "path": analysis.path,
        "hash": digest,
        "kind": "rust",
        "lines": analysis.line_count,
        "items": len(items),
    }
    return FileRows(file=file, items=items, refs=refs, passages=passages)


def _item_row(path: str, item: Item, data: bytes) -> dict:
    doc_span = item.doc_span
    head = data[item.name_span.start_byte : item.span.end_byte][: BODY_HEAD_CHARS * 4]
    body_head = head.decode("utf-8", "replace")[:BODY_HEAD_CHARS]
    embed_text = "\n".join(p for p in (item.path, item.signature, item.doc, body_head) if p)
    embed_text = embed_text[:EMBED_TEXT_CHARS]
    search_text = " ".join([item.name, *words(item.path), *words(item.signature), item.doc])
    return {
        "path": path,
        "qualified": item.path,
        "name": item.name,
        "kind": item.kind,
        "signature": item.signature,
        "doc": item.doc,
        "start_line": item.span.start_line,
        "end_line": item.span.end_line,
        "doc_start_line": doc_span.start_line if doc_span else None,
        "doc_end_line": doc_span.end_line if doc_span else None,
        "is_test": item.is_test,
        "parent": item.parent,
        "impl_type": item.impl_type,
        "trait_name": item.trait_name,
        "visibility": item.visibility,
        "search_text": search_text,
        "embed_text": embed_text,
        "text_hash": "" if item.kind in NOT_EMBEDDED else text_hash(embed_text),
    }


_INNER_DOC = re.compile(rb"^\s*//!")


def _module_doc_passage(analysis: FileAnalysis, data: bytes) -> list[dict]:
    """The `//!` block of a file, as a passage explain can cite for the module."""
    if not analysis.module_doc:
        return []
    lines = [i for i, line in enumerate(data.split(b"\n"), 1) if _INNER_DOC.match(line)]
    if not lines:
        return []  # `#![doc = ...]` only: nothing with a line range to cite
    return [_passage(analysis.path, lines[0], lines[-1], analysis.module_doc)]


def markdown_rows(path: str, text: str, digest: str) -> FileRows:
    """Markdown split at headings and blank lines into passages of at most PASSAGE_MAX_LINES."""
    lines = text.split("\n")
    passages: list[dict] = []
    start = None
    in_fence = False

    def close(end: int) -> None:
        nonlocal start
        if start is not None:
            body = "\n".join(lines[start - 1 : end]).strip()
            if body:
                passages.append(_passage(path, start, end, body))
        start = None

    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        breaks = not in_fence and (stripped.startswith("#") or not stripped)
        if breaks and start is not None and (stripped.startswith("#") or number - start >= 3):
            close(number - 1)  # a heading starts a passage; blank lines end long paragraphs
        if start is None and stripped:
            start = number
        if start is not None and number - start + 1 >= PASSAGE_MAX_LINES:
            close(number)
    close(len(lines))
    file = {"path": path, "hash": digest, "kind": "doc", "lines": len(lines), "items": 0}
    return FileRows(file=file, passages=passages)


def _passage(path: str, start: int, end: int, text: str) -> dict:
    return {"path": path, "start_line": start, "end_line": end, "text": text, "text_hash": text_hash(text)}
