"""Beside rust-analyzer: taking turns with its flycheck, trust before cargo, the shadow's disk.

The cargo runs here are real: a planted build.rs shows whether cargo ran in a folder (it writes a
marker file when it does), and holds cargo's build lock while it sleeps.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient
from pytest_lsp.client import make_test_lsp_client

from explain_support import plain
from lsp_support import SERVER_COMMAND, client_capabilities, init_params, open_document, wait_until
from patches_support import SHARED_TARGET, as_rust_analyzer_reports, config_for, copy_example, types_checkout
from rusta_lsp.cancel import Cancelled, CancelToken
from rusta_lsp.config import read_config
from rusta_lsp.patches import flycheck
from rusta_lsp.patches.engine import PatchEngine
from rusta_lsp.patches.flycheck import FlycheckWatch, build_locked, built_since, cached_messages
from rusta_lsp.patches.shadow import ShadowSlots, slot_dirs
from rusta_lsp.server.features.fixes import known_errors


def planted_crate(root: Path, marker: Path, sleep_s: float = 0.0, broken: bool = True) -> Path:
    """A crate whose build.rs writes `marker` (then sleeps, holding cargo's build lock) and whose
    lib.rs has an error with a verified fix (a missing `.to_string()`)."""
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[package]\nname = "planted"\nversion = "0.1.0"\nedition = "2021"\n'
                                     'build = "build.rs"\n\n[dependencies]\n')
    (root / "build.rs").write_text(
        "fn main() {\n"
        f"    std::fs::write({json.dumps(str(marker))}, \"build.rs ran\").unwrap();\n"
        f"    std::thread::sleep(std::time::Duration::from_millis({int(sleep_s * 1000)}));\n"
        "}\n")
    value = '"owned"' if broken else '"owned".to_string()'
    (root / "src" / "lib.rs").write_text(f"pub fn name() -> String {{\n    {value}\n}}\n")
    return root


# --- cargo's build lock and the flycheck watch ----------------------------------------------------


@pytest.mark.slow
def test_the_build_lock_reads_held_exactly_while_a_real_cargo_builds(tmp_path: Path):
    crate = planted_crate(tmp_path / "crate", tmp_path / "marker", sleep_s=3.0, broken=False)
    target = tmp_path / "target"
    assert not build_locked(target)  # no target directory yet
    before = time.time()
    cargo = subprocess.Popen(["cargo", "check", "--offline", "--quiet"], cwd=crate,
                             env={**os.environ, "CARGO_TARGET_DIR": str(target)})
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "marker").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "marker").exists(), "the build script never ran"
        assert build_locked(target)  # the build script sleeps: cargo holds the lock
        watch = FlycheckWatch(crate, targets=[target])
        assert watch.busy() == "cargo"
    finally:
        assert cargo.wait(60) == 0
    assert not build_locked(target)
    assert FlycheckWatch(crate, targets=[target]).busy() is None
    # A check over before anyone looked still shows: it stamped the units it compiled.
    assert built_since(target, before) and not built_since(target, time.time() + 1)


def _after(seconds: float, fn, *args) -> threading.Timer:
    timer = threading.Timer(seconds, fn, args)
    timer.start()
    return timer


def test_the_check_waits_for_the_companions_flycheck_and_is_skipped_when_it_found_no_error(tmp_path: Path):
    watch = FlycheckWatch(tmp_path, targets=[])
    watch.report("rust-analyzer", checking=False, errors=0)
    saved = time.monotonic()
    _after(0.3, watch.report, "rust-analyzer", True, None)
    _after(1.0, watch.report, "rust-analyzer", False, 0)
    turn = watch.wait_turn(saved)
    assert turn.flycheck_seen and turn.waited_s >= 0.9
    assert turn.skip == "rust-analyzer checked this save and found no error"


def test_the_check_runs_after_a_flycheck_that_found_errors_and_late_errors_undo_a_skip(tmp_path: Path):
    watch = FlycheckWatch(tmp_path, targets=[])
    rechecks = []
    watch.on_late_errors = lambda: rechecks.append(True)
    watch.report("rust-analyzer", checking=False, errors=0)
    saved = time.monotonic()
    _after(0.2, watch.report, "rust-analyzer", True, None)
    _after(0.6, watch.report, "rust-analyzer", False, 2)
    assert watch.wait_turn(saved).skip is None
    # A skip, then rust-analyzer's errors arrive late: the server is told to check after all.
    saved = time.monotonic()
    watch.report("rust-analyzer", checking=True)
    watch.report("rust-analyzer", checking=False, errors=0)
    assert watch.wait_turn(saved).skip is not None and not rechecks
    watch.report("rust-analyzer", errors=1)
    assert rechecks == [True]


def test_a_flycheck_that_found_errors_hands_them_over_only_when_the_client_sent_them_all(tmp_path: Path):
    watch = FlycheckWatch(tmp_path, targets=[])
    watch.report("rust-analyzer", checking=False, errors=0)
    theirs = {"uri": "file:///x/src/lib.rs", "source": "rustc", "code": "E0308", "message": "mismatched types",
              "range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 9}}}
    for errors, sent, handed in ((1, [theirs], True), (2, [theirs], False)):  # the client cut its list at 1
        saved = time.monotonic()
        _after(0.2, watch.report, "rust-analyzer", True, None)
        _after(0.4, watch.report, "rust-analyzer", False, errors, {theirs["uri"]: sent})
        turn = watch.wait_turn(saved)
        assert turn.skip is None and turn.flycheck_seen
        assert turn.known == ({theirs["uri"]: [theirs]} if handed else None)


def test_rust_analyzers_own_errors_neither_keep_a_clean_flycheck_from_being_skipped_nor_undo_the_skip(tmp_path: Path):
    watch = FlycheckWatch(tmp_path, targets=[])
    rechecks = []
    watch.on_late_errors = lambda: rechecks.append(True)
    uri = "file:///x/src/lib.rs"
    native = {"uri": uri, "source": "rust-analyzer", "code": "unresolved-macro-call", "message": "unresolved macro `m!`",
              "range": {"start": {"line": 3, "character": 4}, "end": {"line": 3, "character": 6}}}
    watch.report("rust-analyzer", checking=False, errors=0)
    saved = time.monotonic()
    _after(0.2, watch.report, "rust-analyzer", True, None)
    _after(0.4, watch.report, "rust-analyzer", False, 1, {uri: [native]})
    assert watch.wait_turn(saved).skip == "rust-analyzer checked this save and found no error"
    watch.report("rust-analyzer", errors=2, diagnostics={uri: [native, native]})
    assert not rechecks
    watch.report("rust-analyzer", errors=3, diagnostics={uri: [native]})  # two it did not hand over
    assert rechecks == [True]


def _by_uri(diagnostics: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for d in diagnostics:
        out.setdefault(d["uri"], []).append(d)
    return out


def _known(root: Path, reports: list[dict], since: float, overlays: dict[str, str] | None = None):
    """What the server hands the engine after rust-analyzer's check of a save at `since`."""
    known = known_errors(root, _by_uri(reports), overlays or {})
    if known is not None:
        known.cached = cached_messages(root / "target", since)
    return known


@pytest.mark.slow
def test_rust_analyzers_errors_count_only_as_rustc_wrote_them_for_this_text(tmp_path: Path):
    root = copy_example("broken-types", tmp_path / "ws")
    path = root / "src" / "lib.rs"
    text = path.read_text()
    since = time.time()
    reports = as_rust_analyzer_reports(root)
    own = {"uri": reports[0]["uri"], "source": "rust-analyzer", "code": "unresolved-macro-call",
           "message": "unresolved macro", "range": {"start": {"line": 0, "character": 0},
                                                    "end": {"line": 0, "character": 1}}}
    known = _known(root, [*reports, own], since)
    assert len(known.errors) == 4  # rust-analyzer's own analysis is not cargo's word
    line = text.split("\n").index("    shout(name)")
    [error] = [e for e in known.errors if e.code == "E0308" and text.encode()[e.byte_start:e.byte_end] == b"name"]
    assert (error.path, error.message) == ("src/lib.rs", "mismatched types")
    # rustc's own diagnostics, with what the editor never saw: the suggestion to borrow.
    diagnostics = known.diagnostics({"src/lib.rs": text.encode()})
    [mismatch] = [d for d in diagnostics if d.primary.byte_start == error.byte_start]
    assert mismatch.primary.line_start == line + 1
    assert any(r.new_text == "&" for s in mismatch.suggestions() for r in s.parts)
    # Not for another text, nor for fewer errors than cargo cached, nor for a stale cache.
    assert known.diagnostics({"src/lib.rs": ("// edited\n" + text).encode()}) is None
    assert _known(root, reports[:3], since).diagnostics({"src/lib.rs": text.encode()}) is None
    assert _known(root, reports, time.time() + 1).diagnostics({"src/lib.rs": text.encode()}) is None
    # An unsaved buffer is not what the flycheck read.
    assert known_errors(root, _by_uri(reports), {"src/lib.rs": text + "// unsaved\n"}) is None


@pytest.mark.slow
def test_rust_analyzers_errors_replace_the_first_check_once_the_engine_saw_them_agree(tmp_path: Path):
    root = types_checkout(tmp_path / "ws")  # a checkout with four slips since the commit
    path = root / "src" / "lib.rs"
    engine = PatchEngine(root, config_for(tmp_path / "memory"))

    def save(comment: str):
        path.write_text(path.read_text() + comment)
        since = time.time()
        return _known(root, as_rust_analyzer_reports(root), since)

    first = engine.fix(known=save(""))  # the first time: checked, and compared
    assert first.errors_from == "cargo" and len(first.fixes) == 4 and engine.companion_agrees is True
    engine.companion_agrees = False  # as after a save where they differed: checked again
    assert engine.fix(known=save("// saved once\n")).errors_from == "cargo" and engine.companion_agrees
    # Agreed: the next save goes straight to verifying candidates, one cargo run fewer, the same answers.
    skipped = engine.fix(known=save("// saved twice\n"))
    checked = PatchEngine(root, config_for(tmp_path / "memory-2")).fix()
    assert skipped.errors_from == "companion" and checked.errors_from == "cargo"

    def answers(report):
        return sorted((f.start.line, f.diagnostic.code, f.best.title if f.best else None) for f in report.fixes)

    assert answers(skipped) == answers(checked)
    assert sum(f.best is not None for f in skipped.fixes) >= 2
    assert skipped.cargo_runs < checked.cargo_runs


def test_without_a_companion_nothing_is_skipped_and_a_save_it_never_checked_is_checked(tmp_path: Path, monkeypatch):
    alone = FlycheckWatch(tmp_path, targets=[])
    turn = alone.wait_turn(time.monotonic())
    assert turn.skip is None and turn.waited_s < flycheck.GRACE_S  # no grace without a companion
    # rust-analyzer present but its flycheck never started (checkOnSave off): Rusta checks itself.
    monkeypatch.setattr(flycheck, "GRACE_S", 0.3)
    quiet = FlycheckWatch(tmp_path, targets=[])
    quiet.report("rust-analyzer", checking=False, errors=0)
    turn = quiet.wait_turn(time.monotonic())
    assert turn.skip is None and not turn.flycheck_seen


def test_a_newer_edit_cancels_the_wait(tmp_path: Path):
    watch = FlycheckWatch(tmp_path, targets=[])
    watch.report("rust-analyzer", checking=True)
    cancel = CancelToken()
    _after(0.3, cancel.cancel)
    started = time.monotonic()
    with pytest.raises(Cancelled):
        watch.wait_turn(time.monotonic(), cancel)
    assert time.monotonic() - started < 2


# --- the shadow's disk --------------------------------------------------------------------------


def _fill(root: Path, config, slot: int, size: int) -> None:
    mirror, target = slot_dirs(root, config, slot)
    for folder in (mirror, target / "debug"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "blob").write_bytes(os.urandom(size // 2))


def test_the_cap_removes_the_least_recently_used_slots_but_never_a_held_one(tmp_path: Path):
    root = copy_example("ledger", tmp_path / "ledger")
    config, _ = read_config({"memory": {"uri": str(tmp_path / "memory")}})
    slots = ShadowSlots(root, config)
    held = slots.claim("main", 2)  # slots 0 and 1, as the server's engine holds them
    for slot in (0, 1, 7, 8):
        _fill(root, config, slot, 400_000)
    drill = slots.claim("drill", 1)
    drill.release()  # slot 7: used after slot 8 was (never claimed), before nothing else
    sizes = slots.usage()
    assert set(sizes) == {0, 1, 7, 8} and all(size >= 400_000 for size in sizes.values())
    # Slot 0's target holds the other slots' targets; its size is its own.
    assert sizes[0] < 2 * 400_000

    pruned = slots.prune(sum(sizes.values()) - 1)  # one slot too many: the oldest free one goes
    assert pruned.removed == [8] and pruned.held == []
    assert not slot_dirs(root, config, 8)[0].exists() and not slot_dirs(root, config, 8)[1].exists()

    pruned = slots.prune(0)  # everything it may remove
    assert pruned.removed == [7] and sorted(pruned.held) == [0, 1]
    for slot in (0, 1):
        mirror, target = slot_dirs(root, config, slot)
        assert (mirror / "blob").exists() and (target / "debug" / "blob").exists()
    held.release()
    assert sorted(slots.prune(0).removed) == [0, 1]
    assert slots.usage() == {}


def test_rusta_clean_and_doctor_report_the_shadow(tmp_path: Path):
    root = copy_example("ledger", tmp_path / "ledger")
    memory = tmp_path / "memory"
    config, _ = read_config({"memory": {"uri": str(memory)}})
    _fill(root, config, 3, 1_000_000)
    rusta = [str(Path(SERVER_COMMAND[0])), "-m", "rusta_lsp.cli"]
    doctor = subprocess.run([*rusta, "doctor", "--json", "--memory", str(memory), str(root)],
                            capture_output=True, text=True)
    [shadow] = [c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "shadow"]
    assert shadow["ok"] and "1.0 MB in 1 slot(s)" in shadow["detail"] and "cap 10 GB" in shadow["detail"]
    clean = subprocess.run([*rusta, "clean", "--json", "--memory", str(memory), str(root)],
                           capture_output=True, text=True)
    result = json.loads(clean.stdout)
    assert result["removed"] == [3] and result["freed_bytes"] >= 1_000_000 and result["left_bytes"] == 0


# --- trust: no cargo where cargo.enable is off ------------------------------------------------------


@pytest.mark.slow
def test_rusta_fix_refuses_when_cargo_is_disabled(tmp_path: Path):
    marker = tmp_path / "marker"
    crate = planted_crate(tmp_path / "crate", marker)
    run = subprocess.run([*SERVER_COMMAND[:-1], "fix", "--memory", str(tmp_path / "memory"),
                          "--set", "cargo.enable=false", str(crate)], capture_output=True, text=True)
    assert run.returncode == 2 and "cargo.enable is false" in run.stderr
    assert not marker.exists()


def _server_env(tmp_path: Path) -> dict[str, str]:
    # Its own cache: the folders cargo has run in are remembered there.
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def planted(tmp_path: Path):
    marker = tmp_path / "marker"
    return planted_crate(tmp_path / "planted", marker), marker


@pytest.mark.slow
async def test_an_untrusted_folder_runs_no_cargo_until_cargo_is_enabled_and_the_first_run_is_announced(
        tmp_path: Path, planted):
    root, marker = planted
    client = make_test_lsp_client()
    statuses: list[dict] = []
    client.feature("rusta/status")(lambda params: statuses.append(plain(params)))
    await client.start_io(*SERVER_COMMAND, env=_server_env(tmp_path))
    options = {"memory": {"uri": str(tmp_path / "memory")}, "cargo": {"enable": False, "targetDir": str(tmp_path / "t")},
               "heartbeat": {"enabled": True, "idleSeconds": 0}, "abstain": {"targetPrecision": 0.5}}
    try:
        await client.initialize_session(init_params(root, options))
        uri = open_document(client, root / "src" / "lib.rs")
        client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
        await wait_until(lambda: any(s["cargoEnabled"] is False for s in statuses), timeout=60)
        drill = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="rusta.drillNow"))
        drill = plain(drill)
        assert drill["state"] in ("unavailable", "starting")
        await _sleep(8)  # the heartbeat is on with no idle time: it would drill now if it could
        assert not marker.exists(), "cargo ran in a folder with cargo.enable off"
        assert not client.diagnostics.get(uri)
        assert not any("build scripts" in m.message for m in client.messages)

        # The user trusts the folder: cargo runs, announced once before the first run.
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
            settings={"rusta": {**options, "cargo": {**options["cargo"], "enable": True}}}))
        await wait_until(lambda: marker.exists(), timeout=120)
        [notice] = [m for m in client.messages if "build scripts" in m.message]
        assert str(root) in notice.message and "cargo.enable" in notice.message
    finally:
        await client.shutdown_session()
        await client.stop()


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


