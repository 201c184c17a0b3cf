"""Hybrid retrieval: full-text (BM25) and vector search, fused by reciprocal rank fusion.

RRF needs no score calibration between BM25 and cosine similarity: each list contributes
1 / (RRF_K + rank). Items and README passages are ranked together. Without an embedder (or
before vectors are filled in) hybrid quietly degrades to full-text.
"""

from __future__ import annotations

import functools
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields

import numpy as np

from .records import ItemRecord, PassageRecord, SearchHit
from .store import Memory
from .writer import sql_in

log = logging.getLogger(__name__)

RRF_K = 60
MODES = ("hybrid", "fts", "vector")
# Sized so a search's nested lookups never wait on its own outer jobs (3 outer + 2 nested).
_POOL = ThreadPoolExecutor(max_workers=6, thread_name_prefix="rusta-search")
_ITEM_COLUMNS = [f.name for f in fields(ItemRecord)]
_PASSAGE_COLUMNS = [f.name for f in fields(PassageRecord)]
_WORD = re.compile(r"[A-Za-z0-9_]+")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def words(text: str) -> list[str]:
    """Identifiers and their parts: `find_iter` -> find_iter, find, iter; `HashMap` -> hash, map."""
    out: list[str] = []
    for word in _WORD.findall(text):
        out.extend(_with_parts(word))
    return out


@functools.lru_cache(maxsize=65536)  # code repeats its identifiers: split each once
def _with_parts(word: str) -> tuple[str, ...]:
    parts = [p for chunk in word.split("_") for p in _CAMEL.findall(chunk)]
    if len(parts) > 1 or (parts and parts[0] != word):
        return (word, *(p.lower() for p in parts))
    return (word,)


def fts_query(query: str) -> str:
    """The query as plain words, so punctuation in it is never parsed as query syntax."""
    return " ".join(dict.fromkeys(words(query)))


def search(memory: Memory, query: str, k: int = 10, mode: str = "hybrid") -> list[SearchHit]:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    depth = max(k * 3, 20)  # fuse deeper lists than we return
    text = fts_query(query)
    fts = _fts_jobs(memory, text, depth) if mode in ("hybrid", "fts") and text else []
    # All lists at once: LanceDB and torch release the GIL, so latency is the slowest list.
    vector = _POOL.submit(_vector, memory, query, depth) if mode in ("hybrid", "vector") else None
    lists = []
    if fts:
        lists.append(_merge_by_score([job.result() for job in fts], depth))
    if vector is not None:
        lists.append(vector.result())
    fused: dict[tuple, float] = {}
    records: dict[tuple, object] = {}
    for ranked in lists:
        for rank, (kind, record) in enumerate(ranked):
            key = _key(kind, record)
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
            records.setdefault(key, record)
    order = sorted(fused, key=lambda key: -fused[key])[:k]
    return [_hit(records[key], fused[key]) for key in order]


def _key(kind: str, record) -> tuple:
    if isinstance(record, ItemRecord):
        return ("item", record.path, record.qualified, record.start_line)
    return ("passage", record.path, record.start_line)


def _fts_jobs(memory: Memory, text: str, depth: int) -> list:
    """BM25 over items and over passages, as (score, record) lists."""
    jobs = []
    for table, column, columns in (("items", "search_text", _ITEM_COLUMNS),
                                   ("passages", "text", _PASSAGE_COLUMNS)):
        def run(table=table, column=column, columns=columns):
            rows = memory.full_text(table, column, text, columns, depth)
            return [(row["_score"], _record(table, row, columns)) for row in rows]

        jobs.append(_POOL.submit(run))
    return jobs


def _merge_by_score(lists: list[list[tuple[float, tuple]]], depth: int) -> list[tuple[str, object]]:
    """Items and passages in one list by BM25 score (one scorer, so the scores compare)."""
    scored = sorted((pair for ranked in lists for pair in ranked), key=lambda pair: -pair[0])
    return [record for _, record in scored[:depth]]


def _vector(memory: Memory, query: str, depth: int) -> list[tuple[str, object]]:
    embedder = memory.embedder
    if embedder is None or not memory.has_vectors_of(embedder.name) or not embedder.available:
        return []  # no vectors, or vectors of another model
    try:
        vector = embedder.embed([query])[0]
    except Exception as err:  # a broken model must not break full-text search
        log.warning("memory: embedding the query failed: %s", err)
        return []
    matrix = memory.vector_matrix()
    if matrix is None:
        return []
    hashes, vectors = matrix
    if vectors.shape[1] != vector.shape[0]:
        return []
    # Exact cosine search (vectors are unit length): a few ms for tens of thousands of items,
    # where a flat LanceDB scan takes tens of ms and an ANN index would need retraining.
    scores = vectors @ vector
    top = np.argpartition(-scores, min(depth, len(scores) - 1))[:depth]
    top = top[np.argsort(-scores[top])]
    rank = {hashes[i]: r for r, i in enumerate(top)}
    found: list[tuple[int, tuple[str, object]]] = []
    where = sql_in("text_hash", rank)
    jobs = [(table, columns, _POOL.submit(memory.select, table, where, [*columns, "text_hash"]))
            for table, columns in (("items", _ITEM_COLUMNS), ("passages", _PASSAGE_COLUMNS))]
    for table, columns, job in jobs:
        for row in job.result():
            found.append((rank[row.pop("text_hash")], _record(table, row, columns)))
    found.sort(key=lambda pair: pair[0])
    return [pair[1] for pair in found][:depth]


def _record(table: str, row: dict, columns: list[str]) -> tuple[str, object]:
    values = {c: row[c] for c in columns}
    if table == "items":
        return "item", ItemRecord(**values)
    return "passage", PassageRecord(**values)


def _hit(record, score: float) -> SearchHit:
    if isinstance(record, ItemRecord):
        snippet = record.signature or record.qualified
        first_doc = record.doc.strip().split("\n", 1)[0] if record.doc else ""
        if first_doc:
            snippet = f"{snippet}  // {first_doc}"
        return SearchHit("item", record, None, score, _clip(snippet))
    return SearchHit("passage", None, record, score, _clip(" ".join(record.text.split())))


def _clip(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
