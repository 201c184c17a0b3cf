"""`rusta report`: what the heartbeat learned — fix rate and calibration per error code over
time, fix rate and precision per edit kind, weak spots, retired classes, principles — as JSON or
as one HTML file with PNG plots."""

from __future__ import annotations

import base64
import html
import io
import time
from pathlib import Path

from ..patches.candidate import EDIT_KINDS
from ..patches.confidence import wilson_lower
from .drills import OUTCOMES, DrillState, STATE_FILE
from .reflection import code_stats

RELIABILITY_BINS = 10


def _rows(memory, table: str) -> list[dict]:
    try:
        return memory.rows(table)
    except Exception:  # noqa: BLE001 — an empty memory has no such rows yet
        return []


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def per_code_over_rounds(drills: list[dict]) -> dict[str, list[dict]]:
    """code -> [{round, drills, fix_rate, calibration_gap}] in round order."""
    cells: dict[tuple[str, int], list[dict]] = {}
    for row in drills:
        cells.setdefault((row.get("code") or "?", int(row.get("round", 0))), []).append(row)
    out: dict[str, list[dict]] = {}
    for (code, rnd), rows in sorted(cells.items()):
        scored = [r for r in rows if r.get("confidence") is not None]
        gap = sum(abs(r["confidence"] - float(bool(r.get("correct")))) for r in scored) / len(scored) if scored else None
        out.setdefault(code, []).append({
            "round": rnd, "drills": len(rows),
            "fix_rate": _rate(sum(r["outcome"] == "restored" for r in rows), len(rows)),
            "calibration_gap": round(gap, 4) if gap is not None else None,
        })
    return out


def per_edit_kind(drills: list[dict]) -> dict[str, dict]:
    """Per edit kind (`candidate.EDIT_KINDS`): drills whose best verified patch was of that kind
    (`best`), of those the ones offered and right; fix rate = right / best, precision = right /
    offered with its one-sided 95% Wilson lower bound; `held_back`: drills where a never-rule
    kept a candidate of that kind from being offered."""
    out = {}
    for kind in EDIT_KINDS:
        best = [r for r in drills if r.get("patches") and r["patches"][0].get("kind") == kind]
        offered = [r for r in best if not r.get("abstained")]
        right = sum(bool(r["patches"][0].get("correct")) for r in offered)
        held = sum(kind in (r.get("held_back") or ()) for r in drills)
        if best or held:
            out[kind] = {"best": len(best), "offered": len(offered), "right": right,
                         "fix_rate": _rate(right, len(best)), "precision": _rate(right, len(offered)),
                         "precision_lower": round(wilson_lower(right, len(offered)), 4) if offered else None,
                         "held_back": held}
    return out


def reliability_table(drills: list[dict], bins: int = RELIABILITY_BINS) -> tuple[list[dict], float | None]:
    """Best-patch confidence vs how often it was right, per equal-width bin, and the ECE over them."""
    table = [{"low": i / bins, "high": (i + 1) / bins, "count": 0, "confidence": 0.0, "right": 0} for i in range(bins)]
    for row in drills:
        if row.get("confidence") is None:
            continue
        cell = table[min(int(row["confidence"] * bins), bins - 1)]
        cell["count"] += 1
        cell["confidence"] += row["confidence"]
        cell["right"] += bool(row.get("correct"))
    for cell in table:
        n = cell["count"]
        cell["confidence"] = round(cell["confidence"] / n, 4) if n else None
        cell["accuracy"] = _rate(cell.pop("right"), n)
    total = sum(c["count"] for c in table)
    ece = sum(c["count"] / total * abs(c["accuracy"] - c["confidence"]) for c in table if c["count"]) if total else None
    return table, (round(ece, 4) if ece is not None else None)


