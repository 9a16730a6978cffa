"""Score bounce parsing and the kill decision on the bounce corpus: whole corpus and leave-one-source-out.

Usage: ``PYTHONPATH=. python bench/bounce_eval.py [CORPORA_DIR] [--by folder|engine] [--json]``
(CORPORA_DIR defaults to $MAILCRM_CORPORA, the folder holding ``bounces/manifest.jsonl``).

Figures (definitions of the corpus README): detection precision/recall (``expected.is_bounce``),
recipients exact (failed-recipient set == ``expected.recipients``), hard/soft agreement
(``recipients_detail[].hard``, ``hard_disputed`` rows skipped), and dead-address precision/recall.
"Dead" is the kill decision of ``domain.bounces.decide_bounce`` for a single report, taking the
report as tied to mail sent there when it gives the original's Message-ID (quoted, rfc822-headers,
In-Reply-To/References) and as unquoted otherwise (then it can only make the address suspect).
``legacy dead`` is the old rule (any recipient with ``hard``), for before/after comparison.

Leave-one-source-out: a source is a top-level folder of the corpus (``--by folder``) or, finer,
the MTA module Sisimai names for the message (``--by engine``; rows without one keep their
folder).  The parser and the decision have no parameter fitted to data, so the score on each
held-out source is the score of the same code on that source alone; the table lists each held-out
source, the pooled held-out figures and the worst source.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailcrm.parse.message import parse_message

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@dataclass
class Answer:
    """What mailcrm says about one message."""

    is_bounce: bool
    hard: dict[str, bool]
    kill: dict[str, bool]
    reason: dict[str, str | None]


def answer(raw: bytes) -> Answer:
    """Parse one message and take the kill decision for each failed recipient."""
    bounce = parse_message(raw).bounce
    if bounce is None:
        return Answer(False, {}, {}, {})
    try:
        from mailcrm.domain.bounces import decide_bounce
    except ImportError:  # the code before issue 20: no decision, "hard" kills
        decide_bounce = None  # type: ignore[assignment]
    ids = getattr(bounce, "original_message_ids", ()) or ((bounce.original_message_id,) if bounce.original_message_id else ())
    tie = "message_id" if ids else "unquoted"
    kill: dict[str, bool] = {}
    for r in bounce.recipients:
        permanent = getattr(r, "permanent", None)
        if decide_bounce is None or permanent is None:
            kill[r.address] = r.hard
        else:
            kill[r.address] = decide_bounce(r.reason, bool(permanent), tie, at=NOW).action == "kill"  # type: ignore[arg-type]
    return Answer(True, {r.address: r.hard for r in bounce.recipients}, kill, {r.address: r.reason for r in bounce.recipients})


@dataclass
class Score:
    """Counters over a set of messages."""

    n: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    rcpt_ok: int = 0
    rcpt_total: int = 0
    agree: int = 0
    agree_total: int = 0
    kills: int = 0
    good_kills: int = 0
    legacy_kills: int = 0
    legacy_good: int = 0
    dead_total: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, row: dict[str, Any], got: Answer) -> None:
        """Count one message."""
        self.n += 1
        expected = row["expected"]
        name = row["path"].rsplit("/", 1)[-1]
        if got.is_bounce and expected["is_bounce"]:
            self.tp += 1
        elif got.is_bounce:
            self.fp += 1
            self.notes.append(f"false bounce {name}")
        elif expected["is_bounce"]:
            self.fn += 1
            self.notes.append(f"missed bounce {name}")
        if expected["is_bounce"] and expected["recipients"] is not None:
            self.rcpt_total += 1
            ok = set(got.hard) == set(expected["recipients"])
            self.rcpt_ok += ok
            if not ok and got.is_bounce:
                self.notes.append(f"recipients {name}: {sorted(got.hard)} != {sorted(expected['recipients'])}")
        if row.get("hard_disputed"):
            return
        truth = {d["address"]: d.get("hard") for d in row.get("recipients_detail", []) if d.get("is_bounce")}
        for address, hard in truth.items():
            self.dead_total += hard is True
            if hard is not None and address in got.hard:
                self.agree_total += 1
                self.agree += got.hard[address] == hard
        for address in got.hard:
            if truth.get(address) is None and expected["is_bounce"]:
                continue  # the source does not say: not scored
            if got.kill.get(address):
                self.kills += 1
                self.good_kills += truth.get(address) is True
                if truth.get(address) is not True:
                    self.notes.append(f"FALSE KILL {name} {address} ({got.reason.get(address)})")
            if got.hard.get(address):
                self.legacy_kills += 1
                self.legacy_good += truth.get(address) is True
        for address, hard in truth.items():
            if hard is True and not got.kill.get(address):
                self.notes.append(f"not killed {name} {address} ({got.reason.get(address)})")

    def merge(self, other: Score) -> None:
        """Add another score's counters."""
        for k, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, k, getattr(self, k) + value)

    def ratios(self) -> dict[str, float]:
        """The published figures."""

        def r(a: int, b: int) -> float:
            return a / b if b else float("nan")

        return {
            "detection precision": r(self.tp, self.tp + self.fp),
            "detection recall": r(self.tp, self.tp + self.fn),
            "recipients exact": r(self.rcpt_ok, self.rcpt_total),
            "hard/soft agreement": r(self.agree, self.agree_total),
            "dead precision": r(self.good_kills, self.kills),
            "dead recall": r(self.good_kills, self.dead_total),
            "legacy dead precision": r(self.legacy_good, self.legacy_kills),
            "legacy dead recall": r(self.legacy_good, self.dead_total),
        }


