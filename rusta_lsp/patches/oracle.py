"""Cargo as the oracle: `cargo <checkArgs> --message-format=json` in the shadow, cancellable."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from ..cancel import Cancelled, CancelToken
from .diagnostics import CargoResult, parse_cargo_messages


class CargoOracle:
    def __init__(self, check_args: list[str], cargo: str = "cargo"):
        self.check_args = list(check_args)
        self.cargo = cargo
        self.runs = 0  # cargo invocations so far, for benchmarks and tests
        self.seconds = 0.0

    def check(self, cwd: Path, target: Path, cancel: CancelToken | None = None) -> CargoResult:
        """Run cargo in `cwd`, building into `target`. Raises Cancelled when `cancel` fires."""
        if cancel is not None:
            cancel.check()
        args = [self.cargo, *self.check_args]
        if not any(a.startswith("--message-format") for a in args):
            args.append("--message-format=json")
        env = dict(os.environ, CARGO_TARGET_DIR=str(target), CARGO_TERM_COLOR="never")
        started = time.monotonic()
        proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, text=True, start_new_session=True,
        )
        stop = threading.Event()
        killed = threading.Event()

        def watch() -> None:
            # Poll the token while cargo runs; kill the whole process group (cargo and its rustcs).
            while not stop.wait(0.05):
                if cancel is not None and cancel.is_set():
                    killed.set()
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
            self.runs += 1
            self.seconds += time.monotonic() - started
        if killed.is_set():
            raise Cancelled()
        result = parse_cargo_messages(stdout.splitlines())
        result.stderr = stderr
        if result.success is None and proc.returncode != 0:
            result.success = False
        return result
