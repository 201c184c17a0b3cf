"""The memory on object storage, against a local S3 (moto's server, tests/conftest.py): a real
crate indexed into a bucket and read by other processes (a server's hover, `rusta fix`), kill -9
during an ingest, an endpoint that does not answer, and two writers racing for one memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections import Counter
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig

from debian_crates import copy_debian_crate
from lsp_support import SERVER_COMMAND, init_params, open_document, wait_for_progress
from patches_support import SHARED_TARGET, copy_example
from s3_support import free_port
from test_memory_ingest import KILLER, item_keys, ref_count
from rusta_lsp.memory.ingest import Ingestor
from rusta_lsp.memory.storage import WriterLease, connect
from rusta_lsp.memory.store import Memory

pytestmark = pytest.mark.slow
BYTES = "bytes-1.2.1"
CLI = [sys.executable, "-m", "rusta_lsp.cli"]
SECRET = "do-not-log-this-secret"


def rusta(args: list[str], env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **env})


def duplicate_files(memory: Memory) -> int:
    """File rows stored more than once (0 in a healthy memory)."""
    files = Counter(r["path"] for r in memory._query("files", lambda t: t.search().select(["path"]).limit(1 << 30)))
    return sum(n > 1 for n in files.values())


@pytest.fixture(scope="module")
def bytes_reference(tmp_path_factory):
    """Debian's `bytes` and an uninterrupted ingest of it into a local memory: what every memory of
    it must hold (a macro may declare two items on one line, so keys are compared as counts)."""
    root = copy_debian_crate(BYTES, tmp_path_factory.mktemp("bytes") / "bytes")
    with Memory.open(str(tmp_path_factory.mktemp("reference")), root) as memory:
        result = Ingestor(memory, root).run(embed=False)
        return root, item_keys(memory), ref_count(memory), result


@pytest.fixture(scope="module")
def indexed_bytes(s3, bytes_reference):
    """Debian's `bytes` indexed into a bucket by `rusta index` (the first process)."""
    root = bytes_reference[0]
    uri = f"s3://{s3.bucket()}/team/bytes"
    done = rusta(["index", "--json", "--no-embed", "--memory", uri, str(root)], s3.env)
    assert done.returncode == 0, done.stderr
    return root, uri, json.loads(done.stdout)


def test_a_real_crate_indexed_into_s3_lands_in_the_bucket_whole(s3_env, bytes_reference, indexed_bytes):
    s3 = s3_env
    _, keys, refs, whole = bytes_reference
    root, uri, totals = indexed_bytes
    assert (totals["files"], totals["items"]) == (whole.files, whole.items) and whole.items > 500
    bucket = uri.split("/")[2]
    assert any(k.startswith("team/bytes/items.lance/data/") for k in s3.objects(bucket))
    assert not list(root.glob("**/*.lance"))  # nothing of the memory on the local disk
    with Memory.open(uri, root, read_only=True) as memory:
        assert item_keys(memory) == keys and ref_count(memory) == refs and duplicate_files(memory) == 0
        assert {i.path for i in memory.lookup_name("Buf", "trait")} == {"src/buf/buf_impl.rs"}


async def test_a_server_in_another_process_hovers_from_the_s3_memory(s3, indexed_bytes, tmp_path):
    root, uri, _ = indexed_bytes
    config = ClientServerConfig(server_command=SERVER_COMMAND, server_env={**os.environ, **s3.env})
    client = await config.start()
    try:
        await client.initialize_session(init_params(root, {
            "memory": {"uri": uri, "storageOptions": s3.options},
            "heartbeat": {"enabled": False}, "cargo": {"targetDir": str(SHARED_TARGET)}}))
        await wait_for_progress(client, "Rusta: memory")
        chain = root / "src/buf/chain.rs"
        text = chain.read_text()
        uri_doc = open_document(client, chain, text)
        line = next(n for n, t in enumerate(text.splitlines()) if t.startswith("impl<T, U> Buf for Chain"))
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri_doc),
            position=types.Position(line=line, character=len("impl<T, U> B"))))
        assert hover is not None
        assert "src/buf/buf_impl.rs" in hover.contents.value  # the definition, from the bucket
        assert not client.messages or not any("could not be opened" in m.message for m in client.messages)
    finally:
        await client.shutdown_session()


def test_rusta_fix_in_another_process_reads_the_s3_memory(s3, tmp_path):
    root = copy_example("ledger", tmp_path / "ws")
    uri = f"s3://{s3.bucket()}/ledger"
    flags = ["--memory", uri, "--set", f"cargo.targetDir={SHARED_TARGET}"]
    assert rusta(["index", "--no-embed", *flags, str(root)], s3.env).returncode == 0
    store = root / "src/store.rs"
    store.write_text(store.read_text().replace('ledger.deposit("Café Größe", 1_000);',
                                               'ledger.deposit("Café Größe".to_string(), 1_000);'))
    fixed = rusta(["fix", "--json", *flags, str(root)], s3.env)
    assert fixed.returncode == 0, fixed.stderr
    [diag] = json.loads(fixed.stdout)["diagnostics"]
    assert diag["code"] == "E0308" and diag["patches"] and diag["patches"][0]["verified"]
    # The related test was found through the references stored in the bucket.
    assert diag["patches"][0]["tests"]["related"] == 1