# --- beside rust-analyzer: its word skips the check, its diagnostic is the hint's related one ---------


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def companion_client(lsp_client: LanguageClient, tmp_path: Path):
    root = copy_example("ledger", tmp_path / "ledger")
    lsp_client.statuses = []
    lsp_client.feature("rusta/status")(
        lambda params: lsp_client.statuses.append(plain(params)))
    options = {"memory": {"uri": str(tmp_path / "memory")}, "heartbeat": {"enabled": False},
               "cargo": {"targetDir": str(SHARED_TARGET)}, "abstain": {"targetPrecision": 0.5}}
    params = init_params(root, options)
    caps = client_capabilities()
    caps.text_document.publish_diagnostics = types.PublishDiagnosticsClientCapabilities(related_information=True)
    params.capabilities = caps
    lsp_client.root = root
    lsp_client.store = root / "src" / "store.rs"
    lsp_client.store_uri = from_fs_path(str(lsp_client.store))
    await lsp_client.initialize_session(params)
    # The engine's first check (no companion yet) ends clean.
    await wait_until(lambda: any((s.get("lastCheck") or "").startswith("0 error") for s in lsp_client.statuses),
                     timeout=120)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.slow
async def test_beside_rust_analyzer_a_clean_save_is_not_checked_twice_and_a_hint_points_at_its_error(
        companion_client: LanguageClient):
    client = companion_client
    statuses, path, uri = client.statuses, client.store, client.store_uri

    def save() -> None:
        client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))

    def companion(**params) -> None:
        client.protocol.notify("rusta/companion", {"name": "rust-analyzer", **params})

    companion(checking=False, errors=0)
    await wait_until(lambda: any(s.get("companion") == "rust-analyzer" for s in statuses))
    # A clean save: rust-analyzer's flycheck runs (Rusta waits, saying so), then reports no error.
    text = path.read_text()
    open_document(client, path, text)
    before = len(statuses)
    save()
    companion(checking=True)
    await wait_until(lambda: statuses[-1].get("checking") == "rust-analyzer")
    await _sleep(1.0)
    companion(checking=False, errors=0)
    await wait_until(lambda: (statuses[-1].get("lastCheck") or "").startswith("skipped"), timeout=30)
    assert not any(s.get("checking") == "rusta" for s in statuses[before:])

    # A broken save: rust-analyzer reports its error; Rusta checks after it and ties its hint to it.
    broken = text.replace("use std::collections::HashMap;\n", "")
    line = broken.split("\n").index(next(l for l in broken.split("\n") if "balances: HashMap" in l))
    column = broken.split("\n")[line].index("HashMap")
    theirs = {"uri": uri, "source": "rustc", "code": "E0412", "severity": 1,
              "message": "cannot find type `HashMap` in this scope",
              "range": {"start": {"line": line, "character": column}, "end": {"line": line, "character": column + 7}}}
    path.write_text(broken)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=broken)]))
    save()
    companion(checking=True)
    await _sleep(0.5)
    companion(checking=False, errors=1, diagnostics=[theirs])
    await wait_until(lambda: client.diagnostics.get(uri), timeout=120)
    hints = client.diagnostics[uri]
    assert hints and all(h.severity == types.DiagnosticSeverity.Hint and h.source == "rusta" for h in hints)
    [hint] = [h for h in hints if h.range.start.line == line]
    [related] = hint.related_information
    assert related.message == "rustc: cannot find type `HashMap` in this scope"  # the flycheck's source
    assert related.location.uri == uri and related.location.range.start.character == column
    assert any(s.get("checking") == "rusta" for s in statuses)
    assert statuses[-1]["shadowBytes"] and statuses[-1]["cargoEnabled"] is True


