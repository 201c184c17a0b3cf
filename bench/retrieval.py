"""Retrieval latency and quality on the >=100k-line corpus, next to floors measured in this run.

    python bench/retrieval.py     (QUERIES=200; the first run embeds the corpus, later runs reuse it)

1. latency p50/p95 of symbol lookup (by name, by path suffix, references) and of full-text and
   hybrid search, each next to its floor: the bare LanceDB query with the same filter, and for
   hybrid the bare query embedding plus a bare full-text query (goal: p95 <= 20 ms);
2. quality: recall@5 of hybrid against full-text only, on queries generated from the corpus
   (query: the first sentence of an item's doc comment; target: that item). Hybrid must win.
The memory lives in bench/out/ and is brought up to date incrementally on every run.
"""

from __future__ import annotations

import os
import random
import re
import time

from memory_corpus import OUT, corpus_workspace, machine, ms, p50_p95, rust_lines

from rusta_lsp.memory.embedder import Embedder
from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.retrieval import fts_query, search
from rusta_lsp.memory.store import Memory
from rusta_lsp.memory.writer import sql_str

QUERIES = int(os.environ.get("QUERIES", "200"))
K = 5
_SENTENCE = re.compile(r"(.+?[.!?])(\s|$)", re.S)


def first_sentence(doc: str) -> str:
    text = " ".join(doc.split("\n\n", 1)[0].split())
    match = _SENTENCE.match(text)
    return match.group(1) if match else text


def query_set(memory: Memory) -> list[tuple[str, tuple]]:
    rows = memory.select("items", "doc != '' AND kind != 'use'", ["path", "qualified", "start_line", "doc"])
    candidates = []
    for row in rows:
        sentence = first_sentence(row["doc"])
        if len(sentence.split()) >= 4 and "`" not in sentence[:1]:
            candidates.append((sentence, (row["path"], row["qualified"], row["start_line"])))
    random.Random(11).shuffle(candidates)
    return candidates[:QUERIES]


def timed(fn, args_list) -> list[float]:
    out = []
    for args in args_list:
        start = time.perf_counter()
        fn(*args)
        out.append(time.perf_counter() - start)
    return out


def line(label: str, ours: list[float], floor: list[float], goal: float = 0.020) -> None:
    p50, p95 = p50_p95(ours)
    f50, f95 = p50_p95(floor)
    print(f"[latency] {label:24} p50 {ms(p50)}  p95 {ms(p95)}   floor p50 {ms(f50)}  p95 {ms(f95)}"
          f"   (goal p95 <= {goal * 1000:.0f} ms: {'met' if p95 <= goal else 'NOT met'})")


def latency(memory: Memory, queries: list[tuple[str, tuple]], embedder: Embedder) -> None:
    names = [(q[1].rsplit("::", 1)[-1],) for _, q in queries]
    suffixes = [("::".join(q[1].split("::")[-2:]),) for _, q in queries]
    texts = [(text,) for text, _ in queries]
    items = memory._read_table("items")
    refs = memory._read_table("refs")

    def bare(table, column):
        return lambda value: table.search().where(f"{column} = {sql_str(value)}").limit(1 << 30).to_arrow()

    def bare_fts(text):
        return items.search(fts_query(text), query_type="fts", fts_columns="search_text").limit(15).to_arrow()

    def bare_hybrid(text):
        embedder.embed([text])
        bare_fts(text)

    for fn, args in ((memory.lookup_name, names), (lambda t: search(memory, t), texts)):  # warm caches
        timed(fn, args[:5])
    line("lookup_name", timed(memory.lookup_name, names), timed(bare(items, "name"), names))
    line("lookup_suffix", timed(memory.lookup_suffix, suffixes), timed(bare(items, "name"), names))
    line("references", timed(memory.references, names), timed(bare(refs, "name"), names))
    line("tests_referencing", timed(memory.tests_referencing, names), timed(bare(refs, "name"), names))
    line("search fts", timed(lambda t: search(memory, t, k=K, mode="fts"), texts), timed(bare_fts, texts))
    line("search hybrid", timed(lambda t: search(memory, t, k=K), texts), timed(bare_hybrid, texts))


def quality(memory: Memory, queries: list[tuple[str, tuple]]) -> None:
    recalls = {}
    for mode in ("fts", "vector", "hybrid"):
        found = 0
        for text, target in queries:
            hits = search(memory, text, k=K, mode=mode)
            found += any(h.item and (h.item.path, h.item.qualified, h.item.start_line) == target for h in hits)
        recalls[mode] = found / len(queries)
    print(f"[quality] {len(queries)} queries (first sentence of a doc comment -> its item), recall@{K}: "
          f"full-text {recalls['fts']:.1%}, vector {recalls['vector']:.1%}, hybrid {recalls['hybrid']:.1%} "
          f"(hybrid must beat full-text: {'met' if recalls['hybrid'] > recalls['fts'] else 'NOT met'})")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    root = corpus_workspace()
    print(f"machine: {machine()}")
    print(f"corpus: {root} ({rust_lines(root):,} lines of Rust)")
    embedder = Embedder()
    with Memory.open(str(OUT / "memory-corpus-memory"), root, embedder=embedder) as memory:
        start = time.perf_counter()
        result = Ingestor(memory, root, embedder=embedder).run()
        print(f"memory: {result.files} files, {result.items} items, {result.embedded} embedded "
              f"(brought up to date in {time.perf_counter() - start:.0f} s, device {embedder.device})")
        queries = query_set(memory)
        latency(memory, queries, embedder)
        quality(memory, queries)


if __name__ == "__main__":
    main()
