"""Parse time on hostile mail: does it grow linearly with the size of a pathological run?

Anyone can send a bounce (null sender) to the dropbox, so a message built to make a regular
expression backtrack is an attack on the worker.  Each family below is one kind of run (blank
lines, spaces, no-break spaces, a base64 line with no breaks, quote markers, rule characters,
letters with no ``@``, header-like lines ...) placed in the body of an ordinary mail, a bounce
report, a forward and a signature, or in a header.  Each is parsed at two sizes, ``n`` and
``8 n``; the ratio of the times gives the growth exponent (1 = linear, 2 = quadratic).

Prints, per family, the time at both sizes and the exponent, then the worst exponent and the
slowest parse.  A regular parse of such a message takes milliseconds; before the runs were
bounded, several of these took minutes at ``8 n``.  Nothing is asserted.

    python bench/pathological.py [--n 4000] [--patterns]

``--patterns`` first times each compiled pattern of ``mailcrm.parse`` alone on such runs (the
ten slowest, against the same pattern on prose of the same length): where a new slow pattern is.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailcrm.parse.message import parse_message  # noqa: E402

# flufl.bounce logs a traceback for each detector that trips on odd mail; the daemon silences it
# too (mailcrm/log.py), so the figures are not printed among them.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

ME = frozenset({"me@example.org"})
RUNS: dict[str, Callable[[int], str]] = {
    "blank lines": lambda n: "\n" * n,
    "blank-looking lines": lambda n: " \n" * (n // 2),
    "spaces": lambda n: "x" + " " * n + "x",
    "tabs": lambda n: "x" + "\t" * n + "x",
    "no-break spaces": lambda n: "x" + "\u00a0" * n + "x",
    "letters, no @": lambda n: "a" * n,
    "base64 line": lambda n: "".join(random.Random(n).choice(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(n)),
    "dotted words": lambda n: "a." * (n // 2),
    "hyphened words": lambda n: "a-" * (n // 2),
    "quote markers": lambda n: ">" * n,
    "spaced quote markers": lambda n: "> " * (n // 2),
    "dashes": lambda n: "-" * n,
    "equals": lambda n: "=" * n,
    "underscores": lambda n: "_" * n,
    "colons": lambda n: ":" * n,
    "header-like lines": lambda n: "From: x\n" * (n // 8),
    "repeated reply headers": lambda n: "Subject: Re: play\nTo: Me <me@example.org>\n\nAgreed\n\n" * (n // 50),
    "short words": lambda n: "ab " * (n // 3),
    "encoded-word starts": lambda n: "=?" * (n // 2),
    "digits": lambda n: "1" * n,
}


def _mail(headers: str, body: str) -> bytes:
    return (headers + "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body).encode()


CONTEXTS: dict[str, Callable[[str], bytes]] = {
    "body": lambda run: _mail("From: Ivan <ivan@theatre.example>\nTo: me@example.org\nSubject: Re: play\n",
                              f"Hello,\n{run}\nthanks\n\nOn Mon, Ivan wrote:\n> quoted\n"),
    "bounce": lambda run: _mail("From: MAILER-DAEMON@mx.example\nTo: me@example.org\n"
                                "Subject: Undelivered Mail Returned to Sender\n",
                                f"This is the mail system.\n{run}\n<ivan@theatre.example>: host said: 550 5.1.1 "
                                f"User unknown\n{run}\n------ This is a copy of the message\n{run}\n"),
    "forward": lambda run: _mail("From: Me <me@example.org>\nTo: crm@example.org\nSubject: Fwd: play\n",
                                 f"{run}\n---------- Forwarded message ---------\nFrom: Ivan <ivan@theatre.example>"
                                 f"\nDate: Mon, 1 Jan 2024 10:00\nSubject: play\n\n{run}\n"),
    "signature": lambda run: _mail("From: Ivan <ivan@theatre.example>\nTo: me@example.org\nSubject: play\n",
                                   f"Hello\n\nBest regards,\n{run}\nIvan Petrov\n{run}\nтел. +7 495 123-45-67 "
                                   f"{run}\n"),
    "header": lambda run: _mail(f"From: \"{run[:5000]}\" <ivan@theatre.example>\nTo: me@example.org\n"
                                f"Subject: {run.replace(chr(10), ' ')}\n", "Hello\n"),
}


def timed(raw: bytes) -> float:
    """Seconds to parse ``raw`` (best of two; the parse is pure)."""
    best = math.inf
    for _ in range(2):
        t = time.perf_counter()
        parse_message(raw, user_addresses=ME)
        best = min(best, time.perf_counter() - t)
    return best


def scan_patterns(n: int) -> None:
    """Every compiled pattern of ``mailcrm.parse`` on runs of n characters: the slowest, as a
    multiple of the same pattern on n characters of ordinary prose."""
    import importlib
    import pkgutil
    import re

    import mailcrm.parse as package

    prose = ("Thank you for the play; we will read it this month. " * (n // 50 + 1))[:n]
    chars = [" ", "\t", "\u00a0", "a", "1", ">", "-", "=", "_", "*", ":", ".", "@", "<", "'", "a.", "a-", "> ", "ab ",
             "=?", " \n", "\r\n", "я"]
    rows = []
    seen: set[int] = set()
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"mailcrm.parse.{info.name}")
        for name, rx in vars(module).items():
            if not isinstance(rx, re.Pattern) or id(rx) in seen:
                continue  # one pattern imported by several modules is timed once
            seen.add(id(rx))
            if isinstance(rx.pattern, bytes):
                continue  # the few byte patterns run on raw messages, which the families above cover
            t = time.perf_counter()
            for _ in rx.finditer(prose):
                pass
            base = max(time.perf_counter() - t, 1e-5)
            worst, what = 0.0, ""
            for c in chars:
                for text in (c * (n // len(c)), "x" + c * (n // len(c)) + "!"):
                    t = time.perf_counter()
                    for _ in rx.finditer(text):
                        pass
                    if (dt := time.perf_counter() - t) > worst:
                        worst, what = dt, repr(c)
            rows.append((worst / base, worst, f"{info.name}.{name}", what))
    rows.sort(reverse=True)
    print(f"patterns: {len(rows)}; the 10 slowest on {n:,}-character runs (x = that / the same length of prose)")
    for ratio, worst, name, what in rows[:10]:
        print(f"  {name:<40} {worst * 1000:8.2f} ms  x{ratio:8.0f}  run of {what}")


def main() -> None:
    """Time every family in every context at n and 8n; print times and growth exponents."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4000, help="run length of the small size (the large one is 8 n)")
    ap.add_argument("--patterns", action="store_true", help="also time every parse pattern alone on such runs")
    args = ap.parse_args()
    if args.patterns:
        scan_patterns(args.n)
    small, large = args.n, 8 * args.n
    worst: tuple[float, str] = (0.0, "")
    slowest: tuple[float, str] = (0.0, "")
    base = timed(CONTEXTS["body"](""))
    print(f"baseline: an ordinary short mail parses in {base * 1000:.2f} ms")
    print(f"{'context':<10} {'family':<22} {'n':>9} {'8n':>9}  exponent  8n/baseline")
    for cname, context in CONTEXTS.items():
        for fname, run in RUNS.items():
            t1 = timed(context(run(small)))
            t2 = timed(context(run(large)))
            exponent = math.log(max(t2, 1e-6) / max(t1, 1e-6)) / math.log(8)
            print(f"{cname:<10} {fname:<22} {t1 * 1000:7.1f}ms {t2 * 1000:7.1f}ms  {exponent:8.2f}  {t2 / base:10.0f}")
            worst = max(worst, (exponent if t2 > 0.005 else 0.0, f"{cname}/{fname}"))
            slowest = max(slowest, (t2, f"{cname}/{fname}"))
    print(f"worst growth exponent (runs slower than 5 ms): {worst[0]:.2f} ({worst[1]})")
    print(f"slowest parse at 8n = {large:,} characters: {slowest[0] * 1000:.0f} ms ({slowest[1]}), "
          f"{slowest[0] / base:.0f}x an ordinary mail")


if __name__ == "__main__":
    main()
