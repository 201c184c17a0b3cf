"""`rusta serve --tcp` listens on 127.0.0.1 by default and speaks LSP."""

import socket
import subprocess
import sys
import time

from lsp_support import frame, read_message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_server_binds_loopback_and_initializes(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rusta_lsp.cli", "serve", "--tcp", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                assert proc.poll() is None, "server exited"
                assert time.time() < deadline, "server did not listen"
                time.sleep(0.2)
        with sock:
            sock.sendall(frame({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                                "params": {"capabilities": {}, "rootUri": tmp_path.as_uri()}}))
            reply = read_message(sock.makefile("rb"))
            assert reply["id"] == 1
            caps = reply["result"]["capabilities"]
            assert caps["documentSymbolProvider"] and caps["workspaceSymbolProvider"]
            assert reply["result"]["serverInfo"]["name"] == "rusta"
        # Bound to loopback only: connecting through another local address must fail.
        host_ip = socket.gethostbyname(socket.gethostname())
        if not host_ip.startswith("127."):
            with socket.socket() as other:
                other.settimeout(5)
                assert other.connect_ex((host_ip, port)) != 0
    finally:
        proc.kill()
        proc.wait(timeout=30)
