"""A minimal HTTP/1.1 keep-alive client for the latency benchmark's load generator.

The load generator runs on the machine it measures, so every microsecond it spends is taken
from the hub. With httpx it cost about 300 µs of CPU per record at 1,000 records/s, and httpx
and httpcore were half of its samples (bench/RESULTS.md, session 8). This client does only what
the benchmark needs: POST a JSON body on a pooled keep-alive connection and read the status and
body (Content-Length or chunked). Loopback only, no TLS, no redirects.
"""
from __future__ import annotations

import asyncio


class HTTPError(Exception):
    """The connection failed or the response could not be read."""


class RawClient:
    def __init__(self, url: str, headers: dict[str, str]):
        if not url.startswith("http://"):
            raise ValueError(f"url {url!r}: expected http://host:port")
        host, _, port = url[len("http://"):].rstrip("/").partition(":")
        self.host, self.port = host, int(port or 80)
        self._head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{self.port}", **headers}.items())
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        """(status, body). A connection that fails is closed and HTTPError raised."""
        conn = self._idle.pop() if self._idle else None
        try:
            if conn is None:
                conn = await asyncio.open_connection(self.host, self.port)
            reader, writer = conn
            writer.write((f"POST {path} HTTP/1.1\r\n{self._head}Content-Type: {content_type}\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1") + body)
            status_line = await reader.readline()
            parts = status_line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
                raise HTTPError(f"bad status line {status_line!r}")
            status = int(parts[1])
            length, chunked, close = None, False, False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.partition(b":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value:
                    chunked = True
                elif name == b"connection" and value == b"close":
                    close = True
            if chunked:
                chunks = []
                while True:
                    size = int((await reader.readline()).split(b";")[0], 16)
                    if size == 0:
                        await reader.readline()
                        break
                    chunks.append(await reader.readexactly(size))
                    await reader.readline()
                data = b"".join(chunks)
            elif length is not None:
                data = await reader.readexactly(length)
            else:
                data, close = await reader.read(), True
        except (OSError, asyncio.IncompleteReadError, ValueError, HTTPError) as exc:
            if conn is not None:
                conn[1].close()
            raise exc if isinstance(exc, HTTPError) else HTTPError(repr(exc)) from exc
        if close:
            writer.close()
        else:
            self._idle.append(conn)
        return status, data

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()
