"""Features side by side: a document event reaches every feature of its workspace at once, so a
slow one (the memory embedding a saved file) never holds back another (the fix check, which
compares the save's time with rust-analyzer's flycheck), and one that raises is only logged. A
request's work never queues behind background work, which runs at a lower CPU priority."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path

from rusta_lsp.config import read_config
from rusta_lsp.server.app import BACKGROUND_NICE, Feature, RustaServer
from rusta_lsp.server.documents import path_to_uri


def test_a_slow_or_failing_feature_holds_back_no_other_on_a_document_event(tmp_path: Path):
    reached: list[str] = []

    class Slow(Feature):
        name = "slow"

        async def on_document_saved(self, doc):
            await asyncio.sleep(30)
            reached.append(self.name)

    class Failing(Feature):
        name = "failing"

        async def on_document_saved(self, doc):
            raise RuntimeError("a bug in one feature")

    class Quick(Feature):
        name = "quick"

        async def on_document_saved(self, doc):
            reached.append(self.name)

    async def save() -> None:
        server = RustaServer([Slow, Failing, Quick])
        server.config = read_config({"memory": {"uri": str(tmp_path / "memory")}})[0]
        server._add_root(tmp_path, tmp_path)
        doc = server._make_document(path_to_uri(tmp_path / "src" / "lib.rs"), "fn f() {}", 1)
        saved = asyncio.ensure_future(
            server._dispatch_document("on_document_saved", doc, lambda f: f.on_document_saved(doc)))
        await asyncio.sleep(0.5)
        assert reached == ["quick"]  # while the slow one still works
        saved.cancel()

    asyncio.run(save())


def test_a_request_never_waits_behind_background_work_which_yields_the_cpu():
    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def run() -> tuple[int, int]:
        server = RustaServer([])
        release = threading.Event()
        try:
            # Every background thread busy (an ingest, a vector backfill, a cargo check, ...):
            busy = [asyncio.ensure_future(server.run_behind(release.wait, 30))
                    for _ in range(server.background._max_workers)]
            await asyncio.sleep(0.2)
            request = await asyncio.wait_for(server.run_blocking(nice), 10)  # a hover is served meanwhile
            release.set()
            await asyncio.gather(*busy)
            return request, await server.run_behind(nice)
        finally:
            release.set()
            server.executor.shutdown()
            server.background.shutdown()

    request, background = asyncio.run(run())
    if sys.platform.startswith("linux"):  # a nice value per thread
        assert background == min(19, request + BACKGROUND_NICE)
