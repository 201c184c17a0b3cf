"""Reflection: compress the devlog and the drills into per-error-code statistics and principles.

A principle is a short, anchored sentence ("E0382 in src/store.rs is fixed by cloning, 5 times
in 6") with the file lines that back it. Recurrence re-checks stored principles and exemplars
against the current files: an anchor whose text is gone retires its row, and every change of
mind is written to the devlog as a `self_diff` ("old me said X — do I still agree?").
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from ..cancel import CancelToken
from ..patches.confidence import OUTCOME_EVENT
from .drills import OUTCOMES

PRINCIPLES = "principles"
EXEMPLARS = "exemplars"
DRILLS = "drills"
MIN_SUPPORT = 2  # observations before a pattern becomes a principle
MAX_ANCHORS = 5

# How the fix for each mutation kind reads in a principle.
FIX_PHRASES = {
    "remove_use": "importing the missing name",
    "misspell_ident": "correcting the name to the similar one in scope",
    "misspell_method": "correcting the method name",
    "misspell_field": "correcting the field name",
    "misspell_type": "correcting the type name",
    "drop_ref": "borrowing with `&`",
    "drop_deref": "dereferencing with `*`",
    "drop_mut": "declaring the binding `mut`",
    "drop_clone": "cloning",
    "drop_try": "propagating the error with `?`",
    "change_numeric": "restoring the numeric type",
    "remove_field_init": "initialising the missing field",
    "remove_argument": "passing the missing argument",
    "remove_match_arm": "adding the missing match arm",
}


def _rows(memory, table: str) -> list[dict]:
    try:
        return memory.rows(table)
    except Exception:  # noqa: BLE001 — a table that does not exist yet has no rows
        return []


def _line_text(root: Path, path: str, line: int, cache: dict[str, list[str] | None]) -> str | None:
    if path not in cache:
        try:
            cache[path] = (root / path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            cache[path] = None
    lines = cache[path]
    if lines is None or not 1 <= line <= len(lines):
        return None
    return lines[line - 1].strip()


# --- statistics ----------------------------------------------------------------------------------


def code_stats(events: list[dict], drills: list[dict]) -> dict[str, dict]:
    """Per error code: how often it was seen, drilled, fixed, accepted, and how well calibrated."""
    stats: dict[str, dict] = {}

    def entry(code: str) -> dict:
        return stats.setdefault(code or "?", {
            "seen": 0, "drills": 0, "restored": 0, "abstained": 0, "applied": 0, "rejected": 0,
            "user_fixes": 0, "confidence_sum": 0.0, "gap_sum": 0.0, "scored": 0,
        })

    for event in events:
        payload = event.get("payload") or {}
        if event["kind"] == "diagnostic":
            entry(payload.get("code", ""))["seen"] += 1
        elif event["kind"] == OUTCOME_EVENT and not payload.get("drill"):  # the user's verdict on a patch
            entry(payload.get("code", ""))["applied" if payload.get("correct") else "rejected"] += 1
        elif event["kind"] == "user_fix":
            entry(payload.get("code", ""))["user_fixes"] += 1
    for row in drills:
        if row.get("outcome") not in OUTCOMES:
            continue
        e = entry(row.get("code", ""))
        e["drills"] += 1
        e["restored"] += row["outcome"] == "restored"
        e["abstained"] += row["outcome"] == "abstained"
        if row.get("confidence") is not None:
            e["scored"] += 1
            e["confidence_sum"] += row["confidence"]
            e["gap_sum"] += abs(row["confidence"] - float(bool(row.get("correct"))))
    for e in stats.values():
        e["fix_rate"] = round(e["restored"] / e["drills"], 4) if e["drills"] else None
        e["mean_confidence"] = round(e.pop("confidence_sum") / e["scored"], 4) if e["scored"] else None
        e["calibration_gap"] = round(e.pop("gap_sum") / e["scored"], 4) if e["scored"] else None
    return dict(sorted(stats.items()))


# --- principles ----------------------------------------------------------------------------------


def derive_principles(drills: list[dict], exemplars: list[dict], root: Path) -> list[dict]:
    """Group labelled drills by (code, file, fix) and the user's own fixes by (code, file, change)."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in drills:
        if row.get("outcome") in OUTCOMES and row.get("code") and row.get("kind") in FIX_PHRASES:
            groups.setdefault((row["code"], row["path"], FIX_PHRASES[row["kind"]]), []).append(row)
    cache: dict[str, list[str] | None] = {}
    principles = []
    for (code, path, fix), rows in sorted(groups.items()):
        if len(rows) < MIN_SUPPORT:
            continue
        right = sum(r["outcome"] == "restored" for r in rows)
        verdict = "is fixed by" if right * 2 > len(rows) else "is not reliably fixed by"
        text = f"{code} in {path} {verdict} {fix}: {right} times in {len(rows)} drills"
        principles.append(_principle(code, path, fix, text, right, len(rows), "drills",
                                     [(r["path"], r["line"], r.get("snippet")) for r in rows], root, cache))
    by_user: dict[tuple[str, str, str], list[dict]] = {}
    for row in exemplars:
        if row.get("retired") or not row.get("code"):
            continue
        change = _describe_exemplar(row)
        by_user.setdefault((row["code"], row.get("path", ""), change), []).append(row)
    for (code, path, change), rows in sorted(by_user.items()):
        if len(rows) < MIN_SUPPORT:
            continue
        text = f"{code} in {path} was fixed by you with {change}, {len(rows)} times"
        anchors = [(r.get("path", path), r["line"], r.get("snippet")) for r in rows if r.get("line")]
        principles.append(_principle(code, path, change, text, len(rows), len(rows), "user fixes",
                                     anchors, root, cache))
    return principles


