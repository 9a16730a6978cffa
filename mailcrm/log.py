"""Logging: the only structlog.configure call (key=value on a terminal, JSON otherwise)."""

from __future__ import annotations

import logging
import sys
from typing import Any

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


_PENDING: list[tuple[str, str, Any]] = []  # a lazy setup() not applied yet


def setup(level: str = "info", fmt: str = "auto", stream: Any = None, lazy: bool = False) -> None:
    """Configure structlog: console renderer on a TTY, JSON lines otherwise.

    ``lazy``: apply it at the first ``get()`` instead (importing structlog is a tenth of a
    short command's start-up, and most commands never log).
    """
    _PENDING.clear()
    quiet_libraries(stream or sys.stderr)
    if lazy:
        _PENDING.append((level, fmt, stream))
        return
    _configure(level, fmt, stream)


def quiet_libraries(out: Any) -> None:
    """Quiet the libraries' own stdlib loggers; we log what matters ourselves."""
    logging.basicConfig(level=logging.WARNING, stream=out)
    for name in ("mail.log", "mail.debug", "aiosmtpd", "apscheduler", "imapclient"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # flufl.bounce logs a multi-line traceback whenever one of its detectors trips over odd mail
    # (e.g. no From header); the parser already turns such failures into defects.
    logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)


def _configure(level: str, fmt: str, stream: Any) -> None:
    import structlog

    out = stream or sys.stderr
    if fmt == "auto":
        fmt = "console" if getattr(out, "isatty", lambda: False)() else "json"
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get(name: str = "mailcrm", **bind: Any) -> Any:
    """A bound logger."""
    import structlog

    if _PENDING:
        _configure(*_PENDING.pop())
    return structlog.get_logger(name).bind(**bind)
