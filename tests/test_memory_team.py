"""The team memory on a local S3 (moto's server): learned state written to both memories tagged by
author and commit, reads that merge, privacy of what is shared, a bad or old team memory that
never breaks the local one, the shared confidence model, `rusta report` side by side, and
several processes writing the team tables at once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import lancedb
import pyarrow as pa
import pytest

from patches_support import config_for, copy_example
from rusta_lsp.cli import main
from rusta_lsp.config import read_config
from rusta_lsp.heartbeat.jobs import labelled_examples
from rusta_lsp.heartbeat.report import build_report
from rusta_lsp.memory.team import TeamMemory
from rusta_lsp.patches.confidence import FEATURES, Calibrator
from rusta_lsp.patches.generators import exemplars
from rusta_lsp.session import WorkspaceSession

pytestmark = pytest.mark.slow
SNIPPET = "let total = ledger.balance(&entry.from);"


def git_repo(root: Path) -> str:
    """Make `root` a git repository with one commit; its sha."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.email=t@example.org", "-c", "user.name=t", *args], cwd=root,
                              check=True, capture_output=True, text=True).stdout.strip()
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "start")
    return git("rev-parse", "HEAD")


def developer(tmp: Path, name: str, team_uri: str, options: dict) -> WorkspaceSession:
    """One developer's checkout of the ledger with a local memory, on the shared team memory."""
    root = copy_example("ledger", tmp / name / "ws")
    config = config_for(tmp / name / "memory", team={"uri": team_uri, "storageOptions": options, "author": name})
    return WorkspaceSession(root, config)


@pytest.fixture
def pair(s3_env, tmp_path):
    """Alice and Bob, each with a checkout and a local memory, on one team memory."""
    team_uri = f"s3://{s3_env.bucket()}/team"
    alice = developer(tmp_path, "alice", team_uri, s3_env.options)
    bob = developer(tmp_path, "bob", team_uri, s3_env.options)
    a = alice.open_memory(embed=False, mode="writer")
    b = bob.open_memory(embed=False, mode="writer")
    yield SimpleNamespace(uri=team_uri, alice=alice, bob=bob, a=a, b=b)
    alice.close()
    bob.close()


def drill_row(n: int, code: str = "E0308", correct: bool = True) -> dict:
    return {"id": f"m{n}:1", "mutation_id": f"m{n}", "kind": "drop_ref", "path": "src/store.rs", "line": 44,
            "snippet": SNIPPET, "code": code, "codes": [code], "on_target": True,
            "outcome": "restored" if correct else "wrong", "abstained": False, "correct": correct,
            "source": "rules", "confidence": 0.9, "threshold": 0.5, "round": 1, "ts": time.time(),
            "patches": [{"title": "borrow", "source": "rules", "correct": correct, "features": [0.5] * len(FEATURES),
                         "edits": [{"path": "src/store.rs", "new_text": SNIPPET}]}]}


EXEMPLAR = {"id": "x1", "code": "E0308", "message": "mismatched types: expected `&str`, found `String`",
            "path": "src/store.rs", "kind": "wrap", "prefix": "&", "suffix": "", "before": "name", "after": ""}
PRINCIPLE = {"id": "p1", "code": "E0308", "path": "src/store.rs", "fix": "borrowing with `&`",
             "text": "E0308 in src/store.rs is fixed by borrowing with `&`: 2 times in 2 drills", "right": 2,
             "total": 2, "evidence": "drills", "retired": False,
             "anchors": [{"path": "src/store.rs", "start_line": 44, "end_line": 44, "kind": "history",
                          "snippet": SNIPPET}]}


