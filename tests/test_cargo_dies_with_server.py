"""No orphans: when the server dies, even by kill -9, the cargo it started dies with it — cargo, its
rustc and build-script processes — instead of building on for minutes in a session of its own."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from rpc_support import RawClient


def processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, command line) of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[1]), int(fields[2]), command)
    return found


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(what)


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("setpriv") or not Path("/proc/self/stat").exists(),
                    reason="Linux with util-linux (setpriv) only")
def test_kill_9_of_the_server_takes_cargo_and_its_build_script_along(tmp_path):
    root = tmp_path / "sleepy"
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[package]\nname = "sleepy"\nversion = "0.1.0"\nedition = "2021"\n')
    (root / "build.rs").write_text("fn main() { std::thread::sleep(std::time::Duration::from_secs(600)); }\n")
    (root / "src" / "lib.rs").write_text("pub fn f() -> u32 { 1 }\n")
    client = RawClient.spawn(tmp_path / "server.log")
    try:
        client.initialize(root, {"memory": {"uri": str(tmp_path / "memory")}, "heartbeat": {"enabled": False},
                                 "cargo": {"targetDir": str(tmp_path / "target")}})
        lib = root / "src" / "lib.rs"
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": lib.as_uri(), "languageId": "rust", "version": 1, "text": lib.read_text()}})
        client.notify("textDocument/didSave", {"textDocument": {"uri": lib.as_uri()}})

        def build_script_group() -> int | None:
            for pid, (_, group, command) in processes().items():
                if "build-script-build" in command and "sleepy" in command:
                    return group
            return None

        group = wait_until(build_script_group, 300, "cargo never ran the build script")
        members = [pid for pid, (_, g, _) in processes().items() if g == group]
        assert len(members) >= 3  # the group leader, cargo, the build script
        os.kill(client.proc.pid, signal.SIGKILL)
        client.proc.wait(30)
        wait_until(lambda: not any(g == group for _, g, _ in processes().values()), 30,
                   f"processes of cargo's group {group} outlived the server")
    finally:
        client.close()
