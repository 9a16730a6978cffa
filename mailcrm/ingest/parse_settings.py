"""What the pure parser needs from the config, as plain data that crosses to parser processes.

This module imports ``parse/`` and the spool's metadata only (the config under TYPE_CHECKING),
so a spawned parser process does not load SQLAlchemy, pydantic or the use-case layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailcrm.parse.facts import MessageFacts
from mailcrm.spool import SpoolMeta

if TYPE_CHECKING:
    from mailcrm.config import Config


@dataclass(frozen=True)
class ParseSettings:
    """What the pure parser needs from the config (plain data: it crosses to parser processes)."""

    user_addresses: frozenset[str]
    dropbox_addresses: frozenset[str]
    region: str

    @classmethod
    def of(cls, cfg: Config) -> "ParseSettings":
        """The settings for ``cfg``."""
        return cls(cfg.user_addresses(), cfg.dropbox_addresses(), cfg.phone_region())

    def parse(self, meta: SpoolMeta, raw: bytes) -> MessageFacts:
        """Parse with the users' addresses (pure; never raises)."""
        # Loaded on first use: a writer whose parser processes parse never compiles the parser's patterns.
        from mailcrm.parse.message import parse_message
        return parse_message(
            raw,
            user_addresses=self.user_addresses,
            dropbox_addresses=self.dropbox_addresses | frozenset(a.lower() for a in meta.rcpt_tos),
            region=self.region,
        )


def parse_job(cfg: Config, meta: SpoolMeta, raw: bytes) -> MessageFacts:
    """Parse with the users' addresses (pure; never raises)."""
    return ParseSettings.of(cfg).parse(meta, raw)
