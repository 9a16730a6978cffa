"""Logging: the only structlog.configure call (key=value on a terminal, JSON otherwise)."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import MutableMapping
from typing import Any

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


_PENDING: list[tuple[str, str, Any]] = []  # a lazy setup() not applied yet

REPEAT_WINDOW = 10.0  # seconds
REPEAT_LIMIT = 20  # lines of one kind per window; the rest are counted, not written


class RepeatLimiter:
    """Rate-limits repeated log lines: at most ``limit`` identical lines per ``window`` seconds.

    A flood (an accept error in a loop, a client hammering a refusal) would otherwise write
    megabytes a second; the first line of the next window says how many were suppressed.
    """

    def __init__(self, limit: int = REPEAT_LIMIT, window: float = REPEAT_WINDOW,
                 clock: Any = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[tuple[str, ...], list[float | int]] = {}  # kind -> [window start, written, dropped]
        self._lock = threading.Lock()

    def allow(self, kind: tuple[str, ...]) -> tuple[bool, int]:
        """(write this line?, lines of this kind suppressed in the window that just ended)."""
        now = self.clock()
        with self._lock:
            state = self._seen.get(kind)
            if state is None or now - state[0] >= self.window:
                dropped = int(state[2]) if state is not None else 0
                if len(self._seen) > 10_000:
                    self._seen.clear()
                self._seen[kind] = [now, 1, 0]
                return True, dropped
            if state[1] < self.limit:
                state[1] += 1
                return True, 0
            state[2] += 1
            return False, 0

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """structlog processor: drop the line (DropEvent) beyond the limit."""
        structlog = _structlog()

        # The whole line is the kind (the time stamp is added after this processor): distinct
        # events such as one "ingested" line per message are never limited, a flood of one is.
        ok, dropped = self.allow((method, repr(sorted(event.items(), key=lambda kv: kv[0]))))
        if not ok:
            raise structlog.DropEvent
        if dropped:
            event["suppressed_repeats"] = dropped
        return event


class _RepeatFilter(logging.Filter):
    """The same limit for the libraries' stdlib loggers (asyncio's accept errors)."""

    def __init__(self, limiter: RepeatLimiter) -> None:
        super().__init__()
        self.limiter = limiter

    def filter(self, record: logging.LogRecord) -> bool:
        ok, dropped = self.limiter.allow((record.name, str(record.msg)))
        if ok and dropped:
            record.msg = f"{record.msg} [{dropped} repeats suppressed]"
        return ok


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
    limiter = RepeatLimiter()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _RepeatFilter) for f in handler.filters):
            handler.addFilter(_RepeatFilter(limiter))
    for name in ("mail.log", "mail.debug", "aiosmtpd", "apscheduler", "imapclient"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # flufl.bounce logs a multi-line traceback whenever one of its detectors trips over odd mail
    # (e.g. no From header); the parser already turns such failures into defects.
    logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)


def _structlog() -> Any:
    """structlog, imported without rich.

    ``structlog.dev`` imports rich (and with it pygments) whenever it is installed, for pretty
    tracebacks; we render exceptions as text ourselves (``format_exc_info``).  rich cost every
    process 16 MB of RSS and ~0.2 s of start-up: the SMTP front end, the worker, each parser
    process and every CLI command (issue 26).  While structlog is imported, ``import rich``
    fails (a ``None`` in ``sys.modules``); afterwards rich imports normally for typer's help.
    """
    loaded = sys.modules.get("structlog")
    if loaded is not None:
        return loaded
    hide = "rich" not in sys.modules
    if hide:
        sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        import structlog
    finally:
        if hide and sys.modules.get("rich", 0) is None:
            del sys.modules["rich"]
    return structlog


def _configure(level: str, fmt: str, stream: Any) -> None:
    structlog = _structlog()

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
            RepeatLimiter(),
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
    structlog = _structlog()

    if _PENDING:
        _configure(*_PENDING.pop())
    return structlog.get_logger(name).bind(**bind)
