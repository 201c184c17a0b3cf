"""Cargo as the oracle: `cargo <checkArgs> --message-format=json` in the shadow, cancellable; and the
second oracle's processes, `cargo test --no-run` and the test binaries it builds.

Every process runs in its own process group, so a cancelled or timed-out run is killed with
everything it started (cargo's rustcs, a test's children) within 50 ms, and the group dies with
the server or CLI that started it, even by kill -9 (`dies_with_us`).

Cargo runs at a lowered priority (the user's own builds and rust-analyzer's flycheck come first),
and only where `cargo.enable` allows: a check runs the crate's build.rs and proc macros, a test
run its tests.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..cancel import Cancelled, CancelToken
from .diagnostics import CargoResult, parse_cargo_messages

# Added to cargo's niceness (and so its rustc's): below the editor, the user's builds and flycheck.
NICENESS = 10


class CargoDisabled(RuntimeError):
    """`cargo.enable` is off for this workspace: nothing may run its build scripts."""

    def __init__(self) -> None:
        super().__init__("cargo.enable is false for this workspace: no cargo runs "
                         "(it would run the crate's build.rs and procedural macros)")


# `nice` execs cargo in its place (a preexec hook would run Python between fork and exec, unsafe
# beside our threads).
_NICE = shutil.which("nice")

# The process-group leader of what we run, on Linux: `setpriv --pdeathsig` has the kernel send it
# SIGTERM when the process that started it dies, even by kill -9, and it then kills the whole
# group: cargo, its rustcs and build scripts, or a test binary and its children (they run in a
# session of their own, which no signal to us reaches). No preexec hook, for the same reason.
_SETPRIV = shutil.which("setpriv") if sys.platform == "linux" else None
_LEADER = 'test "$PPID" = "$1" || exit 1; shift; trap "kill -KILL 0" TERM; "$@" & wait $!'


def dies_with_us(args: list[str]) -> list[str]:
    """`args` run so that they die with this process (Linux with util-linux; else as they are)."""
    if _SETPRIV is None:
        return args
    # $1 is our pid: if we died before the leader started, it never starts the command.
    return [_SETPRIV, "--pdeathsig", "TERM", "--", "/bin/sh", "-c", _LEADER, "rusta-cargo", str(os.getpid()), *args]


@dataclass
class Finished:
    stdout: str
    stderr: str
    returncode: int | None
    timed_out: bool = False  # killed at its deadline


def run_killable(args: list[str], cwd: Path, env: dict[str, str], cancel: CancelToken | None = None,
                 deadline: float | None = None) -> Finished:
    """Run a process to its end, its token's cancel (raises Cancelled) or `deadline` (a
    `time.monotonic()` value; the result says `timed_out`), killing its whole process group."""
    if cancel is not None:
        cancel.check()
    proc = subprocess.Popen(
        dies_with_us(args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True, errors="replace", start_new_session=True,
    )
    stop = threading.Event()
    killed = threading.Event()
    expired = threading.Event()

    def watch() -> None:
        # Poll the token and the clock while the process runs; kill the whole group.
        while not stop.wait(0.05):
            cancelled = cancel is not None and cancel.is_set()
            late = deadline is not None and time.monotonic() > deadline
            if cancelled or late:
                (killed if cancelled else expired).set()
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        stdout, stderr = proc.communicate()
    finally:
        stop.set()
        watcher.join()
    if killed.is_set():
        raise Cancelled()
    return Finished(stdout, stderr, proc.returncode, expired.is_set())


class CargoOracle:
    def __init__(self, check_args: list[str], cargo: str = "cargo", enabled: bool = True):
        self.check_args = list(check_args)
        self.cargo = cargo
        self.enabled = enabled
        self.runs = 0  # cargo invocations so far, for benchmarks and tests
        self.seconds = 0.0

    def _cargo(self, args: list[str], cwd: Path, target: Path, cancel, deadline=None) -> tuple[CargoResult, Finished]:
        if not any(a.startswith("--message-format") for a in args):
            args = [*args, "--message-format=json"]
        if not self.enabled:
            raise CargoDisabled()
        env = dict(os.environ, CARGO_TARGET_DIR=str(target), CARGO_TERM_COLOR="never")
        niced = [_NICE, "-n", str(NICENESS)] if _NICE else []
        started = time.monotonic()
        try:
            done = run_killable([*niced, self.cargo, *args], cwd, env, cancel, deadline)
        finally:
            self.runs += 1
            self.seconds += time.monotonic() - started
        result = parse_cargo_messages(done.stdout.splitlines())
        result.stderr = done.stderr
        if result.success is None and done.returncode != 0:
            result.success = False
        return result, done

    def check(self, cwd: Path, target: Path, cancel: CancelToken | None = None) -> CargoResult:
        """Run cargo in `cwd`, building into `target`. Raises Cancelled when `cancel` fires."""
        return self._cargo(self.check_args, cwd, target, cancel)[0]

    def test_args(self) -> list[str]:
        """`cargo test --no-run` over what the check covers (its package and feature flags): the
        test harnesses of libraries, binaries and integration tests. Doc-tests are left out (each
        one is a rustc run of its own) and so are `--all-targets`' benches and examples."""
        rest = [a for a in self.check_args[1:] if a not in ("--all-targets", "--tests", "--benches", "--examples")]
        return ["test", "--no-run", *rest]

    def build_tests(self, cwd: Path, target: Path, cancel: CancelToken | None = None,
                    deadline: float | None = None) -> tuple[CargoResult, bool]:
        """Build the test binaries; returns cargo's messages (their `artifacts`) and whether the
        build ran out of time."""
        result, done = self._cargo(self.test_args(), cwd, target, cancel, deadline)
        return result, done.timed_out

    def run_binary(self, executable: Path, args: list[str], cwd: Path, env: dict[str, str],
                   cancel: CancelToken | None = None, deadline: float | None = None) -> Finished:
        """Run a test binary cargo built (as `cargo test` would: in its package's folder)."""
        if not self.enabled:
            raise CargoDisabled()
        return run_killable([str(executable), *args], cwd, dict(os.environ, **env), cancel, deadline)