def test_learned_state_goes_to_both_memories_and_reads_merge(pair):
    a, b = pair.a, pair.b
    commit = git_repo(pair.alice.root)
    assert a.team is not None and b.team is not None and not a.messages
    a.put_rows("exemplars", [EXEMPLAR], "id")
    a.put_rows("principles", [PRINCIPLE], "id")
    a.put_rows("drills", [drill_row(1), drill_row(2, "E0599", correct=False)], "id")
    a.team.flush()
    # Local first: the same rows as without a team memory.
    assert a.rows("exemplars") == [EXEMPLAR] and len(a.rows("drills")) == 2
    # Bob reads Alice's exemplar beside his own (none), tagged with her name and commit.
    [shared] = exemplars.load(b)
    assert (shared["author"], shared["commit"]) == ("alice", commit)
    assert {k: shared[k] for k in ("code", "kind", "prefix", "suffix")} == {
        "code": "E0308", "kind": "wrap", "prefix": "&", "suffix": ""}
    assert exemplars.load(a) == [EXEMPLAR]  # her own are not read twice
    # Her drills' patches are training rows for Bob's confidence model.
    rows, labels = labelled_examples(b)
    assert len(rows) == 2 and sorted(labels) == [0.0, 1.0]
    assert b.rows("drills") == []


def test_the_team_gets_no_source_text_beyond_an_exemplars_few_bytes(s3_env, tmp_path):
    bucket = s3_env.bucket()
    alice = developer(tmp_path, "alice", f"s3://{bucket}/team", s3_env.options)
    memory = alice.open_memory(embed=False, mode="writer")
    try:
        memory.put_rows("exemplars", [EXEMPLAR], "id")
        memory.put_rows("principles", [PRINCIPLE], "id")
        memory.put_rows("drills", [drill_row(1)], "id")
        memory.team.flush()
    finally:
        alice.close()
    db = lancedb.connect(f"s3://{bucket}/team", storage_options=s3_env.options)
    stored = {name: [json.loads(r["payload"]) for r in db.open_table(name).to_arrow().to_pylist()]
              for name in ("exemplars", "principles", "drills", "training")}
    text = json.dumps(stored)
    assert SNIPPET not in text and "mismatched types" not in text  # no source line, no message
    [exemplar] = stored["exemplars"]
    assert set(exemplar) == {"id", "code", "kind", "prefix", "suffix", "before", "after", "path", "retired"}
    [principle] = stored["principles"]
    assert principle["anchors"] == [{"path": "src/store.rs", "start_line": 44, "end_line": 44}]
    [drill] = stored["drills"]
    assert "path" not in drill and "patches" not in drill and drill["code"] == "E0308"
    [training] = stored["training"]
    assert set(training) == {"id", "features", "correct", "code", "source", "origin"}


def test_a_bad_or_old_team_memory_never_breaks_the_local_one(s3_env, tmp_path):
    bucket = s3_env.bucket()
    db = lancedb.connect(f"s3://{bucket}/old", storage_options=s3_env.options)
    db.create_table("team_meta", data=[{"key": "schema_version", "value": "0"}])
    alice = developer(tmp_path, "alice", f"s3://{bucket}/old", s3_env.options)
    memory = alice.open_memory(embed=False, mode="writer")
    try:
        assert any("has schema 0, this Rusta reads 1" in m for m in memory.messages), memory.messages
        memory.put_rows("exemplars", [EXEMPLAR], "id")
        assert memory.learned("exemplars") == [EXEMPLAR]
    finally:
        alice.close()
    assert db.open_table("team_meta").count_rows() == 1 and "exemplars" not in db.list_tables().tables

    # One table of another shape: the others still work, and it is left as it is.
    db = lancedb.connect(f"s3://{bucket}/odd", storage_options=s3_env.options)
    db.create_table("exemplars", data=pa.table({"x": [1, 2]}))
    alice = developer(tmp_path / "again", "alice", f"s3://{bucket}/odd", s3_env.options)
    bob = developer(tmp_path / "again", "bob", f"s3://{bucket}/odd", s3_env.options)
    a, b = alice.open_memory(embed=False, mode="writer"), bob.open_memory(embed=False, mode="writer")
    try:
        assert any("team table 'exemplars' has another schema" in m for m in a.messages), a.messages
        a.put_rows("exemplars", [EXEMPLAR], "id")
        a.put_rows("drills", [drill_row(1)], "id")
        a.team.flush()
        assert exemplars.load(b) == [] and len(labelled_examples(b)[0]) == 1
    finally:
        alice.close()
        bob.close()
    assert db.open_table("exemplars").to_arrow().column("x").to_pylist() == [1, 2]

    # No team memory at all (nothing answers): the local memory, with one line saying why.
    config, _ = read_config({"memory": {"uri": str(tmp_path / "solo")}, "team": {
        "uri": "s3://nowhere/team", "storageOptions": {"endpoint": "http://127.0.0.1:9", "allow_http": "true"}}})
    solo = WorkspaceSession(alice.root, config)
    memory = solo.open_memory(embed=False, mode="writer")
    try:
        assert memory.team is None
        [line] = [m for m in memory.messages if m.startswith("team memory not used")]
        assert "s3://nowhere/team is unreachable: connection refused" in line
        memory.put_rows("exemplars", [EXEMPLAR], "id")
        assert memory.learned("exemplars") == [EXEMPLAR]
    finally:
        solo.close()


