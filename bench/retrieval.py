"""Retrieval latency and quality on the >=100k-line corpus, next to floors measured in this run.

    python bench/retrieval.py     (QUERIES=200; the first run embeds the corpus, later runs reuse it)

1. latency p50/p95 of symbol lookup (by name, by path suffix, references) and of full-text and
   hybrid search, each next to its floor: the bare LanceDB query with the same filter, and for
   hybrid the bare query embedding plus a bare full-text query (goal: p95 <= 20 ms);
2. quality: recall@5 of full-text, vector and hybrid search on three query sets, each with a
   target no code of ours decides:
   - doc: the first sentence of an item's doc comment; target: that item;
   - call site: a line of the corpus that calls a function or method whose name no other
     function or method of the corpus, nor of Rust's standard library (Debian's rust-src), has,
     from another file of the same crate; so the callee is known without name resolution
     (calls into a dependency outside the corpus of the same name are the one blind spot);
     target: the callee;
   - changelog: an entry of a corpus crate's own CHANGELOG.md (regex and tokio ship one; tokio's
     entries are its pull requests' titles, regex's say what a pull request changed: what a
     commit message says), links and issue numbers removed; targets: the items of that crate
     its code spans name (`ReadHalf::unsplit`, `replacen`; one-word spans of three letters or
     fewer, `std` or `io`, name no item), where the crate still has them, outside its tests.
   Hybrid must beat full-text on each.
The memory lives in bench/out/ and is brought up to date incrementally on every run.
"""

from __future__ import annotations

import os
import random
import re
import sys
import time
from pathlib import Path

from memory_corpus import OUT, corpus_workspace, machine, ms, p50_p95, rust_lines

from rusta_lsp.memory.embedder import Embedder
from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.retrieval import fts_query, search
from rusta_lsp.memory.store import Memory
from rusta_lsp.memory.writer import sql_str

QUERIES = int(os.environ.get("QUERIES", "200"))
RUST_SRC = Path("/usr/lib/rustlib/src/rust/library")  # Debian's rust-src
K = 5
_SENTENCE = re.compile(r"(.+?[.!?])(\s|$)", re.S)


def first_sentence(doc: str) -> str:
    text = " ".join(doc.split("\n\n", 1)[0].split())
    match = _SENTENCE.match(text)
    return match.group(1) if match else text


KEY = ["path", "qualified", "start_line"]
Query = tuple[str, tuple[tuple, ...]]  # (text, the keys of the items that answer it)


def doc_queries(memory: Memory) -> list[Query]:
    rows = memory.select("items", "doc != '' AND kind != 'use'", [*KEY, "doc"])
    candidates = []
    for row in rows:
        sentence = first_sentence(row["doc"])
        if len(sentence.split()) >= 4 and "`" not in sentence[:1]:
            candidates.append((sentence, ((row["path"], row["qualified"], row["start_line"]),)))
    random.Random(11).shuffle(candidates)
    return candidates[:QUERIES]


def std_function_names() -> set[str]:
    """Every `fn` name in the standard library's sources (core, alloc, std)."""
    if not RUST_SRC.is_dir():
        sys.exit(f"{RUST_SRC} missing: apt-get install rust-src (the call-site queries need std's names)")
    names: set[str] = set()
    for part in ("core", "alloc", "std"):
        for path in (RUST_SRC / part).rglob("*.rs"):
            names.update(re.findall(r"\bfn\s+([A-Za-z_]\w*)", path.read_text(errors="replace")))
    return names


