"""An idle keep-alive connection stays open longer than HTTP clients keep idle connections, so
a client never sends on a connection the server is closing at that instant (uvicorn's default
5 s equals httpx's keepalive_expiry: a request could then get no answer)."""
from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.integration


def _get(sock: socket.socket, host: str) -> bytes:
    sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data  # closed by the server
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_an_idle_connection_outlives_the_clients_keep_alive_expiry(sec_hub):
    url = urlsplit(sec_hub.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        assert _get(sock, url.netloc).startswith(b"HTTP/1.1 200")
        time.sleep(7)  # longer than httpx's keepalive_expiry (5 s) and uvicorn's default (5 s)
        again = _get(sock, url.netloc)
        assert again.startswith(b"HTTP/1.1 200"), f"the server closed the idle connection: {again!r}"
