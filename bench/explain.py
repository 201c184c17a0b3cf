"""Explain: hover latency through a real LSP client, anchor validity, abstention and accuracy.

    python bench/explain.py [--hovers 300] [--checks 200] [--seed 0]

Corpus: the >=100k-line workspace of Debian crates shared with the memory benchmarks
(bench/memory_corpus.py), indexed once into bench/out/explain-memory (full text, no vectors).

1. Hover latency, client to server over stdio (`rusta serve`, a pygls client), after ingest, at
   random identifiers of random files opened the way an editor opens them. Floor, same run, same
   documents: a hover on a position with nothing to explain (the blank end of a line): the
   round trip, the executor hop and the position conversion without resolution. Two rounds with
   different positions (goal: p95 <= 30 ms).
2. Anchor validity over `--checks` random identifiers through `rusta/explain`: every anchor's
   file exists, its range lies inside the file, and its text holds the symbol (doc anchors: the
   lines are doc comments). Checked here, independently of the server's verifier (goal: 100%).
3. Abstention rate (with reasons) and definition accuracy against the analysis: at definition
   sites the anchor must be the item itself; at references whose name belongs to exactly one
   item of a compatible kind in the whole workspace, a stated definition must be that item;
   every stated definition must start at an analysed item with that name and qualified path.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

from memory_corpus import OUT, corpus_workspace, machine, ms, p50_p95, rust_lines

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from explain_support import plain  # noqa: E402

from rusta_lsp.analysis.positions import LineIndex
from rusta_lsp.analysis.workspace import analyze_workspace
from rusta_lsp.explain.locate import ident_at
from rusta_lsp.explain.resolve import CALL_KINDS, PATH_KINDS, TYPE_KINDS
from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.store import Memory
from rusta_lsp.analysis.parser import parse_tree

MEMORY = OUT / "explain-memory"
DOC_PREFIXES = ("///", "//!", "/**", "/*!", "*", "#[doc", "#![doc")
# Which item kinds a reference of each analysis kind may name (a struct pattern's `type` may be a variant).
REF_KINDS_FOR = {"call": CALL_KINDS, "type": TYPE_KINDS | {"variant"}, "path": PATH_KINDS,
                 "method": {"method"}, "field": {"field"}}


def sample_positions(root: Path, analyses, count: int, seed: int) -> list[tuple[str, int, int, int, int]]:
    """(rel, byte offset, line0, utf16 char, 1-based line) of random identifiers in random files."""
    rng = random.Random(seed)
    files = [a for a in analyses if not a.skipped]
    out = []
    while len(out) < count:
        analysis = rng.choice(files)
        data = (root / analysis.path).read_bytes()
        if not data:
            continue
        tree = parse_tree(data)
        index = LineIndex(data)
        for _ in range(40):
            offset = rng.randrange(len(data))
            node = ident_at(tree.root_node, offset)
            if node is not None:
                line0, char = index.utf16(node.start_byte + (node.end_byte - node.start_byte) // 2)
                out.append((analysis.path, node.start_byte, line0, char, line0 + 1))
                break
    return out


def blank_position(text_lines: list[str], line0: int) -> tuple[int, int]:
    """The end of the nearest line that ends in whitespace or is empty: nothing to explain there."""
    for delta in range(0, len(text_lines)):
        for candidate in (line0 - delta, line0 + delta):
            if 0 <= candidate < len(text_lines) and not text_lines[candidate].strip():
                return candidate, 0
    return 0, 0


async def lsp_session(root: Path, hovers: int, checks: int, seed: int, analyses) -> dict:
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient
    from pygls.uris import from_fs_path

    client = LanguageClient("rusta-bench-explain", "1")
    progress: dict[str, str] = {}

    @client.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
    def create(params):
        return None

    @client.feature(types.PROGRESS)
    def on_progress(params):
        kind = params.value.get("kind") if isinstance(params.value, dict) else getattr(params.value, "kind", "")
        progress[str(params.token)] = kind

    await client.start_io(sys.executable, "-m", "rusta_lsp.cli", "serve")
    folder = from_fs_path(str(root))
    # The memory is full-text only: with an embedding model the server's ingest would spend minutes
    # embedding 24k items on this machine's CPU, and this measures hover after ingest.
    options = {"memory": {"uri": str(MEMORY)}, "heartbeat": {"enabled": False},
               "model": {"embedding": str(OUT / "no-embedding-model")}}
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=True)),
        root_uri=folder, workspace_folders=[types.WorkspaceFolder(uri=folder, name=root.name)],
        initialization_options=options))
    client.initialized(types.InitializedParams())

    async def hover(rel: str, line0: int, char: int):
        started = time.perf_counter()
        result = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=from_fs_path(str(root / rel))),
            position=types.Position(line=line0, character=char)))
        return time.perf_counter() - started, result

    # Ready: the explain feature answers, and the server's own ingest and symbol index are done.
    probe = sample_positions(root, analyses, 1, seed + 99)[0]
    deadline = time.monotonic() + 600
    while (await hover(probe[0], probe[2], probe[3]))[1] is None and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    while (not progress or any(k != "end" for k in progress.values())) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)  # let the catalog reload after the server's ingest pass settle

    rounds = []
    for round_seed in (seed, seed + 1):
        positions = sample_positions(root, analyses, hovers, round_seed)
        ours, floor = [], []
        by_file: dict[str, list] = {}
        for rel, _, line0, char, _ in positions:
            by_file.setdefault(rel, []).append((line0, char))
        opened = list(by_file)
        for start in range(0, len(opened), 20):
            batch = opened[start : start + 20]
            for rel in batch:
                client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                    uri=from_fs_path(str(root / rel)), language_id="rust", version=1,
                    text=(root / rel).read_text(encoding="utf-8", errors="replace"))))
            await asyncio.sleep(0.5)  # an editor opens a file well before the first hover
            for rel in batch:
                lines = (root / rel).read_text(encoding="utf-8", errors="replace").split("\n")
                for line0, char in by_file[rel]:
                    seconds, _ = await hover(rel, line0, char)
                    ours.append(seconds)
                    blank = blank_position(lines, line0)
                    seconds, result = await hover(rel, *blank)
                    floor.append(seconds)
            for rel in batch:
                client.text_document_did_close(types.DidCloseTextDocumentParams(
                    text_document=types.TextDocumentIdentifier(uri=from_fs_path(str(root / rel)))))
        rounds.append((ours, floor))

    explained = []
    for rel, offset, line0, char, line1 in sample_positions(root, analyses, checks, seed + 7):
        result = await client.protocol.send_request_async("rusta/explain", {
            "textDocument": {"uri": from_fs_path(str(root / rel))},
            "position": {"line": line0, "character": char}})
        explained.append((rel, offset, line1, plain(result)))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"rounds": rounds, "explained": explained}


def anchor_valid(root: Path, anchor: dict, needle: str, cache: dict) -> bool:
    path = root / anchor["path"]
    if anchor["path"] not in cache:
        cache[anchor["path"]] = path.read_text(encoding="utf-8", errors="replace").split("\n") if path.is_file() else None
    lines = cache[anchor["path"]]
    if lines is None or not 1 <= anchor["start_line"] <= anchor["end_line"] <= len(lines):
        return False
    window = lines[anchor["start_line"] - 1 : anchor["end_line"]]
    if anchor["kind"] == "doc":
        return all(line.strip().startswith(DOC_PREFIXES) or not line.strip() for line in window)
    return needle in "\n".join(window)


def assess(root: Path, analyses, explained) -> dict:
    items_by_file = {a.path: a.items for a in analyses}
    by_name: dict[str, list] = {}
    for analysis in analyses:
        for item in analysis.items:
            by_name.setdefault(item.name, []).append((analysis.path, item))
    cache: dict = {}
    anchors = valid = 0
    invalid_examples = []
    reasons: Counter[str] = Counter()
    abstained = stated = consistent = 0
    sites = site_right = 0
    unique = unique_stated = unique_right = 0
    for rel, offset, line1, result in explained:
        data = (root / rel).read_bytes()
        node = ident_at(parse_tree(data).root_node, offset)
        name = node.text.decode("utf-8", "replace") if node is not None else ""
        for claim in result["claims"]:
            for anchor in claim["anchors"]:
                anchors += 1
                ok = anchor_valid(root, anchor, name if result["abstained"] else result["symbol"].rsplit("::", 1)[-1], cache)
                valid += ok
                if not ok and len(invalid_examples) < 5:
                    invalid_examples.append({"at": f"{rel}:{line1}", "symbol": result["symbol"], "anchor": anchor})
        if result["abstained"]:
            abstained += 1
            reasons[_reason_class(result["reason"])] += 1
        definition = next((a for c in result["claims"] for a in c["anchors"] if a["kind"] == "definition"), None)
        # Ground truth 1: the cursor sits on an item's own name.
        # (Not `use` items, which name what they import, nor items a macro template declares.)
        own = next((i for i in items_by_file.get(rel, []) if i.name_span.start_byte == offset
                    and i.kind not in ("impl", "use") and not any(a.startswith("expanded from") for a in i.attrs)),
                   None)
        if own is not None:
            sites += 1
            site_right += bool(definition and not result["abstained"] and definition["path"] == rel
                               and definition["start_line"] == own.span.start_line)
        if result["abstained"] or definition is None or "::" not in result["symbol"]:
            continue
        stated += 1
        items = items_by_file.get(definition["path"], [])
        consistent += any(i.span.start_line == definition["start_line"] and i.path == result["symbol"] for i in items)
        # Ground truth 2: a reference to a name only one item of a compatible kind carries.
        ref = next((r for i in items_by_file.get(rel, []) for r in i.refs if r.span.start_byte == offset), None)
        if own is None and ref is not None and ref.kind in REF_KINDS_FOR:
            owners = [(p, i) for p, i in by_name.get(name, []) if i.kind in REF_KINDS_FOR[ref.kind]]
            if len(owners) == 1:
                unique_stated += 1
                path, item = owners[0]
                unique_right += definition["path"] == path and definition["start_line"] == item.span.start_line
    for rel, offset, line1, result in explained:  # abstentions on unique references, for the rate
        ref = next((r for i in items_by_file.get(rel, []) for r in i.refs if r.span.start_byte == offset), None)
        if ref is not None and ref.kind in REF_KINDS_FOR and len(
                [1 for _, i in by_name.get(ref.name, []) if i.kind in REF_KINDS_FOR[ref.kind]]) == 1:
            unique += 1
    total = len(explained)
    return {
        "positions": total, "anchors": anchors, "valid_anchors": valid,
        "anchor_validity": round(valid / anchors, 4) if anchors else None, "invalid_examples": invalid_examples,
        "abstained": abstained, "abstention_rate": round(abstained / total, 4) if total else None,
        "abstention_reasons": dict(reasons.most_common()),
        "stated_definitions": stated, "consistent_with_analysis": consistent,
        "definition_sites": sites, "definition_sites_right": site_right,
        "unique_references": unique, "unique_references_stated": unique_stated,
        "unique_references_right": unique_right,
    }


def _reason_class(reason: str) -> str:
    for key, label in (("macro_rules!", "inside a macro_rules! template"), ("arguments of", "macro arguments"),
                       ("attribute", "attribute"), ("prelude", "std prelude"), ("standard library", "std"),
                       ("outside the workspace", "imported from outside"),
                       ("not a module, type or crate", "external crate"), ("ambiguous", "ambiguous"),
                       ("not a type defined", "receiver type outside"), ("not defined", "not in workspace"),
                       ("no method", "not in workspace"), ("no field", "not in workspace"),
                       ("primitive", "primitive type"), ("root module", "crate root"),
                       ("cannot be anchored", "anchor failed (macro/stale)"), ("has no", "member not in source"),
                       ("function body", "item inside a fn body"), ("not enough evidence", "weak evidence")):
        if key in reason:
            return label
    return reason[:40]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hovers", type=int, default=300, help="hovers per round")
    parser.add_argument("--checks", type=int, default=200, help="positions checked for anchors")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(OUT / "explain.json"))
    args = parser.parse_args()

    root = corpus_workspace()
    print(f"machine: {machine()}")
    lines = rust_lines(root)
    started = time.perf_counter()
    with Memory.open(str(MEMORY), root) as memory:
        result = Ingestor(memory, root).run(embed=False)
    print(f"corpus: {lines} lines of Rust, {result.files} files, {result.items} items "
          f"(ingest {time.perf_counter() - started:.1f}s, {result.changed} files changed)")
    _, analyses = analyze_workspace(root)
    session = asyncio.run(lsp_session(root, args.hovers, args.checks, args.seed, analyses))

    report = {"machine": machine(), "lines": lines, "rounds": []}
    print("hover through LSP over stdio (client-measured round trip):")
    for number, (ours, floor) in enumerate(session["rounds"], 1):
        p50, p95 = p50_p95(ours)
        f50, f95 = p50_p95(floor)
        verdict = "ok" if p95 <= 0.030 else "over goal"
        print(f"  round {number}: hover p50 {ms(p50)}  p95 {ms(p95)}  ({len(ours)} hovers; goal p95 <= 30 ms: {verdict})"
              f" | floor p50 {ms(f50)}  p95 {ms(f95)}")
        report["rounds"].append({"hovers": len(ours), "p50_ms": round(p50 * 1000, 2), "p95_ms": round(p95 * 1000, 2),
                                 "floor_p50_ms": round(f50 * 1000, 2), "floor_p95_ms": round(f95 * 1000, 2)})
    quality = assess(root, analyses, session["explained"])
    report["quality"] = quality
    print(f"anchors: {quality['valid_anchors']}/{quality['anchors']} valid "
          f"({quality['anchor_validity']:.2%}) over {quality['positions']} random identifiers (goal 100%)")
    for example in quality["invalid_examples"]:
        print(f"    invalid: {example}")
    print(f"abstained: {quality['abstained']}/{quality['positions']} ({quality['abstention_rate']:.1%}): "
          + ", ".join(f"{k} {v}" for k, v in quality["abstention_reasons"].items()))
    print(f"definition sites: {quality['definition_sites_right']}/{quality['definition_sites']} anchored to the item itself")
    print(f"references to a name one item carries: {quality['unique_references']} seen, "
          f"{quality['unique_references_stated']} stated, {quality['unique_references_right']} right")
    print(f"stated definitions consistent with the analysis: {quality['consistent_with_analysis']}/{quality['stated_definitions']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
