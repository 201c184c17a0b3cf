"""CLI contract: one-line usage errors with exit code 2, doctor telling the truth, the demo's tour."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rusta_lsp.cli import main


def rusta(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rusta_lsp.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.mark.parametrize("args", [
    ["fix"],  # missing PATH
    ["explain", "--json"],
    ["nonsense"],
    ["drill", "."],  # --budget is required
    ["doctor", "--device", "tpu"],
    ["doctor", "--set", "abstain.targetPrecision=7"],
    ["doctor", "--set", "novalue"],
])
def test_usage_errors_are_one_line_and_exit_2(args):
    out = rusta(*args)
    assert out.returncode == 2, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rusta:"), out.stderr
    assert "Traceback" not in out.stderr


def test_doctor_reports_the_machine(tmp_path):
    out = rusta("doctor", "--json", "--memory", str(tmp_path / "mem"), str(tmp_path))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["python"]["detail"] == ".".join(map(str, sys.version_info[:3]))
    import torch

    assert checks["torch"]["detail"].startswith(torch.__version__)
    expected_device = "cuda" if torch.cuda.is_available() else "cpu"
    assert f"device {expected_device}" in checks["torch"]["detail"]
    assert checks["cargo"]["ok"] == (shutil.which("cargo") is not None)
    assert checks["memory"]["detail"].startswith(str(tmp_path / "mem"))
    assert checks["embedding model"]["ok"]


def test_doctor_names_a_missing_tool_with_a_fix(tmp_path, monkeypatch):
    # PATH without cargo: the check fails, says so, and tells how to install it; doctor still succeeds.
    env_path = str(tmp_path)
    out = subprocess.run([sys.executable, "-m", "rusta_lsp.cli", "doctor", "--json"], capture_output=True,
                         text=True, timeout=120, env={"PATH": env_path, "HOME": str(tmp_path)})
    report = json.loads(out.stdout)
    cargo = next(c for c in report["checks"] if c["name"] == "cargo")
    assert cargo["ok"] is False and "rustup" in cargo["fix"]
    assert out.returncode == 0


def _one_line_exit_2(capsys, args: list[str], says: str) -> None:
    assert main(args) == 2, args
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rusta") and says in lines[0], err


@pytest.mark.parametrize("args, says", [
    (["serve", "--tcp", "--port", "99999"], "not a TCP port"),
    (["serve", "--tcp", "--port", "-1"], "not a TCP port"),
    (["serve", "--tcp", "--host", "999.1.1.1"], "not an address"),
    (["serve", "--socket", "/nonexistent/rusta.sock"], "no folder"),
    (["serve", "--tcp", "--socket", "rusta.sock"], "not allowed with"),
    (["drill", "--budget", "inf", "."], "--budget must be a positive number of seconds"),
    (["drill", "--budget", "nan", "."], "--budget must be a positive number of seconds"),
    (["drill", "--budget", "0", "."], "--budget must be a positive number of seconds"),
    (["drill", "--budget", "-5", "."], "--budget must be a positive number of seconds"),
])
def test_bad_serve_and_budget_flags_exit_2(capsys, args, says):
    _one_line_exit_2(capsys, args, says)


@pytest.fixture
def crate(tmp_path):
    from memory_support import write_ledger_crate

    return write_ledger_crate(tmp_path / "ledger")


@pytest.mark.parametrize("command", [["index", "--no-embed"], ["search", "x"], ["fix"]])
@pytest.mark.parametrize("memory, says", [
    ("{file}", "not a folder"),
    ("/proc/self/status", "not a folder"),
    ("/proc/self/no/such/dir", "No such file"),
    ("{crate}/.rusta", "inside the workspace"),
])
def test_bad_memory_locations_exit_2(capsys, tmp_path, crate, command, memory, says):
    (tmp_path / "a-file").write_text("")
    memory = memory.format(file=tmp_path / "a-file", crate=crate)
    _one_line_exit_2(capsys, [command[0], "--memory", memory, *command[1:], str(crate)], says)
    assert not (crate / ".rusta").exists()


def test_unknown_scheme_and_target_inside_the_workspace_exit_2(capsys, crate):
    _one_line_exit_2(capsys, ["index", "--no-embed", "--memory", "foo://bar", str(crate)], "foo")
    _one_line_exit_2(capsys, ["fix", "--set", f"cargo.targetDir={crate}/target", str(crate)], "inside the workspace")


@pytest.fixture
def mounted(tmp_path):
    """Mount a tmpfs with `options` (root only: skipped elsewhere); unmounted after the test."""
    points = []

    def mount(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                                               capture_output=True).returncode != 0:
            pytest.skip("mounting a tmpfs needs root")
        points.append(point)
        return point

    yield mount
    for point in points:
        subprocess.run(["umount", str(point)], check=False)


def test_a_full_or_read_only_disk_exits_2(capsys, crate, mounted):
    full = mounted("full", "size=120k")
    _one_line_exit_2(capsys, ["index", "--no-embed", "--memory", str(full / "memory"), str(crate)],
                     "no space left on the device")
    read_only = mounted("ro", "ro,size=1m")
    _one_line_exit_2(capsys, ["index", "--no-embed", "--memory", str(read_only / "memory"), str(crate)],
                     "Read-only file system")
    _one_line_exit_2(capsys, ["report", "--html", str(read_only / "report.html"), str(crate)],
                     "Read-only file system")


@pytest.mark.slow
def test_the_demo_tours_the_example_and_ends_with_its_verified_fix():
    """`make demo`: the example crate checked as it is, then with its `use` lost, which gets
    its verified fix (on a crate Rusta has seen build, not held back as never-built code)."""
    out = subprocess.run([sys.executable, "-m", "rusta_lsp.cli", "demo"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    broken = out.stdout.split("`use std::collections::HashMap;` removed", 1)[1]
    assert "fix (compiles" in broken and "add `use std::collections::HashMap;`" in broken, out.stdout
    assert "1 error(s), 1 with a verified fix" in broken, out.stdout
