"""bench/rawhttp.py, the latency benchmark's poster: responses by Content-Length, chunked and
connection-close, keep-alive reuse, and a broken response raised as HTTPError."""
from __future__ import annotations

import asyncio

import pytest

from bench.rawhttp import HTTPError, RawClient


async def serve(responses: list[bytes], seen: list):
    """A server answering each request with the next of `responses` (None: close at once)."""
    connections = []

    async def handle(reader, writer):
        connections.append(writer)
        while responses:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int([line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")][0])
            seen.append((head.split(b"\r\n")[0], await reader.readexactly(length), len(connections)))
            answer = responses.pop(0)
            if answer is None:
                writer.close()
                return
            writer.write(answer)
            await writer.drain()
            if b"Connection: close" in answer:
                writer.close()
                return

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_content_length_chunked_and_close_on_kept_alive_connections():
    async def main():
        seen: list = []
        server, port = await serve([
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 11\r\n\r\n{\"ok\":true}",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
            b"HTTP/1.1 422 Unprocessable Entity\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
            b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n[]",
        ], seen)
        client = RawClient(f"http://127.0.0.1:{port}", {"Authorization": "Bearer k"})
        got = [await client.post("/x", b'[{"n":1}]') for _ in range(4)]
        await client.aclose()
        server.close()
        return got, seen

    got, seen = asyncio.run(main())
    assert got == [(202, b'{"ok":true}'), (200, b'{"a":1}'), (422, b"{}"), (202, b"[]")]
    assert [s[0] for s in seen] == [b"POST /x HTTP/1.1"] * 4 and all(s[1] == b'[{"n":1}]' for s in seen)
    assert [s[2] for s in seen] == [1, 1, 1, 2]  # kept alive until the server said close


def test_a_connection_closed_mid_request_is_an_http_error():
    async def main():
        server, port = await serve([None], [])
        client = RawClient(f"http://127.0.0.1:{port}", {})
        try:
            with pytest.raises(HTTPError):
                await client.post("/x", b"{}")
        finally:
            server.close()

    asyncio.run(main())


def test_only_plain_http_urls():
    with pytest.raises(ValueError, match="expected http://host:port"):
        RawClient("https://example.org", {})
