"""Forward unwrapping: find the original sender, date, subject of a forwarded message."""

from __future__ import annotations

from mailcrm.parse.facts import Forwarded
from mailcrm.parse.mime import MimeView


def find_forward(view: MimeView, subject: str) -> Forwarded | None:
    """Return the innermost forwarded original in ``view``, or None when it is not a forward."""
    return None