def test_kill_9_during_an_ingest_into_s3_then_reopen_loses_and_duplicates_nothing(s3_env, bytes_reference):
    s3 = s3_env
    root, keys, refs, whole = bytes_reference
    uri = f"s3://{s3.bucket()}/killed"
    env = {**os.environ, **s3.env}
    # Dies inside the writer: a batch's items and refs are committed, its file rows are not.
    proc = subprocess.run([sys.executable, "-c", KILLER, str(root), uri, "-6"], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == -9, proc.stderr
    # The dead writer's lease does not stand in the way: its process is gone from this machine.
    with Memory.open(uri, root) as memory:
        assert not memory.read_only, memory.messages
        partial = memory.stats()["files"]
        assert 0 < partial < whole.files
        result = Ingestor(memory, root).run(embed=False)
        assert result.changed == whole.files - partial
        assert (result.files, result.items) == (whole.files, whole.items)
        assert item_keys(memory) == keys and ref_count(memory) == refs and duplicate_files(memory) == 0


def test_an_unreachable_endpoint_is_one_line_and_no_secret(tmp_path):
    root = copy_example("ledger", tmp_path / "ws")
    env = {"AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_ALLOW_HTTP": "true", "RUSTA_DEBUG": ""}
    for command in (["index", "--no-embed"], ["search"]):
        done = rusta([*command, "--memory", "s3://nowhere/memory", *(["ledger"] if command == ["search"] else []), str(root)], env, timeout=120)
        assert done.returncode == 2, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert "s3://nowhere/memory is unreachable: connection refused at http://127.0.0.1:" in line, line
        assert SECRET not in done.stderr + done.stdout


async def test_a_server_whose_memory_is_unreachable_serves_from_the_analysis(tmp_path, capfd):
    root = copy_example("ledger", tmp_path / "ws")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIATEST", "AWS_REGION": "us-east-1"}
    config = ClientServerConfig(server_command=SERVER_COMMAND, server_env=env)
    client = await config.start()
    try:
        # The secret in the settings this time: it must not reach a message or the log either.
        await client.initialize_session(init_params(root, {
            "memory": {"uri": "s3://nowhere/memory", "storageOptions": {
                "endpoint": f"http://127.0.0.1:{free_port()}", "allow_http": True,
                "aws_secret_access_key": SECRET}},
            "heartbeat": {"enabled": False}, "cargo": {"targetDir": str(SHARED_TARGET)}}))
        deadline = time.monotonic() + 120
        while not any("could not be opened" in m.message for m in client.messages):
            assert time.monotonic() < deadline, [m.message for m in client.messages]
            await __import__("asyncio").sleep(0.1)
        [message] = [m.message for m in client.messages if "could not be opened" in m.message]
        assert "s3://nowhere/memory is unreachable: connection refused" in message
        assert "working from the analysis alone" in message and "\n" not in message and SECRET not in message
        store = root / "src/store.rs"
        text = store.read_text()
        doc = open_document(client, store, text)
        line = next(n for n, t in enumerate(text.splitlines()) if t.strip() == "Ledger::default()")
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=doc),
            position=types.Position(line=line, character=text.splitlines()[line].index("Ledger") + 1)))
        assert hover is not None and "src/store.rs" in hover.contents.value  # the file's own struct
    finally:
        await client.shutdown_session()
    assert SECRET not in "".join(m.message for m in client.log_messages)
    assert SECRET not in capfd.readouterr().err  # the server's log (its stderr)


RACER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from rusta_lsp.memory.ingest import Ingestor
    from rusta_lsp.memory.store import Memory

    uri, root, start = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))
    memory = Memory.open(uri, root)
    if not memory.read_only:
        Ingestor(memory, root).run(embed=False)
    print(json.dumps({"writer": not memory.read_only, "messages": memory.messages}), flush=True)
    sys.stdin.read()  # hold the memory until told
    memory.close()
    """
)


def test_two_writers_racing_for_one_s3_memory_leave_one_writer(s3_env, tmp_path):
    s3 = s3_env
    root = copy_example("ledger", tmp_path / "ws")
    uri = f"s3://{s3.bucket()}/raced"
    env = {**os.environ, **s3.env}
    start = time.time() + 8  # both past their imports, then at the same moment
    racers = [subprocess.Popen([sys.executable, "-c", RACER, uri, str(root), str(start)], env=env, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE) for _ in range(2)]
    try:
        said = [json.loads(racer.stdout.readline()) for racer in racers]
        assert sorted(s["writer"] for s in said) == [False, True], said
        reader = next(s for s in said if not s["writer"])
        assert any("writes this memory: reading it only" in m for m in reader["messages"])
    finally:
        for racer in racers:
            racer.communicate("", timeout=60)
    with Memory.open(uri, root) as memory:  # the writer closed and gave the lease back
        assert not memory.read_only
        assert {"src/lib.rs", "src/store.rs", "src/entry.rs"} <= set(memory.file_hashes())
        assert duplicate_files(memory) == 0


def test_a_lapsed_lease_goes_to_one_of_several_racing_and_the_old_holder_learns_it(s3_env):
    uri = f"s3://{s3_env.bucket()}/lease"
    first = WriterLease(connect(uri, s3_env.options))
    assert first.acquire() and first.held()
    second = WriterLease(connect(uri, s3_env.options))
    assert not second.acquire() and second.holder()["owner"] == first.owner
    first._update(f"target.owner = '{first.owner}'", first.owner, time.time() - 1)  # as if it lapsed
    contenders = [WriterLease(connect(uri, s3_env.options)) for _ in range(4)]
    for lease in contenders:
        lease._lease_table()  # opened before the race: the race is the commit only
    start = threading.Barrier(len(contenders))

    def race(lease: WriterLease) -> bool:
        start.wait()
        return lease.acquire()

    with ThreadPoolExecutor(len(contenders)) as pool:
        won = list(pool.map(race, contenders))
    assert won.count(True) == 1, won
    winner = contenders[won.index(True)]
    assert second.holder()["owner"] == winner.owner
    assert not first.renew() and not first.held()  # the old holder learns it at its next renewal