def build_report(memory, root: Path, state_folder: Path) -> dict:
    drills = [r for r in _rows(memory, "drills") if r.get("outcome") in OUTCOMES]
    events = memory.events()
    stats = code_stats(events, drills)
    reliability, ece = reliability_table(drills)
    state = DrillState.load(state_folder / STATE_FILE)
    rounds: dict[int, list[dict]] = {}
    for row in drills:
        rounds.setdefault(int(row.get("round", 0)), []).append(row)
    learning_curve = [
        {"round": rnd, "drills": len(rows), "fix_rate": _rate(sum(r["outcome"] == "restored" for r in rows), len(rows))}
        for rnd, rows in sorted(rounds.items())
    ]
    training = [
        {"ts": e["ts"], **{k: e["payload"].get(k) for k in ("trained", "swapped", "before", "after", "threshold",
                                                           "precision", "coverage", "examples", "device")}}
        for e in events if e["kind"] == "training"
    ]
    weak = sorted(
        ({"code": code, "fix_rate": s["fix_rate"], "drills": s["drills"], "calibration_gap": s["calibration_gap"]}
         for code, s in stats.items() if s["drills"] >= 2),
        key=lambda w: (w["fix_rate"] or 0.0) - (w["calibration_gap"] or 0.0),
    )[:5]
    principles = [
        {k: p.get(k) for k in ("text", "code", "path", "anchors", "evidence")}
        for p in _rows(memory, "principles") if not p.get("retired")
    ]
    return {
        "workspace": str(root),
        "generated": time.time(),
        "drills": len(drills),
        "outcomes": {o: sum(r["outcome"] == o for r in drills) for o in OUTCOMES},
        "fix_rate": _rate(sum(r["outcome"] == "restored" for r in drills), len(drills)),
        "ece": ece,
        "codes": stats,
        "edit_kinds": per_edit_kind(drills),
        "over_time": per_code_over_rounds(drills),
        "learning_curve": learning_curve,
        "training": training,
        "reliability": reliability,
        "weak_spots": weak,
        "retired_classes": [{"kind": k, "round": r} for k, r in sorted(state.retired.items())],
        "principles": principles,
        "self_diffs": [e["payload"] for e in events if e["kind"] == "self_diff"][-20:],
        "team": team_report(memory.team) if getattr(memory, "team", None) is not None else None,
    }


def team_report(team) -> dict:
    """The team memory's figures (everyone's rows, this developer's included), to show beside
    the local ones."""
    drills = [r for r in team.rows("drills", own=True) if r.get("outcome") in OUTCOMES]
    stats = code_stats([], drills)
    calibrators = team.rows("calibrators", own=True)
    newest = calibrators[-1] if calibrators else None
    return {
        "uri": team.uri,
        "author": team.author,
        "authors": sorted(team.authors()),
        "drills": len(drills),
        "fix_rate": _rate(sum(r["outcome"] == "restored" for r in drills), len(drills)),
        "codes": {code: {k: s[k] for k in ("drills", "fix_rate", "calibration_gap")} for code, s in stats.items()},
        "exemplars": len([r for r in team.rows("exemplars", own=True) if not r.get("retired")]),
        "training_rows": len(team.rows("training", own=True)),
        "principles": [{k: p.get(k) for k in ("text", "code", "author")}
                       for p in team.rows("principles", own=True) if not p.get("retired")],
        "calibrator": None if newest is None else {k: newest.get(k) for k in ("author", "commit", "examples",
                                                                              "threshold")},
    }


def side_by_side(report: dict) -> list[list]:
    """[code, local drills, local fix rate, team drills, team fix rate] for every code either saw."""
    team = (report.get("team") or {}).get("codes", {})
    local = report["codes"]
    return [[code, (local.get(code) or {}).get("drills", 0), (local.get(code) or {}).get("fix_rate"),
             (team.get(code) or {}).get("drills", 0), (team.get(code) or {}).get("fix_rate")]
            for code in sorted(set(local) | set(team))]


