"""DATA read in bulk: the message up to ``<CRLF>.<CRLF>`` in one search, not one await per line.

aiosmtpd reads DATA a line at a time (``readuntil(b"\\r\\n")`` and a Python loop body per line,
~260 of them for a 20 KB message): that loop was most of the listener's CPU per message (issue
26).  Here the stream reader searches for the end-of-data sequence itself (in C), with its limit
raised to the message size limit for the duration; the checks aiosmtpd makes per line are made
on the whole message afterwards, with the same answers:

- more than ``data_size_limit`` bytes of data: ``552 Error: Too much mail data``, after the whole
  DATA was read and thrown away (RFC 5321 4.2.5: answer at the end);
- a line longer than ``line_length_limit`` bytes with its CRLF: ``500 Line too long``;
- dot-stuffing undone (RFC 5321 4.5.2); an empty message is ``.`` alone.

The end may come right at the start or straddle what was read: the few bytes that could start the
end sequence are read exactly (never past it), so commands a client pipelines after the final dot
(RFC 2920) stay in the reader for the command loop.  Readers without the stdlib's ``_limit``
attribute fall back to aiosmtpd's own loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

END = b"\r\n.\r\n"
TOO_MUCH = "552 Error: Too much mail data"
TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"


def supported(reader: Any) -> bool:
    """Whether ``reader`` is a stdlib StreamReader whose limit can be raised."""
    return isinstance(reader, asyncio.StreamReader) and isinstance(getattr(reader, "_limit", None), int)


def _partial_end(buf: bytearray) -> int:
    """How many bytes at the end of ``buf`` are a proper prefix of the end sequence (0 to 4)."""
    for k in (4, 3, 2, 1):
        if buf.endswith(END[:k]):
            return k
    return 0


async def read_data(reader: asyncio.StreamReader, size_limit: int | None, line_limit: int) -> tuple[bytes | None, str | None]:
    """(content with dot-stuffing undone, None), or (None, error reply) once the end was read.

    Raises ``asyncio.IncompleteReadError`` when the client goes away first.
    """
    saved = reader._limit  # type: ignore[attr-defined]
    cap = (size_limit or 1 << 31) + len(END) + 2
    reader._limit = max(saved, cap)  # type: ignore[attr-defined]
    buf = bytearray(b"\r\n")  # the DATA command's own CRLF: the end may be the very first line
    dropped = 0  # bytes thrown away once over the limit (only the tail is kept to find the end)
    try:
        while not buf.endswith(END):
            part = _partial_end(buf)
            if part:
                buf += await reader.readexactly(len(END) - part)  # cannot reach past the end
                continue
            try:
                buf += await reader.readuntil(END)
            except asyncio.LimitOverrunError as exc:
                chunk = await reader.read(exc.consumed)
                dropped += len(buf) + len(chunk) - 4
                buf = bytearray((bytes(buf) + chunk)[-4:])
    finally:
        reader._limit = saved  # type: ignore[attr-defined]
    size = dropped + len(buf) - 2 - 3  # minus the virtual CRLF and the final ".\r\n"
    if dropped or (size_limit and size > size_limit):
        return None, TOO_MUCH
    body = bytes(buf[:-3])  # "\r\n" + lines, each with its CRLF
    if max(map(len, body.split(b"\r\n"))) + 2 > line_limit:
        return None, TOO_LONG
    return body.replace(b"\r\n.", b"\r\n")[2:], None