def _describe_exemplar(row: dict) -> str:
    if row.get("kind") == "wrap":
        return f"`{row.get('prefix', '')}…{row.get('suffix', '')}` around the flagged code"
    return f"`{row.get('before', '')}` → `{row.get('after', '')}`"


def _principle(code, path, fix, text, right, total, evidence, sites, root, cache) -> dict:
    """A principle anchored at the sites whose line still reads as when it was observed.

    No live anchor, no claim: such a principle is stored retired.
    """
    anchors = []
    for site_path, line, snippet in sorted(set(sites), key=lambda s: (s[0], s[1]))[:MAX_ANCHORS]:
        current = _line_text(root, site_path, line, cache)
        if current and (snippet is None or current == snippet.strip()):
            anchors.append({"path": site_path, "start_line": line, "end_line": line,
                            "kind": "history", "snippet": current})
    ident = hashlib.sha256(f"{code}|{path}|{fix}|{evidence}".encode()).hexdigest()[:16]
    return {"id": ident, "code": code, "path": path, "fix": fix, "text": text, "right": right,
            "total": total, "evidence": evidence, "anchors": anchors, "retired": not anchors,
            "retired_reason": None if anchors else "no anchor still shows the code it was learned from",
            "verified_ts": time.time()}


# --- recurrence ----------------------------------------------------------------------------------


def stale_reason(row: dict, root: Path, cache: dict) -> str | None:
    """Why a stored principle or exemplar no longer holds for the current files, or None."""
    anchors = row.get("anchors")
    if anchors is not None:
        live = [a for a in anchors if _line_text(root, a["path"], a["start_line"], cache) == a.get("snippet")]
        if anchors and not live:
            return "none of its anchors still shows the code it was learned from"
        return None
    path = row.get("path")
    if path and _line_text(root, path, 1, cache) is None and not (root / path).is_file():
        return f"{path} no longer exists"
    after = row.get("after")
    if row.get("kind") == "replace" and after and path and cache.get(path) is not None:
        if not any(after in line for line in cache[path] or []):
            return f"`{after}` no longer appears in {path}"
    return None


def reflect(memory, root: Path, cancel: CancelToken | None = None) -> dict:
    """One reflection pass: statistics, principles (with self-diffs), re-verification, compaction."""
    root = Path(root)
    cancel = cancel or CancelToken()
    started = time.monotonic()
    events = memory.events()
    drills = _rows(memory, DRILLS)
    stats = code_stats(events, drills)
    cancel.check()

    # Principles: re-derive, and say so where the new view differs from the stored one.
    stored = {p["id"]: p for p in _rows(memory, PRINCIPLES)}
    fresh = derive_principles(drills, _rows(memory, EXEMPLARS), root)
    diffs = 0
    for p in fresh:
        old = stored.get(p["id"])
        if old is not None and (old.get("text"), old.get("retired")) != (p["text"], p["retired"]):
            diffs += 1
            memory.log_event("self_diff", {
                "table": PRINCIPLES, "id": p["id"], "before": old.get("text"),
                "after": None if p["retired"] else p["text"], "reason": p.get("retired_reason"),
                "agree": not p["retired"] and _same_verdict(old, p)}, p["path"])
    cancel.check()

    # Recurrence: stored rows that the current code no longer supports retire.
    cache: dict[str, list[str] | None] = {}
    fresh_ids = {p["id"] for p in fresh}
    retired: dict[str, list[dict]] = {PRINCIPLES: [], EXEMPLARS: []}
    for table, rows in ((PRINCIPLES, [p for i, p in stored.items() if i not in fresh_ids]),
                        (EXEMPLARS, _rows(memory, EXEMPLARS))):
        for row in rows:
            reason = None if row.get("retired") else stale_reason(row, root, cache)
            if reason is not None:
                retired[table].append({**row, "retired": True, "retired_reason": reason})
                memory.log_event("self_diff", {
                    "table": table, "id": row["id"], "before": row.get("text") or _describe_exemplar(row),
                    "after": None, "reason": reason, "agree": False}, row.get("path"))
    for table, rows in ((PRINCIPLES, fresh + retired[PRINCIPLES]), (EXEMPLARS, retired[EXEMPLARS])):
        if rows:
            memory.put_rows(table, rows, "id")
    cancel.check()

    compacted = not memory.read_only
    if compacted:
        memory.compact()
    summary = {
        "codes": len(stats),
        "principles": sum(not p["retired"] for p in fresh),
        "retired": sum(p["retired"] for p in fresh) + sum(len(rows) for rows in retired.values()),
        "self_diffs": diffs + sum(len(rows) for rows in retired.values()),
        "compacted": compacted,
        "seconds": round(time.monotonic() - started, 3),
    }
    memory.log_event("reflection", summary)
    return {**summary, "stats": stats}


def _same_verdict(old: dict, new: dict) -> bool:
    def holds(p: dict) -> bool:
        return p.get("total", 0) > 0 and p.get("right", 0) * 2 > p.get("total", 0)
    return holds(old) == holds(new)