# --- HTML ----------------------------------------------------------------------------------------


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def plots(report: dict) -> dict[str, str]:
    """Base64 PNGs: the learning curve and the reliability diagram."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory only
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(6, 3.2))
    ax = fig.subplots()
    curve = [p for p in report["learning_curve"] if p["fix_rate"] is not None]
    ax.plot([p["round"] for p in curve], [p["fix_rate"] for p in curve], marker="o", label="drill fix rate")
    trained = [t for t in report["training"] if t.get("after")]
    if trained:
        ax2 = ax.twinx()
        runs = range(1, len(trained) + 1)
        ax2.plot(runs, [t["before"]["ece"] for t in trained], "o:", color="tab:grey", mfc="none",
                 label="held-out ECE, model before")
        ax2.plot(runs, [t["after"]["ece"] for t in trained], "s--", color="tab:red",
                 label="held-out ECE, retrained")
        top = max(max(t["before"]["ece"], t["after"]["ece"]) for t in trained)
        ax2.set_ylim(0, max(0.1, top * 1.2))
        ax2.set_ylabel("ECE")
        ax2.legend(loc="upper right", fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("drill round (training run for ECE)")
    ax.set_ylabel("fix rate")
    ax.set_ylim(0, 1.05)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Learning curve")
    learning = _png(fig)

    fig = Figure(figsize=(4, 4))
    ax = fig.subplots()
    cells = [c for c in report["reliability"] if c["count"]]
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    ax.bar([c["low"] for c in cells], [c["accuracy"] for c in cells], width=1 / RELIABILITY_BINS, align="edge",
           alpha=0.6, edgecolor="black", label="observed")
    ax.set_xlabel("confidence of the best patch")
    ax.set_ylabel("share restored")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"Reliability (ECE {report['ece'] if report['ece'] is not None else 'n/a'})")
    ax.legend(loc="upper left", fontsize=8)
    return {"learning_curve": learning, "reliability": _png(fig)}


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: dict) -> str:
    images = plots(report)
    codes = [[code, s["drills"], s["fix_rate"], s["mean_confidence"], s["calibration_gap"], s["seen"],
              s["applied"], s["rejected"]] for code, s in report["codes"].items()]
    principles = "".join(
        f"<li>{html.escape(p['text'])}<br><small>"
        + ", ".join(html.escape(f"{a['path']}:{a['start_line']}") for a in p.get("anchors") or [])
        + "</small></li>"
        for p in report["principles"]
    ) or "<li>none yet</li>"
    retired = ", ".join(f"{r['kind']} (round {r['round']})" for r in report["retired_classes"]) or "none"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Rusta report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}</style></head><body>
<h1>Rusta heartbeat report</h1>
<p>{html.escape(report['workspace'])}: {report['drills']} drills, fix rate {report['fix_rate']},
ECE {report['ece']}. Outcomes: {html.escape(str(report['outcomes']))}</p>
<img alt="learning curve" src="data:image/png;base64,{images['learning_curve']}">
<img alt="reliability diagram" src="data:image/png;base64,{images['reliability']}">
<h2>Per error code</h2>
{_table(["code", "drills", "fix rate", "mean confidence", "calibration gap", "seen", "applied", "rejected"], codes)}
<h2>Per edit kind</h2>
{_table(["kind", "best patch", "offered", "right", "fix rate", "precision", "precision (Wilson lower)", "held back"],
        [[k, e["best"], e["offered"], e["right"], e["fix_rate"], e["precision"], e["precision_lower"], e["held_back"]]
         for k, e in report["edit_kinds"].items()])}
<h2>Weak spots</h2>
{_table(["code", "fix rate", "drills", "calibration gap"], [[w["code"], w["fix_rate"], w["drills"], w["calibration_gap"]] for w in report["weak_spots"]])}
<h2>Retired classes</h2><p>{html.escape(retired)}</p>
<h2>Principles</h2><ul>{principles}</ul>
{_team_html(report)}
<h2>Training runs</h2>
{_table(["device", "examples", "swapped", "Brier before", "Brier after", "ECE after", "threshold", "coverage"],
        [[t.get("device"), t.get("examples"), t.get("swapped"), (t.get("before") or {}).get("brier"),
          (t.get("after") or {}).get("brier"), (t.get("after") or {}).get("ece"), t.get("threshold"), t.get("coverage")]
         for t in report["training"]])}
</body></html>
"""


def _team_html(report: dict) -> str:
    team = report.get("team")
    if team is None:
        return ""
    head = (f"<h2>Team memory</h2><p>{html.escape(team['uri'])}: {len(team['authors'])} authors, "
            f"{team['drills']} drills, fix rate {team['fix_rate']}, {team['exemplars']} exemplars, "
            f"{team['training_rows']} training rows</p>")
    return head + _table(["code", "local drills", "local fix rate", "team drills", "team fix rate"],
                         side_by_side(report))
