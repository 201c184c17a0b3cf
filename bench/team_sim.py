"""Ten developers' heartbeats on one team memory, on a local S3 (moto's server): contention.

    python bench/team_sim.py   (DEVELOPERS=10 ROUNDS=20)

Each developer is a process with its own `TeamMemory` (the code the server uses), publishing what
a heartbeat round produces: one labelled drill (a `drills` row and its `training` rows), every
fifth round an exemplar and a calibrator, and every fifth round reading the team's training rows
as `calibrate` does. Rounds run back to back, all processes at once: far denser than real
heartbeats (a drill a minute or so per developer), so the contention is an upper bound.

Measured: the wall time of each round's commits (publish, then wait for the team writer), with
one developer alone first (the floor, same run) and then all of them; the commits LanceDB had to
retry because another developer committed first; whether every row arrived; bytes and objects
written per row (what the team memory costs).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from s3_support import start_moto, stop_moto  # noqa: E402

from memory_corpus import machine, ms, p50_p95  # noqa: E402

from rusta_lsp.memory.team import TeamMemory, shareable  # noqa: E402
from rusta_lsp.patches.confidence import FEATURES, Calibrator  # noqa: E402

DEVELOPERS = int(os.environ.get("DEVELOPERS", "10"))
ROUNDS = int(os.environ.get("ROUNDS", "20"))

def round_rows(n: int) -> dict[str, dict]:
    """What one heartbeat round of the simulation publishes: a labelled drill with three verified
    patches (three training rows) and, every fifth round, an exemplar and a retrained calibrator."""
    rows = {"drills": {"id": f"m{n}:1", "code": "E0308", "kind": "drop_ref", "outcome": "restored",
                       "on_target": True, "abstained": False, "correct": True, "source": "rules",
                       "confidence": 0.91, "threshold": 0.5, "round": n,
                       "patches": [{"source": "rules", "correct": k == 0, "features": [0.25] * len(FEATURES)}
                                   for k in range(3)]}}
    if n % 5 == 4:
        rows["exemplars"] = {"id": f"x{n}", "code": "E0308", "kind": "wrap", "prefix": "&", "suffix": "",
                             "before": "", "after": "", "path": "src/lib.rs"}
        rows["calibrators"] = {"id": "model", **Calibrator.prior().to_json(), "examples": 3 * n}
    return rows


DEVELOPER = f"""
import json, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from team_sim import round_rows
from rusta_lsp.memory.team import TeamMemory
uri, author, rounds, start, endpoint = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
team = TeamMemory.open(uri, {{"endpoint": endpoint, "region": "us-east-1", "allow_http": "true"}}, author,
                       lambda: "c0ffee")
time.sleep(max(0.0, start - time.time()))
commit_s, read_s = [], []
for n in range(rounds):
    began = time.perf_counter()
    for table, row in round_rows(n).items():
        team.publish(table, [row])
    team.flush()
    commit_s.append(time.perf_counter() - began)
    if n % 5 == 4:
        began = time.perf_counter()
        team.rows("training")
        read_s.append(time.perf_counter() - began)
print(json.dumps({{"commit_s": commit_s, "read_s": read_s, **team.writes()}}))
team.close()
"""


def run_developers(uri: str, endpoint: str, count: int) -> list[dict]:
    start = time.time() + 8  # every process past its imports, then all at once
    procs = [subprocess.Popen([sys.executable, "-c", DEVELOPER, uri, f"dev{n}", str(ROUNDS), str(start), endpoint],
                              stdout=subprocess.PIPE, text=True) for n in range(count)]
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"a developer process failed ({proc.returncode})")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def summary(label: str, results: list[dict]) -> tuple[float, float]:
    commits = [s for r in results for s in r["commit_s"]]
    reads = [s for r in results for s in r["read_s"]]
    p50, p95 = p50_p95(commits)
    retries = sum(r["retries"] for r in results)
    total = sum(r["commits"] for r in results)
    print(f"[{label}] {len(results)} developer(s) x {ROUNDS} rounds: a round's commits p50 {ms(p50)} p95 {ms(p95)}; "
          f"team reads p50 {ms(statistics.median(reads))}; {total} commits, {retries} retried after a conflict "
          f"({retries / max(total, 1):.0%})")
    return p50, p95


def main() -> None:
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        s3 = start_moto(Path(tmp) / "moto.log")
        try:
            os.environ.update(s3.env)
            bucket = s3.bucket()
            alone = summary("alone", run_developers(f"s3://{bucket}/alone", s3.endpoint, 1))
            uri = f"s3://{bucket}/team"
            together = run_developers(uri, s3.endpoint, DEVELOPERS)
            shared = summary("together", together)
            print(f"[contention] p95 of a round's commits with {DEVELOPERS} developers at once: "
                  f"{shared[1] / alone[1]:.1f}x the p95 alone")
            team = TeamMemory.open(uri, s3.options, "reader", lambda: "")
            try:
                counts = {name: len(team.rows(name)) for name in ("drills", "training", "exemplars", "calibrators")}
            finally:
                team.close()
            expected = {"drills": DEVELOPERS * ROUNDS, "training": 3 * DEVELOPERS * ROUNDS,
                        "exemplars": DEVELOPERS * (ROUNDS // 5), "calibrators": DEVELOPERS}
            print(f"[rows] stored {counts}; expected {expected}: {'all there' if counts == expected else 'MISSING ROWS'}")
            sizes = list(s3.objects(bucket, "team/").values())
            rows = sum(expected.values())
            print(f"[cost] {len(sizes)} objects, {sum(sizes) / 1024:,.0f} KiB for {rows} rows, before any "
                  f"compaction: {sum(sizes) / rows:,.0f} bytes and {len(sizes) / rows:.1f} objects (PUTs) per row; "
                  f"JSON payloads: a drill {payload_bytes('drills'):,} bytes, a training row "
                  f"{payload_bytes('training'):,}, a calibrator {payload_bytes('calibrators'):,}")
        finally:
            stop_moto(s3)


def payload_bytes(table: str) -> int:
    """Size of one row's JSON payload in `table` as the team stores it (its shareable projection)."""
    source = {"drills": round_rows(0)["drills"], **round_rows(4)}
    row = shareable(table if table != "training" else "drills", source[table if table != "training" else "drills"])
    return len(json.dumps(row[table][0]))


if __name__ == "__main__":
    main()