@pytest.mark.slow
async def test_beside_rust_analyzer_its_errors_replace_rustas_first_check_once_both_agreed(
        companion_client: LanguageClient):
    import asyncio

    client = companion_client
    statuses, path, uri = client.statuses, client.store, client.store_uri
    client.protocol.notify("rusta/companion", {"name": "rust-analyzer", "checking": False, "errors": 0})
    text = path.read_text()
    open_document(client, path, text)
    broken = text.replace("use std::collections::HashMap;\n", "")

    async def broken_save(version: int, tail: str) -> str:
        """A save rust-analyzer's flycheck finds errors in (cargo in the crate's target/, as its
        flycheck runs); Rusta's answer, as its status says."""
        new = broken + tail
        path.write_text(new)
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=new)]))
        before, last = len(statuses), statuses[-1].get("lastCheck")
        client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
        client.protocol.notify("rusta/companion", {"name": "rust-analyzer", "checking": True})
        reports = await asyncio.to_thread(as_rust_analyzer_reports, client.root)
        assert reports
        client.protocol.notify("rusta/companion", {"name": "rust-analyzer", "checking": False,
                                                   "errors": len(reports), "diagnostics": reports})

        def answered() -> str | None:
            return next((s["lastCheck"] for s in statuses[before:] if s.get("lastCheck") not in (last, None)), None)

        await wait_until(answered, timeout=120)
        return answered()

    first = await broken_save(2, "")  # checked by Rusta, and compared with rust-analyzer's
    assert "fixed" in first and "rust-analyzer" not in first
    second = await broken_save(3, "// saved again\n")
    assert second.endswith("the errors from rust-analyzer's check") and not second.startswith("0 error")
    await wait_until(lambda: client.diagnostics.get(uri), timeout=60)
    assert any(h.message.startswith("verified fix: add `use std::collections::HashMap;`") for h in client.diagnostics[uri])