def call_site_queries(memory: Memory, root: Path) -> list[Query]:
    functions = memory.select("items", "kind IN ('fn', 'method')", [*KEY, "name"])
    by_name: dict[str, list[dict]] = {}
    for row in functions:
        by_name.setdefault(row["name"], []).append(row)
    std = std_function_names()
    callee = {name: rows[0] for name, rows in by_name.items()
              if len(rows) == 1 and len(name) > 3 and name not in std}
    calls = memory.select("refs", "kind IN ('call', 'method')", ["path", "name", "line"])
    lines: dict[str, list[str]] = {}
    candidates, seen = [], set()
    for ref in sorted(calls, key=lambda r: (r["path"], r["line"], r["name"])):
        target = callee.get(ref["name"])
        if target is None or target["path"] == ref["path"] or crate_of(target["path"]) != crate_of(ref["path"]):
            continue
        if ref["path"] not in lines:
            lines[ref["path"]] = (root / ref["path"]).read_text(errors="replace").splitlines()
        text = " ".join(lines[ref["path"]][ref["line"] - 1].split())
        if len(text) >= 12 and text not in seen:
            seen.add(text)
            candidates.append((text, ((target["path"], target["qualified"], target["start_line"]),)))
    random.Random(11).shuffle(candidates)
    return candidates[:QUERIES]


_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")  # [text](url) -> text
_ISSUE = re.compile(r"\(?\[?#\d+\]?\)?|\b(?:BUG|FEATURE|PERF)\s*:?")
_CODE_PATH = re.compile(r"`((?:[A-Za-z_]\w*::)*[A-Za-z_]\w*)(?:\(\))?`")


def changelog_entries(text: str) -> list[str]:
    """The bullet entries of a CHANGELOG.md, each joined into one line."""
    entries: list[list[str]] = []
    for line in text.splitlines():
        if re.match(r"^ {0,3}[-*] ", line):
            entries.append([line.strip()[2:]])
        elif entries and line.startswith("  ") and line.strip() and not line.lstrip().startswith(("-", "*")):
            entries[-1].append(line.strip())
        elif not line.strip() and entries and entries[-1]:
            entries.append([])
    return [" ".join(e) for e in entries if e]


def crate_of(path: str) -> str:
    return path.split("/", 1)[0]


def changelog_queries(memory: Memory, root: Path) -> list[Query]:
    out = []
    for changelog in sorted(root.glob("*/CHANGELOG.md")):
        crate = changelog.parent.name
        for entry in changelog_entries(changelog.read_text(errors="replace")):
            targets = set()
            for span in _CODE_PATH.findall(entry):
                if "::" not in span and len(span) <= 3:
                    continue
                for item in memory.lookup_suffix(span):
                    parts = item.path.split("/")
                    if parts[0] == crate and parts[1] not in ("tests", "benches", "examples") and item.kind != "use":
                        targets.add((item.path, item.qualified, item.start_line))
            text = " ".join(_ISSUE.sub("", _LINK.sub(r"\1", entry)).replace("`", "").split()).strip(" :")
            if targets and len(text.split()) >= 3:
                out.append((text, tuple(sorted(targets))))
    return out


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


def latency(memory: Memory, queries: list[Query], embedder: Embedder) -> None:
    names = [(targets[0][1].rsplit("::", 1)[-1],) for _, targets in queries]
    suffixes = [("::".join(targets[0][1].split("::")[-2:]),) for _, targets in queries]
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


def quality(memory: Memory, label: str, queries: list[Query]) -> None:
    recalls = {}
    for mode in ("fts", "vector", "hybrid"):
        found = 0
        for text, targets in queries:
            hits = search(memory, text, k=K, mode=mode)
            found += any(h.item and (h.item.path, h.item.qualified, h.item.start_line) in targets for h in hits)
        recalls[mode] = found / len(queries) if queries else 0.0
    print(f"[quality] {len(queries)} queries ({label}), recall@{K}: "
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
        queries = doc_queries(memory)
        latency(memory, queries, embedder)
        quality(memory, "doc: first sentence of a doc comment -> its item", queries)
        quality(memory, "call site: a line calling a uniquely named function -> the callee",
                call_site_queries(memory, root))
        quality(memory, "changelog: a CHANGELOG.md entry -> the items its code spans name",
                changelog_queries(memory, root))


if __name__ == "__main__":
    main()
