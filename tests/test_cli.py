"""CLI contract: one-line usage errors with exit code 2, doctor telling the truth."""

import json
import shutil
import subprocess
import sys

import pytest


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
