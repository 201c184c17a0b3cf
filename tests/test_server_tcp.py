"""`rusta serve --tcp` and `--socket`: one client per server, loopback by default, and a Unix socket
only its owner can open."""

import os
import socket
import stat
import subprocess
import time

import pytest

from rpc_support import SERVE, RawClient, frame


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(proc: subprocess.Popen, family: int, address) -> socket.socket:
    deadline = time.time() + 120
    while True:
        sock = socket.socket(family)
        try:
            sock.connect(address)
            return sock
        except OSError:
            sock.close()
            assert proc.poll() is None, "server exited"
            assert time.time() < deadline, "server did not listen"
            time.sleep(0.2)


def refused(family: int, address) -> bool:
    """Whether a second client is turned away: its connection is refused, or closed unanswered."""
    with socket.socket(family) as other:
        other.settimeout(30)
        try:
            other.connect(address)
        except (ConnectionRefusedError, FileNotFoundError):
            return True
        try:
            other.sendall(frame({"jsonrpc": "2.0", "id": 1, "method": "workspace/symbol", "params": {"query": "x"}}))
            return other.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True


def one_client(proc: subprocess.Popen, family: int, address, root) -> None:
    """The first client is served; a second is refused while it is attached, and the first keeps
    getting its own answers; the server ends with the first client's `exit`."""
    with connect(proc, family, address) as sock:
        if family == socket.AF_UNIX:
            assert stat.S_IMODE(os.stat(address).st_mode) == 0o600
        client = RawClient.connect(sock)
        reply = client.initialize(root)
        assert reply["result"]["serverInfo"]["name"] == "rusta"
        assert refused(family, address)
        assert proc.poll() is None  # the second client's leaving did not end the server
        assert "result" in client.call("workspace/symbol", {"query": "Ledger"})
        assert "error" not in client.call("shutdown")
        client.notify("exit")
        assert proc.wait(60) == 0


@pytest.mark.slow
def test_tcp_serves_one_client_on_loopback(tmp_path):
    port = free_port()
    proc = subprocess.Popen([*SERVE, "--tcp", "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        one_client(proc, socket.AF_INET, ("127.0.0.1", port), tmp_path)
        # Bound to loopback only: another local address was never listening.
        host_ip = socket.gethostbyname(socket.gethostname())
        if not host_ip.startswith("127."):
            with socket.socket() as other:
                other.settimeout(5)
                assert other.connect_ex((host_ip, port)) != 0
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_unix_socket_is_private_and_serves_one_client(tmp_path):
    path = tmp_path / "rusta.sock"
    socket.socket(socket.AF_UNIX).bind(str(path))  # a stale socket a dead server left behind
    proc = subprocess.Popen([*SERVE, "--socket", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        one_client(proc, socket.AF_UNIX, str(path), tmp_path)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert not path.exists()  # removed at exit

