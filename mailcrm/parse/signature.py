"""Signature block detection and field extraction (name, title, company, phones, website)."""

from __future__ import annotations

from mailcrm.parse.facts import Address, Signature


def extract_signature(text: str, *, sender: Address | None = None, region: str = "RU") -> Signature | None:
    """Find the signature block at the end of ``text`` and read its fields; None when absent."""
    return None
