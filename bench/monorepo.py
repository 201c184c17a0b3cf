"""A 1M-line monorepo: the memory and the server at the scale of a company's repository.

    python bench/monorepo.py [--parts ingest,server,saves]
        (SAVES=30 SAVE_INTERVAL_S=0.5 HOVERS=200; VERSION_SAVES=1000 as bench/ingest.py)

The workspace is bench/out/monorepo: Debian's packaged crate sources (the newest version of each,
generated bindings and tables left out) as members of one Cargo workspace, at least 1,000,000
lines of Rust (bench/monorepo_corpus.py). Every figure is printed next to a floor measured in the
same run, on the same files:

1. cold ingest (structure stage, no vectors) in a process of its own: wall time and peak RSS,
   against a raw tree-sitter parse of the same files;
2. the server (`rusta serve` over stdio, a real LSP client, the default embedding model): time
   from `initialize` to the first useful hover (an answer with a claim) while its ingest runs,
   against the first answer to a hover with nothing to explain (goal: <= 5 s);
3. the server's peak RSS once its ingest is done and the embedding model is loaded (a save
   embeds the saved file's items), against its RSS right after `initialize` (goal: <= 1.5 GB);
4. hover p95 over HOVERS random identifiers after the ingest, against hovers on blank positions
   of the same files (goal: <= 30 ms);
5. save -> memory updated for a ~1,000-line file (no vectors), SAVES saves SAVE_INTERVAL_S apart,
   against the analysis of that file alone;
6. table versions during VERSION_SAVES back-to-back saves, and the memory's size on disk after
   compaction, against the size of the sources (goal: <= 3x).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from explain import blank_position, sample_positions
from ingest import thousand_line_file, verdict, versions_after_saves
from memory_corpus import OUT, machine, ms, p50_p95, rust_lines
from monorepo_corpus import monorepo_workspace

from rusta_lsp.analysis.parser import analyze_source, parse_tree
from rusta_lsp.analysis.workspace import analyze_workspace, discover_workspace
from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.store import Memory

SAVES = int(os.environ.get("SAVES", "30"))
SAVE_INTERVAL_S = float(os.environ.get("SAVE_INTERVAL_S", "0.5"))
HOVERS = int(os.environ.get("HOVERS", "200"))
GB = 1024 ** 3

# Runs in a child process: its peak RSS is the ingest's alone.
_COLD_INGEST = """
import json, resource, sys, time
from pathlib import Path
from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.store import Memory
root, uri, workers = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
with Memory.open(uri, root) as memory:
    result = Ingestor(memory, root, workers=workers).run(embed=False)
print(json.dumps({"seconds": time.perf_counter() - start, "files": result.files, "items": result.items,
                  "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def source_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.rs") if "target" not in p.parts)


def cold_ingest(root: Path, lines: int, work: Path) -> str:
    """One process, then a worker per core; returns the URI of the last memory (kept for the saves)."""
    files = [(root / f.path).read_bytes() for f in discover_workspace(root).files]
    for workers in (1, os.cpu_count() or 1):
        start = time.perf_counter()
        for data in files:
            parse_tree(data)
        floor = time.perf_counter() - start  # the floor again: the machine's load drifts
        uri = str(work / f"cold-{workers}")
        done = subprocess.run([sys.executable, "-c", _COLD_INGEST, str(root), uri, str(workers)],
                              capture_output=True, text=True, check=True)
        ours = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"[ingest] raw tree-sitter parse of {len(files):,} files: {floor:7.1f} s ({lines / floor:,.0f} lines/s)")
        print(f"[ingest] cold ingest, structure stage, {workers} worker(s): {ours['seconds']:7.1f} s "
              f"({lines / ours['seconds']:,.0f} lines/s) = {floor / ours['seconds']:.0%} of raw; {ours['files']:,} "
              f"files, {ours['items']:,} items; peak RSS of the ingesting process {ours['maxrss'] / GB:.2f} GB")
    return uri


