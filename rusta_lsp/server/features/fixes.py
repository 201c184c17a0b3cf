"""Verified fixes: hint diagnostics where cargo accepted a patch, quick fixes with confidence.

An error that follows from another (it vanishes with the other's patch) gets a hint that says so,
pointing at its root, and no code action. So does one whose every candidate a never-rule held
back (it would fill an unfinished body, change what a test expects, ...): the hint gives the reason.

On save (debounced) the patch engine checks the workspace in its shadow, with open buffers
overlaid; a newer edit cancels the running check. The compile-verified result is published at
once; then the tests related to each verified patch run (the second oracle) and the result is
published again with their evidence, a patch that broke a passing test gone. Code actions are answered from the engine's
last report only (no cargo on that path); their edits are filled in by codeAction/resolve when
the client supports it. `rusta.feedback` records whether an applied patch was right.

Beside rust-analyzer: the check waits for its flycheck (and any cargo holding the user's build
lock), and is skipped when the client reports that rust-analyzer found no error in this save
(`rusta/companion`, see patches/flycheck.py). When it found errors and the client handed them all
over, they go to the engine, which verifies candidates without a first check of its own once it
has seen rust-analyzer's errors agree with its own. The hints never repeat rustc's error: each is tied
to a verified fix and points at rust-analyzer's diagnostic (or rustc's) as related information.
No cargo runs while `cargo.enable` is off; the first run in a folder is announced once.
`rusta/status` tells the client who checks now and what the shadow takes on disk;
`rusta.cleanShadow` empties the shadow slots.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from lsprotocol import types

from ...analysis.positions import LineIndex
from ...patches.candidate import Candidate, DiagnosticFix, patched
from ...patches.confidence import OUTCOME_EVENT
from ...patches.engine import FixReport, PatchEngine
from ...patches.flycheck import KnownErrors, ReportedError, cached_messages
from ...patches.testing import checked_phrase
from ...cancel import Cancelled, CancelToken
from ...safe_read import Unreadable, read_file
from .. import convert
from ..documents import path_to_uri, relative_to, uri_to_path
from ..app import Feature

log = logging.getLogger(__name__)
DEBOUNCE_S = 0.3
COMPANION = "rusta/companion"
STATUS = "rusta/status"
CLEAN_SHADOW = "rusta.cleanShadow"
PRUNE_EVERY_S = 60.0  # measuring the shadow walks its target directories: not after every check


def action_title(cand: Candidate) -> str:
    """`Rusta: add `mut` (compiles, 2 related tests pass, 94%)`: what was checked, and the confidence."""
    return f"Rusta: {cand.title} ({checked_phrase(cand)}, {cand.confidence:.0%})"


def hint_message(fix: DiagnosticFix) -> str | None:
    """The hint for a diagnostic: its verified fix, the error it follows from, or why Rusta will
    not touch what the author meant (a never-rule held the candidates back); None when there is
    nothing to say."""
    if fix.best is not None:
        return f"verified fix: {fix.best.title} ({checked_phrase(fix.best)}, {fix.best.confidence:.0%})"
    if fix.follows is not None:
        return fix.reason
    return f"no fix offered: {fix.held_back}" if fix.held_back else None


def _on_disk(path: Path, root: Path, data: bytes) -> bool:
    """Whether the workspace file at `path` holds exactly `data`."""
    try:
        return read_file(path, root, limit=len(data)) == data
    except (OSError, Unreadable):
        return False


class FixesFeature(Feature):
    name = "fixes"

    def __init__(self, server, session):
        super().__init__(server, session)
        self.engine: PatchEngine | None = None
        self._cancel = CancelToken()  # the running check's: a newer edit or save cancels it
        self._running: CancelToken | None = None  # the token of the check under way, None between checks
        self._generation = 0
        self._published: set[str] = set()
        self._saved_at: float | None = None  # monotonic time of the last save (None: none yet)
        self._checking: str | None = None  # who checks now, for rusta/status
        self._last_check: str | None = None
        self._shadow_bytes: int | None = None
        self._measured_at = float("-inf")
        self._status_sent: dict | None = None

    def register(self) -> None:
        self.handle(types.TEXT_DOCUMENT_CODE_ACTION, self.code_action, types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.QuickFix], resolve_provider=True))
        self.handle(types.CODE_ACTION_RESOLVE, self.resolve)
        self.handle_command("rusta.feedback", self.feedback)
        self.handle_command(CLEAN_SHADOW, self.clean_shadow)
        self.handle(COMPANION, self.companion, every_root=True)

    # --- running the engine ------------------------------------------------------------------

    async def on_initialized(self) -> None:
        if self.session is None:
            return
        flycheck = self.session.flycheck
        flycheck.on_late_errors = lambda: self.server.call_soon(self.schedule)
        if not self.session.config.cargo.enable:
            log.info("fixes: cargo.enable is false: no cargo runs in %s", self.session.root)
            self.send_status()
        elif (self.session.root / "Cargo.toml").is_file():
            self.server.spawn(self._start(), "fixes: start the engine")
        self.server.spawn(self._measure(), "fixes: measure the shadow")

    async def _start(self) -> None:
        """The engine checks with the memory's imports and exemplars: it waits for the memory."""
        memory = await self.memory()
        if self.stopping.is_set():
            return
        self.engine = await self.server.run_behind(self._new_engine, memory)
        self.schedule()

    def _new_engine(self, memory) -> PatchEngine:
        session = self.session
        return PatchEngine(session.root, session.config, memory, slots=session.slots,
                           calibrators=session.calibrators)

    async def on_config_changed(self, changed: set[str]) -> None:
        """The engine reads cargo's arguments, the abstention target and the models: a new one
        when they change, in the old one's shadow slots (closed first, once its check stopped).
        `cargo.enable` off closes it (and clears its hints); on starts one."""
        if not any(k.split(".")[0] in ("cargo", "abstain", "model", "device") for k in changed):
            return
        old = self.engine
        self.engine = None
        self._cancel.cancel()
        if old is not None:
            await self.server.run_behind(old.close)
        if not self.session.config.cargo.enable:
            self.publish(None)
            self.send_status()
        elif old is not None:
            self.engine = await self.server.run_behind(self._new_engine, old.memory)
            self.schedule()
        elif (self.session.root / "Cargo.toml").is_file():
            self.server.spawn(self._start(), "fixes: start the engine")

    async def on_document_changed(self, doc) -> None:
        running = self._running is not None and not self._running.is_set()
        self._cancel.cancel()  # the running check answers for text that no longer exists
        # Neovim sends a debounced didChange after the didSave of the same text: a change to the
        # text on disk is the save's late news, and the save is checked again with it.
        if running and doc.path is not None and await self.server.run_blocking(
                _on_disk, doc.path, self.session.root, doc.data):
            self.schedule()

    async def on_document_saved(self, doc) -> None:
        self._saved_at = time.monotonic()
        if self.session is not None:
            self.session.flycheck.skipped = False  # errors from now on are this save's, not late ones
        self.schedule()

    async def companion(self, params: Any) -> None:
        """`rusta/companion {name, checking?, errors?, diagnostics?}`: what the client sees of
        rust-analyzer (its flycheck running, its error count, its error diagnostics, each with
        its `uri`). A coroutine, as `didSave`'s handler is: the two run in the order they came,
        so a flycheck that starts after a save is never taken for one before it."""
        get = (params.get if isinstance(params, dict) else lambda k: getattr(params, k, None))
        name = get("name")
        if self.session is None or not isinstance(name, str):
            return
        checking, errors, diagnostics = get("checking"), get("errors"), get("diagnostics")
        encoding = get("positionEncoding")
        by_uri: dict[str, list[dict]] | None = None
        if isinstance(diagnostics, (list, tuple)):  # [{uri, range, message, code, source}]
            by_uri = {}
            for diagnostic in map(_plain, diagnostics):
                if isinstance(diagnostic, dict) and isinstance(diagnostic.get("uri"), str):
                    by_uri.setdefault(diagnostic["uri"], []).append(diagnostic)
        log.debug("fixes: %s says checking=%s errors=%s", name, checking, errors)
        self.session.flycheck.report(
            name, checking if isinstance(checking, bool) else None,
            errors if isinstance(errors, int) and not isinstance(errors, bool) else None, by_uri,
            encoding if encoding in ("utf-8", "utf-16", "utf-32") else None)
        self.send_status()

    async def on_shutdown(self) -> None:
        self._cancel.cancel()
        if not self.server.stopping.is_set():  # the workspace left the window; the server serves on
            engine, self.engine = self.engine, None
            if engine is not None:
                await self.server.run_behind(engine.close)  # its shadow slots, for a later session
            self.publish(None)

    def schedule(self) -> None:
        """Debounced: the newest request wins, the running one is cancelled."""
        self._cancel.cancel()
        self._generation += 1
        self.server.spawn(self._run(self._generation), "fixes: check")

    async def _run(self, generation: int) -> None:
        await asyncio.sleep(DEBOUNCE_S)
        if generation != self._generation or self.engine is None:
            return
        self._cancel = self._running = cancel = CancelToken()
        overlays = {d.rel: d.text for d in self.documents()}  # the shadow keeps those inside
        engine = self.engine
        report = None
        try:
            turn = await self._wait_turn(cancel)
            if turn is None:
                return
            if turn.waited_s >= 0.1:
                log.info("fixes: waited %.1fs for another check of the workspace", turn.waited_s)
            if turn.skip:
                log.info("fixes: check skipped after %.1fs: %s", turn.waited_s, turn.skip)
                if generation == self._generation:
                    self.publish(None)
                self._last_check = f"skipped: {turn.skip}"
                self.send_status()
                return
            if self.session.first_cargo_run():
                self.server.show_message(
                    f"Rusta runs `cargo check` in a copy of {self.session.root} to verify its fixes; "
                    "cargo runs the crate's build scripts and procedural macros. If you do not trust "
                    "this folder, set cargo.enable to false.", types.MessageType.Info)
            known = await self.server.run_behind(self._known, turn.known, overlays) if turn.known else None
            if turn.known and known is None:
                log.info("fixes: %s's errors cannot stand in for a check: an open buffer is unsaved, or an "
                         "error lies outside the workspace", self.session.flycheck.companion)
            self._set_checking("rusta")
            last = engine.last
            async with self.progress("Rusta: checking fixes", cancel=cancel) as progress:
                report = await self.server.run_behind(engine.fix, overlays, progress.cancel, True, known)
        finally:
            if self._running is cancel:
                self._running = None
            self._set_checking(None)
        if report is None:
            log.info("fixes: check cancelled by a newer edit")
            return
        whose = f"; the errors from {self.session.flycheck.companion}'s check" if report.errors_from != "cargo" else ""
        if report is last:
            whose += "; the text last checked, its report stands"
        log.info("fixes: %d error(s), %d with a verified fix, %d cargo run(s) in %.1fs%s", len(report.fixes),
                 sum(f.best is not None for f in report.fixes), report.cargo_runs, report.seconds, whose)
        if generation != self._generation:
            return
        self.publish(report)
        self._last_check = f"{len(report.fixes)} error(s), {sum(f.best is not None for f in report.fixes)} fixed{whose}"
        self.send_status()
        self.server.spawn(self._measure(), "fixes: measure the shadow")
        if not any(c.tests is None for f in report.fixes for c in f.patches):
            return  # nothing compiled, or every patch came from the cache with its evidence
        tested = None
        async with self.progress("Rusta: running related tests", cancel=cancel) as progress:
            tested = await self.server.run_behind(engine.test, report, progress.cancel)
        if tested is not None and generation == self._generation:
            self.publish(tested)

    async def _wait_turn(self, cancel: CancelToken):
        """Wait until rust-analyzer's flycheck and any cargo on the user's build directory are done
        (a `$/progress` says so while it lasts); None when a newer edit cancelled the wait."""
        flycheck = self.session.flycheck

        def waiting(who: str) -> None:
            self.server.call_soon(self._set_checking, who)

        try:
            return await self.server.run_behind(flycheck.wait_turn, self._saved_at, cancel, waiting)
        except Cancelled:
            return None

    def _known(self, by_uri: dict[str, list[dict]], overlays: dict[str, str]) -> KnownErrors | None:
        """The companion's errors of this save, with what its cargo cached of them."""
        flycheck = self.session.flycheck
        known = known_errors(self.session.root, by_uri, overlays, flycheck.position_encoding)
        if known is not None and self._saved_at is not None:
            saved = time.time() - (time.monotonic() - self._saved_at)
            known.cached = [d for target in flycheck.targets for d in cached_messages(target, saved)]
        return known

    def _set_checking(self, who: str | None) -> None:
        if who != self._checking:
            self._checking = who
            self.send_status()

    def send_status(self) -> None:
        """`rusta/status`: whether cargo may run, the companion, who checks now, the shadow's size."""
        if self.session is None:
            return
        flycheck = self.session.flycheck
        status = {
            "cargoEnabled": self.session.config.cargo.enable, "companion": flycheck.companion,
            "checking": self._checking, "lastCheck": self._last_check, "shadowBytes": self._shadow_bytes,
        }
        if status != self._status_sent:  # the client reports rust-analyzer's every publish: say news only
            self._status_sent = status
            self.server.notify(STATUS, status)

    async def _measure(self) -> None:
        """The shadow's size for the status, and the cap: old slots beyond it are removed."""
        if time.monotonic() - self._measured_at < PRUNE_EVERY_S:
            return
        self._measured_at = time.monotonic()
        config = self.session.config.cargo
        cap = config.shadow_max_gigabytes * 1e9 if config.shadow_max_gigabytes else float("inf")
        pruned = await self.server.run_behind(self.session.slots.prune, cap)
        if pruned.removed:
            log.info("fixes: the shadow took %.1f GB, over cargo.shadowMaxGigabytes: removed slots %s",
                     pruned.before / 1e9, pruned.removed)
        self._shadow_bytes = pruned.after
        self.send_status()

    async def clean_shadow(self, params: Any) -> dict:
        """`rusta.cleanShadow`: remove every shadow slot (the engine's own too: it lets them go
        first and starts cold). Slots another process holds stay."""
        old, self.engine = self.engine, None
        self._cancel.cancel()
        if old is not None:
            await self.server.run_behind(old.close)
        pruned = await self.server.run_behind(self.session.slots.prune, 0)
        self._shadow_bytes, self._measured_at = pruned.after, time.monotonic()
        if old is not None:
            self.engine = await self.server.run_behind(self._new_engine, old.memory)
        self.send_status()
        return {"freedBytes": pruned.before - pruned.after, "leftBytes": pruned.after, "held": pruned.held}

    def _related(self, uri: str, span_range: types.Range, fix: DiagnosticFix) -> list[types.DiagnosticRelatedInformation] | None:
        """The error the hint belongs to: rust-analyzer's diagnostic when the client handed it over
        (same range or code), else rustc's own message; None when the client shows none."""
        caps = self.server.client_capabilities.text_document
        publish = caps.publish_diagnostics if caps else None
        if not (publish and publish.related_information):
            return None
        for theirs in self.session.flycheck.diagnostics.get(uri, []):
            rng = _lsp_range(theirs.get("range"))
            if rng is not None and (rng == span_range or (theirs.get("code") == fix.diagnostic.code and _overlap(rng, span_range))):
                source = theirs.get("source") or self.session.flycheck.companion or "rust-analyzer"
                return [types.DiagnosticRelatedInformation(
                    location=types.Location(uri=uri, range=rng), message=f"{source}: {theirs.get('message', '')}")]
        return [types.DiagnosticRelatedInformation(
            location=types.Location(uri=uri, range=span_range), message=f"rustc: {fix.diagnostic.message}")]

    def publish(self, report: FixReport | None) -> None:
        """Hints where a verified fix exists, an error follows from another, or a never-rule held
        every candidate back (never an error: rustc's error is rust-analyzer's to show); None
        clears them all."""
        by_uri: dict[str, list[types.Diagnostic]] = {}
        for fix in report.fixes if report is not None else []:
            message, root = hint_message(fix), fix.follows
            if message is None:
                continue
            uri = path_to_uri(self.session.root / fix.path)
            span_range = self._range(report, fix)
            hint = types.Diagnostic(range=span_range, severity=types.DiagnosticSeverity.Hint,
                                    source="rusta", code=fix.diagnostic.code, message=message)
            if root is not None:
                root_at = types.Location(uri=path_to_uri(self.session.root / root.path),
                                         range=self._range(report, root))
                hint.related_information = [types.DiagnosticRelatedInformation(
                    location=root_at, message=f"the error it follows from: {root.diagnostic.message}")]
            else:
                hint.related_information = self._related(uri, span_range, fix)
            by_uri.setdefault(uri, []).append(hint)
        for uri in self._published - set(by_uri):
            by_uri[uri] = []  # clear files whose fixes are gone
        for uri, diagnostics in by_uri.items():
            self.server.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics))
        self._published = {uri for uri, ds in by_uri.items() if ds}

    def _range(self, report: FixReport, fix: DiagnosticFix) -> types.Range:
        index = LineIndex(report.contents[fix.path])
        span = fix.diagnostic.primary
        encoding = self.server.workspace.position_encoding
        return types.Range(start=convert.position(index, span.byte_start, encoding),
                           end=convert.position(index, span.byte_end, encoding))

    # --- code actions from the cache ---------------------------------------------------------

    def _current(self, uri: str) -> tuple[FixReport, str] | None:
        """The last report and the document's path, if the document still reads as cargo saw it."""
        report = self.engine.last if self.engine else None
        if report is None:
            return None
        doc = self.server.documents.get(uri)  # editors ask for the actions of open documents
        if doc is None or report.contents.get(doc.rel) != doc.text.encode("utf-8"):
            return None  # edited since the check: the offsets no longer hold
        return report, doc.rel

    def code_action(self, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        current = self._current(params.text_document.uri)
        if current is None:
            return None
        report, rel = current
        encoding = self.server.workspace.position_encoding
        index = LineIndex(report.contents[rel])
        start = convert.offset(index, params.range.start, encoding)
        end = convert.offset(index, params.range.end, encoding)
        resolve = self._client_resolves_edits()
        actions = []
        seen = set()  # edit sets offered: two errors on the range with one fix (a `use`) get one action
        for n, fix in enumerate(report.fixes):
            span = fix.diagnostic.primary
            if fix.path != rel or fix.best is None or span.byte_end < start or span.byte_start > end:
                continue
            offered = [c for c in fix.patches if c.confidence >= report.threshold]
            for rank, cand in enumerate(offered):
                if cand.edit_key in seen:
                    continue
                seen.add(cand.edit_key)
                action = types.CodeAction(
                    title=action_title(cand), kind=types.CodeActionKind.QuickFix,
                    is_preferred=rank == 0, data={"uri": params.text_document.uri, "fix": n, "patch": rank},
                )
                if not resolve:
                    self._complete(action, report, fix, cand)
                actions.append(action)
        return actions or None

    def resolve(self, action: types.CodeAction) -> types.CodeAction:
        data = action.data if isinstance(action.data, dict) else {}
        current = self._current(data.get("uri", ""))
        if current is not None:
            report, _ = current
            fixes = report.fixes
            n, rank = data.get("fix", -1), data.get("patch", -1)
            if 0 <= n < len(fixes) and 0 <= rank < len(fixes[n].patches):
                self._complete(action, report, fixes[n], fixes[n].patches[rank])
        return action

    def _complete(self, action: types.CodeAction, report: FixReport, fix: DiagnosticFix, cand: Candidate) -> None:
        """The edit, and the feedback command that records the patch as accepted when applied.
        (Sent at resolve time when the client resolves: some clients read any code action with
        a `command` as a bare Command.)"""
        action.edit = self._workspace_edit(report, cand)
        action.command = types.Command(title="Rusta: record feedback", command="rusta.feedback",
                                       arguments=[self._feedback_args(fix, cand, True)])

    def _client_resolves_edits(self) -> bool:
        caps = self.server.client_capabilities.text_document
        code_action = caps.code_action if caps else None
        support = code_action.resolve_support if code_action else None
        return bool(support and "edit" in support.properties)

    def _workspace_edit(self, report: FixReport, cand: Candidate) -> types.WorkspaceEdit:
        encoding = self.server.workspace.position_encoding
        changes: dict[str, list[types.TextEdit]] = {}
        for edit in cand.edits:
            index = LineIndex(report.contents[edit.path])
            changes.setdefault(path_to_uri(self.session.root / edit.path), []).append(types.TextEdit(
                range=types.Range(start=convert.position(index, edit.start, encoding),
                                  end=convert.position(index, edit.end, encoding)),
                new_text=edit.new_text))
        return types.WorkspaceEdit(changes=changes)

    # --- feedback ------------------------------------------------------------------------------

    def _feedback_args(self, fix: DiagnosticFix, cand: Candidate, accepted: bool) -> dict:
        # `uri`: the server routes the command to the workspace of the file (several in a window).
        return {"uri": path_to_uri(self.session.root / fix.path), "code": fix.diagnostic.code or "",
                "source": cand.source, "title": cand.title,
                "confidence": round(cand.confidence, 4), "path": fix.path, "line": fix.start.line,
                "accepted": accepted, "features": cand.extra.get("features")}

    def feedback(self, params: Any) -> dict:
        """`rusta.feedback {uri, code, source, title, path, line, accepted, features}`: to the devlog; an accepted
        patch's text is remembered so it is not learned back as the user's own fix."""
        args = params[0] if isinstance(params, (list, tuple)) and params else params
        if hasattr(args, "_asdict"):
            args = args._asdict()
        if not isinstance(args, dict):
            return {"recorded": False}
        memory = self.session.memory_now() if self.session is not None else None
        if memory is not None and memory.read_only:  # another process writes it for now
            memory = None
        if memory is not None:
            # With the features the model saw, the heartbeat trains the confidence on this verdict.
            verdict = {"code": args.get("code", ""), "source": args.get("source", ""),
                       "correct": bool(args.get("accepted")), "features": args.get("features")}
            memory.log_event(OUTCOME_EVENT, verdict, args.get("path"), args.get("line"))
            if isinstance(verdict["features"], list):  # a training row for the team's model too
                ident = hashlib.sha256(json.dumps([verdict, args.get("title"), time.time()]).encode()).hexdigest()[:16]
                memory.share("training", [{**verdict, "id": ident, "origin": "feedback"}])
        if args.get("accepted") and self.engine and self.engine.last:
            last = self.engine.last
            for fix in last.fixes:
                for cand in fix.patches:
                    if cand.title == args.get("title") and fix.path == args.get("path"):
                        self.engine.note_applied(patched(last.contents, cand.edits))
        return {"recorded": memory is not None}


def known_errors(root, by_uri: dict[str, list[dict]], overlays: dict[str, str],
                 encoding: str = "utf-16") -> KnownErrors | None:
    """rustc's errors among the companion's diagnostics (LSP dicts by URI, ranges in `encoding`),
    in byte offsets of the files as Rusta checks them (`overlays`: the open buffers); None when
    they cannot stand in for a check: an open buffer is not what the flycheck read (unsaved), or
    an error lies outside the workspace."""
    if not all(_on_disk(root / rel, root, text.encode("utf-8")) for rel, text in overlays.items()):
        return None
    errors, texts, indexes = [], {}, {}
    for uri, diagnostics in by_uri.items():
        for d in diagnostics:
            if d.get("source") != "rustc":
                continue  # rust-analyzer's own analysis, or clippy: not what `cargo check` says
            code = d.get("code")
            rng = _lsp_range(d.get("range"))
            path = uri_to_path(uri)
            rel = relative_to(root, path, uri)
            if rng is None or path is None or rel == path.as_posix():
                return None
            if rel not in texts:
                try:
                    texts[rel] = overlays[rel].encode("utf-8") if rel in overlays else read_file(root / rel, root)
                except (OSError, Unreadable):
                    return None
                indexes[rel] = LineIndex(texts[rel])
            index = indexes[rel]
            errors.append(ReportedError(
                rel, convert.offset(index, rng.start, encoding), convert.offset(index, rng.end, encoding),
                str(d.get("message") or "").split("\n")[0], None if code is None else str(code)))
    return KnownErrors(errors, texts)


def _plain(value: Any) -> Any:
    """A JSON value as pygls hands it (named tuples for objects) turned back into dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _lsp_range(raw: Any) -> types.Range | None:
    try:
        start, end = raw["start"], raw["end"]
        return types.Range(start=types.Position(line=int(start["line"]), character=int(start["character"])),
                           end=types.Position(line=int(end["line"]), character=int(end["character"])))
    except (KeyError, TypeError, ValueError):
        return None


def _overlap(a: types.Range, b: types.Range) -> bool:
    def key(p: types.Position) -> tuple[int, int]:
        return p.line, p.character

    return key(a.start) <= key(b.end) and key(b.start) <= key(a.end)