def source_of(row: dict[str, Any], by: str) -> str:
    """The held-out unit of a manifest row: its top-level folder, or its MTA engine."""
    folder = row["path"].split("/", 1)[0]
    return (row.get("engine") or folder) if by == "engine" else folder


def evaluate(base: Path, by: str = "folder") -> dict[str, Any]:
    """Score the whole corpus and each held-out source."""
    rows = [json.loads(line) for line in (base / "manifest.jsonl").read_text().splitlines() if line.strip()]
    per: dict[str, Score] = {}
    for row in rows:
        got = answer((base / row["path"]).read_bytes())
        per.setdefault(source_of(row, by), Score()).add(row, got)
    whole = Score()
    for s in per.values():
        whole.merge(s)
        whole.notes += s.notes
    return {"whole": whole, "per_source": per}


def _fmt(x: float) -> str:
    return "   n/a" if math.isnan(x) else f"{x:6.1%}"


def report(result: dict[str, Any], out: Any = sys.stdout) -> None:
    """Print the whole-corpus figures, then one line per held-out source and the worst source."""
    whole: Score = result["whole"]
    keys = list(whole.ratios())
    print(f"whole corpus ({whole.n} messages)", file=out)
    for k, value in whole.ratios().items():
        print(f"  {k:24}{_fmt(value)}", file=out)
    print(f"  kills (good/all)        {whole.good_kills}/{whole.kills}   legacy {whole.legacy_good}/{whole.legacy_kills}"
          f"   dead in truth {whole.dead_total}", file=out)
    short = ["det.rec", "rcpt", "hard/soft", "dead P", "dead R"]
    print("\nleave-one-source-out (held-out source: score)", file=out)
    print(f"  {'source':28}{'n':>4} " + " ".join(f"{h:>9}" for h in short), file=out)
    worst = {k: 1.0 for k in keys}
    for name, s in sorted(result["per_source"].items()):
        r = s.ratios()
        print(f"  {name[:28]:28}{s.n:>4} " + " ".join(f"{_fmt(r[k]):>9}" for k in
                                                       ("detection recall", "recipients exact", "hard/soft agreement",
                                                        "dead precision", "dead recall")), file=out)
        for k in keys:
            if not math.isnan(r[k]):
                worst[k] = min(worst[k], r[k])
    print("  worst held-out source: " + ", ".join(f"{k} {_fmt(worst[k]).strip()}" for k in keys
                                                  if not k.startswith("legacy")), file=out)


def _lines(notes: Iterable[str]) -> str:
    return "\n".join(f"  {n}" for n in notes)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("corpora", nargs="?", default=os.environ.get("MAILCRM_CORPORA", str(Path(__file__).resolve().parents[2] / "shared" / "corpora")))
    ap.add_argument("--by", choices=("folder", "engine"), default="folder")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--notes", action="store_true", help="list false kills, missed kills and other misses")
    args = ap.parse_args(argv)
    result = evaluate(Path(args.corpora) / "bounces", args.by)
    if args.json:
        print(json.dumps({"whole": result["whole"].ratios(),
                          "per_source": {k: s.ratios() for k, s in result["per_source"].items()}}, indent=1))
    else:
        report(result)
        if args.notes:
            print(_lines(result["whole"].notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
