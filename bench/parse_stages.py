"""CPU cost of ``parse_message`` by stage, one tree against another, alternated in one run (issue 26).

Each round runs every tree in its own subprocess (its root first on sys.path) over the same
messages (a Maildir made by ``python bench/corpus.py --count 2000 maildir DIR``), user address
``me@example.org``, after a warm-up of 300 messages (the parser's per-line caches are warm in a
long import too).  Prints CPU ms/msg (time.process_time) overall and per stage - MIME, address
headers, bounce, auto-reply, forward, reply text, signature, the rest - and
``answers.classify_answer`` on each message's reply text, the median of the rounds, and the
ratio old/new.  Nothing is asserted.

    python bench/parse_stages.py --old OTHER_TREE [--new .] [--rounds 3] DIR
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

_WORKER = r'''
import collections, json, logging, sys, time
from pathlib import Path
tree, corpus = sys.argv[1], sys.argv[2]
sys.path.insert(0, tree)
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)
import mailcrm.parse.message as M
from mailcrm.parse.answers import classify_answer
acc = collections.Counter()
def wrap(mod, name, label):
    fn = getattr(mod, name)
    def timed(*a, **k):
        t = time.process_time()
        try:
            return fn(*a, **k)
        finally:
            acc[label] += time.process_time() - t
    setattr(mod, name, timed)
wrap(M, "parse_bytes", "mime")
wrap(M, "_addresses", "addresses")
wrap(M.bounce, "detect_bounce", "bounce")
wrap(M.autoreply, "detect_autoreply", "autoreply")
wrap(M.forward, "find_forward", "forward")
wrap(M.reply_text, "extract_reply", "reply")
wrap(M.signature, "extract_signature", "signature")
raws = [p.read_bytes() for p in sorted(Path(corpus).rglob("*")) if p.is_file()]
users = frozenset({"me@example.org"})
for raw in raws[:300]:
    M.parse_message(raw, user_addresses=users)
acc.clear()
t = time.process_time()
replies = [M.parse_message(raw, user_addresses=users).reply_text for raw in raws]
total = time.process_time() - t
t = time.process_time()
for text in replies:
    classify_answer(text)
answers = time.process_time() - t
n = len(raws)
out = {"total": total, **acc, "other": total - sum(acc.values()), "classify_answer": answers}
print(json.dumps({"file": M.__file__, "n": n, **{k: v * 1000 / n for k, v in out.items()}}))
'''

STAGES = ("total", "mime", "addresses", "bounce", "autoreply", "forward", "reply", "signature", "other",
          "classify_answer")


def _run(tree: str, corpus: str) -> dict[str, Any]:
    root = str(Path(tree).resolve())
    res = subprocess.run([sys.executable, "-c", _WORKER, root, corpus], capture_output=True, text=True,
                         check=True, cwd="/")
    doc: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    assert str(doc["file"]).startswith(root), doc["file"]  # the tree asked for, not an installed one
    return doc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True, help="the other tree (a checkout or worktree)")
    ap.add_argument("--new", default=str(Path(__file__).resolve().parents[1]))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("corpus", help="a Maildir from bench/corpus.py")
    args = ap.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    for _ in range(args.rounds):
        runs["old"].append(_run(args.old, args.corpus))
        runs["new"].append(_run(args.new, args.corpus))
    n = int(runs["new"][0]["n"])
    print(f"CPU ms/msg, median of {args.rounds} alternated rounds, {n} messages of {args.corpus}")
    print(f"{'stage':16s} {'old':>8s} {'new':>8s} {'old/new':>8s}")
    for stage in STAGES:
        old = statistics.median(r.get(stage, 0.0) for r in runs["old"])
        new = statistics.median(r.get(stage, 0.0) for r in runs["new"])
        ratio = f"{old / new:8.2f}" if new else "       -"
        label = stage + (" (per call)" if stage == "classify_answer" else "")
        print(f"{label:16s} {old:8.3f} {new:8.3f} {ratio}")


if __name__ == "__main__":
    main()
