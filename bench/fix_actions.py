"""Code actions answered from the cache: round-trip latency over stdio against a floor.

    python bench/fix_actions.py [REQUESTS=300]

Starts `rusta serve` on a copy of examples/broken-types, waits for the verified-fix hints, then
asks for code actions REQUESTS times at a diagnostic with a verified fix (the answer carries
actions) and at a line without one (the floor: the same request through the same server and
JSON-RPC path, answered with nothing). Prints p50/p95 of both (goal: p95 <= 20 ms).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = int(os.environ.get("REQUESTS", "300"))


def p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="rusta-fix-actions-"))
    crate = work / "crate"
    shutil.copytree(ROOT / "examples" / "broken-types", crate)
    client = LanguageClient("bench", "1")
    hints: dict[str, list] = {}
    client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)(lambda p: hints.__setitem__(p.uri, p.diagnostics))
    await client.start_io(sys.executable, "-m", "rusta_lsp.cli", "serve")
    uri = from_fs_path(str(crate))
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=uri,
        workspace_folders=[types.WorkspaceFolder(uri=uri, name="crate")],
        initialization_options={"memory": {"uri": str(work / "memory")}, "heartbeat": {"enabled": False}}))
    client.initialized(types.InitializedParams())
    lib = crate / "src" / "lib.rs"
    doc = from_fs_path(str(lib))
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=doc, language_id="rust", version=1, text=lib.read_text())))
    deadline = time.monotonic() + 180
    while not hints.get(doc) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    if not hints.get(doc):
        raise SystemExit("no verified-fix hint arrived")
    at_fix = hints[doc][0].range
    no_fix = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))

    async def timed(rng: types.Range) -> tuple[float, object]:
        start = time.perf_counter()
        answer = await client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=doc), range=rng,
            context=types.CodeActionContext(diagnostics=[])))
        return time.perf_counter() - start, answer

    ours, floor, titles = [], [], []
    for _ in range(REQUESTS):
        seconds, answer = await timed(at_fix)
        assert answer, "no code action at the hint"
        titles = [a.title for a in answer]
        ours.append(seconds)
        seconds, _ = await timed(no_fix)
        floor.append(seconds)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    shutil.rmtree(work, ignore_errors=True)
    (o50, o95), (f50, f95) = p50_p95(ours), p50_p95(floor)
    print(f"codeAction with verified fixes: p50 {o50 * 1000:.2f} ms  p95 {o95 * 1000:.2f} ms (goal p95 <= 20 ms)")
    print(f"floor (same request, no fix):   p50 {f50 * 1000:.2f} ms  p95 {f95 * 1000:.2f} ms")
    print(f"titles: {titles}")


if __name__ == "__main__":
    asyncio.run(main())
