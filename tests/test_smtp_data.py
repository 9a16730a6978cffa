"""DATA read in bulk (sources/smtp_data.py) gives what aiosmtpd's line loop gives, byte for byte.

Each case runs through both readers: a stdlib StreamReader fed the same bytes, aiosmtpd's own
``smtp_DATA`` on a live listener, and ours on the daemon's listener (tests/smtp_live.py).
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from smtp_live import config_text, live_listener

from mailcrm.sources import smtp_data

CASES = [
    b"",  # an empty message: "." right after DATA
    b"Subject: x\r\n\r\nbody\r\n",
    b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\n..\r\nend.\r\n",
    b"Subject: ends with a dot line\r\n\r\nlast.\r\n",
    b"\r\n\r\n",
    b".\r\n",  # one line that is a single (stuffed) dot
    b"x" * 999 + b"\r\n",  # the longest line allowed (1001 with CRLF)
    b"bare\nLF and bare\r CR\r\n",
    "Привет, мир\r\n".encode("utf-8") + bytes(range(128, 256)) + b"\r\n",
]


def _stuff(content: bytes) -> bytes:
    """What a client sends for ``content`` (RFC 5321 4.5.2), end of data included."""
    lines = content.split(b"\r\n")
    body = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in lines)
    return body + b".\r\n"


def _read(wire: bytes, chunk: int, size_limit: int = 10_000) -> tuple[bytes | None, str | None, bytes]:
    async def run() -> tuple[bytes | None, str | None, bytes]:
        reader = asyncio.StreamReader(limit=1001)
        for i in range(0, len(wire), chunk):
            reader.feed_data(wire[i:i + chunk])
        reader.feed_eof()
        content, error = await smtp_data.read_data(reader, size_limit, 1001)
        assert reader._limit == 1001  # restored
        return content, error, await reader.read()

    return asyncio.run(run())


@pytest.mark.parametrize("content", CASES)
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 65536])
def test_content_and_what_follows_are_exact(content: bytes, chunk: int) -> None:
    wire = _stuff(content) + b"QUIT\r\n"  # a pipelined command after the final dot stays in the reader
    assert _read(wire, chunk) == (content, None, b"QUIT\r\n")


def test_too_much_data_is_read_to_the_end_then_refused() -> None:
    wire = _stuff(b"a" * 500 + b"\r\n" + b"b" * 500 + b"\r\n") + b"NOOP\r\n"
    assert _read(wire, 100, size_limit=600) == (None, smtp_data.TOO_MUCH, b"NOOP\r\n")
    assert _read(_stuff(b"x" * 20 + b"\r\n"), 5, size_limit=22) == (b"x" * 20 + b"\r\n", None, b"")
    assert _read(_stuff(b"x" * 21 + b"\r\n"), 5, size_limit=22)[1] == smtp_data.TOO_MUCH


def test_a_line_too_long_is_refused_after_the_end() -> None:
    wire = _stuff(b"x" * 1000 + b"\r\n") + b"NOOP\r\n"
    assert _read(wire, 64) == (None, smtp_data.TOO_LONG, b"NOOP\r\n")


def test_client_gone_mid_data_is_incomplete() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        _read(b"Subject: x\r\n\r\nno end", 4)


# -- the same bytes over a socket: aiosmtpd's own DATA and the daemon's ---------------------------------
class _Keep:
    def __init__(self) -> None:
        self.got: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: object, envelope: object) -> str:
        self.got.append(envelope.original_content)  # type: ignore[attr-defined]
        return "250 OK"


def _converse(port: int, payloads: list[bytes]) -> list[bytes]:
    """One raw SMTP session sending each payload (already stuffed); the replies to each DATA end."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO client.example\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        for wire in payloads:
            # Pipelined: MAIL, RCPT, DATA in one write, then the data and a NOOP in another.
            s.sendall(b"MAIL FROM:<me@example.org>\r\nRCPT TO:<crm+secret@example.org>\r\nDATA\r\n")
            for _ in range(3):
                f.readline()
            s.sendall(wire + b"NOOP\r\n")
            replies.append(f.readline().strip())
            assert f.readline().startswith(b"250")  # the NOOP was read as a command
        s.sendall(b"QUIT\r\n")
    return replies


def test_same_bytes_and_replies_as_aiosmtpd(tmp_path: Path) -> None:
    body = b"From: me@example.org\r\nSubject: same\r\n\r\n"
    payloads = [body + c for c in CASES] + [body + b"y" * 1200 + b"\r\n"]
    wires = [_stuff(p) for p in payloads]
    keep = _Keep()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(keep, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        stock = _converse(port, wires)
    finally:
        controller.stop()
    with live_listener(tmp_path, config_text(tmp_path)) as live:
        ours = _converse(live.port, wires)
        stored = [item.read() for item in live.spool.claim(limit=100)]
    assert [r[:3] for r in ours] == [r[:3] for r in stock] == [b"250"] * len(CASES) + [b"500"]
    assert stored == keep.got == payloads[:-1]