def rss(pid: int) -> tuple[int, int]:
    """(current, peak) resident bytes of a process."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


async def server_session(root: Path, uri: str, analyses) -> None:
    from lsprotocol import types
    from pygls.uris import from_fs_path
    from pytest_lsp import ClientServerConfig

    client = await ClientServerConfig(server_command=[sys.executable, "-m", "rusta_lsp.cli", "serve"]).start()
    pid = client._server.pid
    folder = from_fs_path(str(root))
    target = thousand_line_file(root)
    text = (root / target).read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    # A definition in the file itself: answerable from the analysis before the memory has it.
    local = next(a for a in analyses if a.path == target)
    item = next(i for i in local.items if i.kind in ("fn", "struct", "enum", "trait") and i.name_span)
    at = types.Position(line=item.name_span.start.line - 1, character=item.name_span.start.col)
    blank = types.Position(*blank_position(lines, at.line))

    async def hover(rel: str, position: types.Position):
        started = time.perf_counter()
        result = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=from_fs_path(str(root / rel))), position=position))
        return time.perf_counter() - started, result

    started = time.perf_counter()
    await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=True)),
        root_uri=folder, workspace_folders=[types.WorkspaceFolder(uri=folder, name=root.name)],
        initialization_options={"memory": {"uri": uri}, "heartbeat": {"enabled": False}}))
    after_init = rss(pid)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=from_fs_path(str(root / target)), language_id="rust", version=1, text=text)))
    first_answer = first_useful = None
    while first_useful is None and time.perf_counter() - started < 600:
        seconds, result = await hover(target, blank)
        first_answer = first_answer or time.perf_counter() - started
        seconds, result = await hover(target, at)
        if result is not None and "](" in result.contents.value:  # a claim with its anchor link
            first_useful = time.perf_counter() - started
        else:
            await asyncio.sleep(0.05)
    print(f"[server] first answer to a hover after initialize: {first_answer:6.2f} s; first useful hover "
          f"({target}: `{item.name}`): {first_useful:6.2f} s (goal <= 5 s: {verdict(first_useful <= 5)})")

    def ingest_done() -> bool:
        return any(v and v[0].title == "Rusta: memory" and isinstance(v[-1], types.WorkDoneProgressEnd)
                   for v in client.progress_reports.values())

    while not ingest_done():
        await asyncio.sleep(1)
    ingest_seconds = time.perf_counter() - started
    # A save embeds the saved file's items: the embedding model is loaded from here on.
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=from_fs_path(str(root / target)))))
    await asyncio.sleep(20)  # the save's vectors, then the vector backfill starts in the pause
    print(f"[server] ingest in the server (CPU budget 50%): {ingest_seconds:6.1f} s after initialize")

    positions = sample_positions(root, [a.path for a in analyses], HOVERS, seed=3)
    opened = {target}
    ours, floor = [], []
    for rel, _, line0, char, _ in positions:
        file_lines = (root / rel).read_text(encoding="utf-8", errors="replace").split("\n")
        if rel not in opened:
            client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                uri=from_fs_path(str(root / rel)), language_id="rust", version=1, text="\n".join(file_lines))))
            opened.add(rel)
            await asyncio.sleep(0.3)  # an editor opens a file well before the first hover
        ours.append((await hover(rel, types.Position(line=line0, character=char)))[0])
        floor.append((await hover(rel, types.Position(*blank_position(file_lines, line0))))[0])
    now, peak = rss(pid)
    (p50, p95), (f50, f95) = p50_p95(ours), p50_p95(floor)
    print(f"[server] hover over {len(ours)} random identifiers (vector backfill running): p50 {ms(p50)} "
          f"p95 {ms(p95)} (goal p95 <= 30 ms: {verdict(p95 <= 0.030)}); floor, blank positions: "
          f"p50 {ms(f50)} p95 {ms(f95)}")
    print(f"[server] RSS after initialize {after_init[0] / GB:.2f} GB; with the memory and the embedding model "
          f"{now / GB:.2f} GB, peak {peak / GB:.2f} GB (goal <= 1.5 GB: {verdict(peak <= 1.5 * GB)})")
    await client.shutdown_session()


def saves(root: Path, uri: str) -> None:
    memory = Memory.open(uri, root)
    ingestor = Ingestor(memory, root)
    ingestor.run(embed=False)  # hashes only: the memory is current
    rel = thousand_line_file(root)
    path = root / rel
    original = path.read_text()
    module = ingestor.files[rel].module_path
    floor, times = [], []
    try:
        for n in range(SAVES):
            time.sleep(SAVE_INTERVAL_S)
            path.write_text(original + f"\npub fn monorepo_saved_{n}() -> usize {{ {n} }}\n")
            data = path.read_bytes()
            start = time.perf_counter()
            analyze_source(data, rel, module)
            floor.append(time.perf_counter() - start)
            start = time.perf_counter()
            ingestor.update_paths([rel], embed=False)
            times.append(time.perf_counter() - start)
        (p50, p95), (f50, f95) = p50_p95(times), p50_p95(floor)
        print(f"[save] {rel} ({original.count(chr(10))} lines): memory updated p50 {ms(p50)} p95 {ms(p95)}; "
              f"floor, analysis of the file: p50 {ms(f50)} p95 {ms(f95)}")
        versions_after_saves(memory, ingestor, path, rel, original)
    finally:
        path.write_text(original)
    ingestor.update_paths([rel], embed=False)
    memory.compact().result()
    versions = memory.table_versions()
    memory.close()
    size, sources = folder_bytes(Path(uri)), source_bytes(root)
    print(f"[versions] after compaction: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}")
    print(f"[disk] memory after compaction {size / 2**20:,.0f} MiB; floor, the sources {sources / 2**20:,.0f} MiB: "
          f"{size / sources:.2f}x (goal <= 3x: {verdict(size <= 3 * sources)})")


PARTS = ("ingest", "server", "saves")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="which measurements to run: 1 is `ingest`, 2-4 `server`, 5-6 `saves` (default: all)")
    parts = set(parser.parse_args().parts.split(","))
    if parts - set(PARTS):
        parser.error(f"--parts takes {', '.join(PARTS)}")
    OUT.mkdir(exist_ok=True)
    root = monorepo_workspace()
    lines = rust_lines(root)
    members = len(discover_workspace(root).crates)
    print(f"machine: {machine()}; peak RSS counts resident pages, the model's included")
    print(f"corpus: {root} ({lines:,} lines of Rust in {members} member crates)")
    work = Path(tempfile.mkdtemp(prefix="monorepo-", dir=OUT))
    try:
        # Without the cold ingest the saves reuse the server's memory, the one it ingested itself.
        memory = cold_ingest(root, lines, work) if "ingest" in parts else str(work / "server")
        if "server" in parts:
            _, analyses = analyze_workspace(root)
            asyncio.run(server_session(root, str(work / "server"), analyses))
            del analyses
        if "saves" in parts:
            saves(root, memory)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")


if __name__ == "__main__":
    main()
