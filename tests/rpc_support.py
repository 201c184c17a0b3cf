"""A raw JSON-RPC client for protocol tests: frames go out exactly as given (malformed ones too),
every message the server sends is kept, and nothing types or checks anything in between.

Talks to `rusta serve` over stdio (`RawClient.spawn`) or to a socket (`RawClient.connect`).
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from lsp_support import SERVER_COMMAND as SERVE, frame  # noqa: F401 — tests take both from here


def read_frames(read: Callable[[int], bytes], out: Callable[[dict | None], None]) -> None:
    """Parse frames from `read`, hand each message to `out` until EOF (then None)."""
    buffer = b""
    try:
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = read(65536)
                if not chunk:
                    return
                buffer += chunk
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            while len(buffer) < length:
                chunk = read(65536)
                if not chunk:
                    return
                buffer += chunk
            out(json.loads(buffer[:length]))
            buffer = buffer[length:]
    except OSError:
        return
    finally:
        out(None)


class RawClient:
    def __init__(self, write: Callable[[bytes], Any], read: Callable[[int], bytes],
                 proc: subprocess.Popen | None = None, log: Path | None = None):
        self._write = write
        self._writing = threading.Lock()  # the reader thread answers the server's requests
        self.proc = proc
        self.log = log
        self.received: list[dict] = []  # everything, in order (the server's requests get a null result)
        self._inbox: queue.Queue = queue.Queue()
        self._ids = itertools.count(1)
        self.closed = False
        threading.Thread(target=read_frames, args=(read, self._arrived), daemon=True).start()

    @classmethod
    def spawn(cls, log: Path, args: list[str] | None = None, cwd: Path | None = None,
              env: dict | None = None, preexec_fn=None) -> "RawClient":
        """`rusta serve` over stdio; its stderr (the log) goes to `log`."""
        with open(log, "wb") as err:
            proc = subprocess.Popen(args or SERVE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                    cwd=cwd, env=env, preexec_fn=preexec_fn)

        def write(data: bytes) -> None:
            proc.stdin.write(data)
            proc.stdin.flush()

        return cls(write, proc.stdout.read1, proc, log)

    @classmethod
    def connect(cls, sock: socket.socket) -> "RawClient":
        return cls(sock.sendall, sock.recv)

    # --- sending ---------------------------------------------------------------------------

    def _arrived(self, message: dict | None) -> None:
        if message is not None and "method" in message and "id" in message:  # the server asks: say yes
            try:
                self.send_bytes(frame({"jsonrpc": "2.0", "id": message["id"], "result": None}))
            except OSError:  # the server is gone
                pass
        self._inbox.put(message)

    def send_bytes(self, data: bytes) -> None:
        with self._writing:
            self._write(data)

    def notify(self, method: str, params: Any = None) -> None:
        self.send_bytes(frame({"jsonrpc": "2.0", "method": method, "params": params}))

    def request(self, method: str, params: Any = None) -> int:
        msg_id = next(self._ids)
        self.send_bytes(frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        return msg_id

    def call(self, method: str, params: Any = None, timeout: float = 60.0) -> dict:
        return self.response(self.request(method, params), timeout)

    # --- receiving -------------------------------------------------------------------------

    def next_message(self, timeout: float) -> dict | None:
        """The next message; None when the server closed the stream. TimeoutError when none came."""
        if self.closed:
            return None
        try:
            message = self._inbox.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no message within {timeout}s") from None
        if message is None:
            self.closed = True
            return None
        self.received.append(message)
        return message

    def wait_for(self, matches: Callable[[dict], bool], timeout: float = 60.0) -> dict:
        for message in self.received:
            if matches(message):
                return message
        deadline = time.monotonic() + timeout
        while True:
            message = self.next_message(max(0.01, deadline - time.monotonic()))
            if message is None:
                raise EOFError("the server closed the stream")
            if matches(message):
                return message

    def response(self, msg_id: Any, timeout: float = 60.0) -> dict:
        """The response to `msg_id`."""
        return self.wait_for(lambda m: "method" not in m and m.get("id") == msg_id, timeout)

    def initialize(self, root: Path | None, options: dict | None = None, timeout: float = 120.0) -> dict:
        params = {"processId": os.getpid(), "capabilities": {"window": {"workDoneProgress": True}},
                  "rootUri": root.as_uri() if root else None, "initializationOptions": options or {}}
        reply = self.call("initialize", params, timeout)
        assert "result" in reply, reply
        self.notify("initialized", {})
        return reply

    def shutdown_and_exit(self, timeout: float = 120.0) -> int | None:
        reply = self.call("shutdown", None, timeout)
        assert "error" not in reply, reply
        self.notify("exit")
        return self.wait_exit(timeout)

    def wait_exit(self, timeout: float = 60.0) -> int | None:
        if self.proc is None:
            return None
        return self.proc.wait(timeout)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""


def progress_ended(client: RawClient, title: str, timeout: float = 180.0) -> str:
    """Wait until the `$/progress` whose begin title starts with `title` ends; its end message."""
    tokens: set = set()

    def matches(message: dict) -> bool:
        if message.get("method") != "$/progress":
            return False
        value = message["params"]["value"]
        if value.get("kind") == "begin" and value.get("title", "").startswith(title):
            tokens.add(message["params"]["token"])
        return value.get("kind") == "end" and message["params"]["token"] in tokens

    for message in client.received:  # begins seen before the call
        matches(message)
    return client.wait_for(matches, timeout)["params"]["value"].get("message", "")


# --- a memory cap for processes under test -------------------------------------------------

CAP_BYTES = 1536 * 2**20  # 1.5 GB resident
_RSS = re.compile(r"VmRSS:\s+(\d+) kB")


def cap_memory(proc: subprocess.Popen, limit: int = CAP_BYTES) -> threading.Event:
    """Kill `proc` as soon as its resident memory passes `limit` (the machine must survive a test
    that fails); the event tells whether it had to. An address-space limit (`prlimit --as`) would
    not do: torch and LanceDB reserve gigabytes of address space they never touch."""
    over = threading.Event()

    def poll() -> None:
        while True:
            try:
                with open(f"/proc/{proc.pid}/status") as status:
                    found = _RSS.search(status.read())
            except OSError:
                return
            if found is None:  # exited, not reaped yet
                return
            if int(found[1]) * 1024 > limit:
                over.set()
                proc.kill()
                return
            time.sleep(0.02)

    threading.Thread(target=poll, daemon=True).start()
    return over


def wait_peak(proc: subprocess.Popen, timeout: float) -> tuple[int, int]:
    """(exit code, peak resident bytes from wait4) once `proc` exits; kills it after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss * 1024
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError(f"{proc.args} did not finish within {timeout}s")
        time.sleep(0.05)


def run_capped(args: list[str], timeout: float = 600, **popen) -> tuple[int, str, str, int]:
    """Run a command under the memory cap: (exit code, stdout, stderr, peak resident bytes)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, **popen)
        over = cap_memory(proc)
        code, peak = wait_peak(proc, timeout)
        assert not over.is_set(), f"{args} passed {CAP_BYTES >> 20} MB resident and was killed"
        out.seek(0)
        err.seek(0)
        return code, out.read().decode(errors="replace"), err.read().decode(errors="replace"), peak
