"""The new text of a message: without quoted history, forward header or signature."""

from __future__ import annotations


def extract_reply(text: str, html: str | None = None) -> str:
    """Return the author's own new text from a body (plain text preferred, HTML as a hint)."""
    return text.strip()