def test_a_workspace_without_its_own_model_uses_the_teams_newest(pair):
    a, bob = pair.a, pair.bob
    assert bob.calibrators.current().trained is False  # the prior
    model = Calibrator.prior()
    model.net.linear.bias.data.fill_(-1.25)
    model.threshold_override = 0.8
    a.share("calibrators", [{"id": "model", **model.to_json(), "examples": 40}])
    a.team.flush()
    bob.calibrators._shared_checked = 0.0  # its next look at the team is due now
    shared = bob.calibrators.current()
    assert shared.trained and shared.threshold_override == 0.8
    assert float(shared.net.linear.bias.detach()[0]) == -1.25
    # A model of other features (an older Rusta's) is not used.
    a.share("calibrators", [{"id": "model", **model.to_json(), "names": ["x"]}])
    a.team.flush()
    bob.calibrators._shared_checked = 0.0
    assert bob.calibrators.current().trained is False


def test_rusta_report_shows_local_and_team_side_by_side(pair, s3_env, tmp_path, capsys):
    a, b, bob = pair.a, pair.b, pair.bob
    a.put_rows("drills", [drill_row(n) for n in range(3)], "id")
    b.put_rows("drills", [drill_row(10, correct=False)], "id")
    a.put_rows("principles", [PRINCIPLE], "id")
    a.team.flush()
    b.team.flush()
    report = build_report(b, bob.root, bob.state_dir)
    assert report["codes"]["E0308"]["drills"] == 1 and report["codes"]["E0308"]["fix_rate"] == 0.0
    team = report["team"]
    assert team["authors"] == ["alice", "bob"] and team["drills"] == 4
    assert team["codes"]["E0308"] == {"drills": 4, "fix_rate": 0.75, "calibration_gap": 0.3}
    assert [p["author"] for p in team["principles"]] == ["alice"]
    # The same through the command line, as text.
    bob.close()  # the command opens his memory itself
    flags = ["--memory", str(tmp_path / "bob" / "memory"), "--set", f"team.uri={pair.uri}",
             "--set", f"team.storageOptions={json.dumps(s3_env.options)}", "--set", "team.author=bob"]
    assert main(["report", *flags, str(bob.root)]) == 0
    out = capsys.readouterr().out
    assert f"team memory {pair.uri}: 2 authors, 4 drills, fix rate 0.75" in out
    assert "E0308" in out and "1 drills 0.0" in out and "4 drills 0.75" in out


WRITER = textwrap.dedent(
    """
    import sys, time
    from rusta_lsp.memory.team import TeamMemory
    uri, author, batches, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    options = {"endpoint": sys.argv[5], "region": "us-east-1", "allow_http": "true"}
    team = TeamMemory.open(uri, options, author, lambda: "c0ffee")
    time.sleep(max(0.0, start - time.time()))
    for n in range(batches):
        team.publish("exemplars", [{"id": f"{n}", "code": "E0308", "kind": "wrap", "prefix": "&"}])
        team.flush()  # one commit per batch: the writers race commit for commit
    team.close()
    """
)


def test_several_processes_writing_the_team_tables_lose_nothing(s3_env):
    uri = f"s3://{s3_env.bucket()}/team"
    start = time.time() + 10
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, uri, f"dev{n}", "8", str(start), s3_env.endpoint])
               for n in range(3)]
    assert [w.wait(300) for w in writers] == [0, 0, 0]
    team = TeamMemory.open(uri, s3_env.options, "reader", lambda: "")
    try:
        rows = team.rows("exemplars")
        assert sorted((r["author"], r["id"]) for r in rows) == sorted(
            (f"dev{n}", f"{b}") for n in range(3) for b in range(8))
    finally:
        team.close()
