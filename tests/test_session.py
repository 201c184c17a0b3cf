"""The workspace session: one calibrator for every shadow slot and process, slots handed out once,
settings changes reported by key."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest
import torch
from patches_support import config_for, types_checkout

from rusta_lsp.config import read_config
from rusta_lsp.heartbeat.drills import drill_engine
from rusta_lsp.patches.confidence import Calibrator
from rusta_lsp.patches.engine import PatchEngine
from rusta_lsp.session import WorkspaceSession


def trained(threshold: float) -> Calibrator:
    model = Calibrator.prior()
    with torch.no_grad():
        model.net.linear.weight.mul_(0.5)
    model.trained = True
    model.threshold_override = threshold
    return model


@pytest.mark.slow
def test_a_trained_calibrator_reaches_every_slot_and_a_second_process(tmp_path):
    # Before the session, a model saved by training was read only by the server's slot-0 engine;
    # `rusta fix` beside the server and the drills kept the prior's threshold.
    root = types_checkout(tmp_path / "ws")  # a checkout with slips: the trained threshold holds
    config = config_for(tmp_path / "memory")
    session = WorkspaceSession(root, config)
    server_engine = PatchEngine(root, config, slots=session.slots, calibrators=session.calibrators)
    drills = drill_engine(root, config, slots=session.slots, calibrators=session.calibrators)
    # `rusta fix` beside the server: another process, with stores and slots of its own.
    beside = PatchEngine(root, config)
    assert server_engine.lease.slots == [0, 1] and drills.lease.slots == [7]
    assert beside.lease.slots == [2, 3]  # the server holds 0 and 1
    session.calibrators.save(trained(threshold=0.42))
    for engine in (server_engine, drills, beside):
        assert engine.fix().threshold == 0.42, engine.lease.slots
    for engine in (server_engine, drills, beside):
        engine.close()


def test_slots_prefer_the_roles_own_fall_back_when_held_and_come_back_when_released(tmp_path):
    session = WorkspaceSession(tmp_path, config_for(tmp_path / "memory"))
    main = session.slots.claim("main", 2)
    other = WorkspaceSession(tmp_path, config_for(tmp_path / "memory")).slots.claim("main", 2)
    assert (main.slots, other.slots) == ([0, 1], [2, 3])
    # Held across processes: the lock files refuse a third opener too.
    with open(session.slots.folder / "slot-0.lock", "a") as probe, pytest.raises(OSError):
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
    main.release()
    assert session.slots.claim("main", 2).slots == [0, 1]
    assert session.slots.claim("bench", 1).slots == [8]


def test_reconfigure_names_the_changed_keys_and_keeps_the_memory_where_it_is(tmp_path):
    config = config_for(tmp_path / "memory")
    session = WorkspaceSession(tmp_path, config)
    new, problems = read_config({"memory": {"uri": str(tmp_path / "elsewhere")},
                                 "cargo": {"checkArgs": ["check", "--lib"]}, "heartbeat": {"idleSeconds": 9}})
    assert not problems
    changed = session.reconfigure(new)
    assert changed == {"memory.uri", "cargo.check_args", "cargo.target_dir", "heartbeat.idle_seconds"}
    assert session.config.memory.uri == str(tmp_path / "memory")  # takes a restart
    assert session.config.cargo.check_args == ["check", "--lib"]
    assert session.reconfigure(session.config) == set()
    # Storage options are one setting (an object), fixed like the URI; so is the team memory.
    remote, _ = read_config({"memory": {"storageOptions": {"endpoint": "http://a", "region": "r"}},
                             "team": {"uri": "s3://team/rusta"}})
    assert session.reconfigure(remote) >= {"memory.storage_options", "team.uri"}
    assert session.config.memory.storage_options == {} and session.config.team.uri == ""


def test_the_memory_is_a_future_every_reader_shares(tmp_path: Path):
    session = WorkspaceSession(tmp_path, config_for(tmp_path / "memory"))
    assert session.memory_now() is None and session.wait_memory(timeout=0.01) is None
    memory = session.open_memory(embed=False)
    try:
        assert session.memory_now() is memory and session.wait_memory() is memory
    finally:
        session.close()
