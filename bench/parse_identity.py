"""Parser identity check: this tree's ``parse_message`` against another tree's (issue 26).

Every file under the given roots (default: $MAILCRM_CORPORA or ../shared/corpora, tests/data
and a bench corpus, ``--corpus DIR``, made with ``python bench/corpus.py --count 2000 maildir DIR``)
is parsed twice by each side, without and with a user address (``me@example.org``); what is
compared is the full ``MessageFacts`` (``to_json()`` as ``mailcrm inspect --json`` prints it,
plus the dataclass repr, which holds every field: body and reply text, forward text, headers,
files) and ``answers.classify_answer`` of the reply text and of the whole body.  Each side runs in
its own subprocess with its tree first on PYTHONPATH.  Prints "N of N identical" and the files
that differ.

    git worktree add /tmp/old main   # the tree to compare against
    python bench/parse_identity.py --old /tmp/old [--new .] [--corpus DIR] [ROOT ...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

ME = "me@example.org"


def _dump(paths: list[str]) -> None:
    """Worker: one JSON line per (file, mode) with a digest of everything parse_message returned."""
    import logging

    logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)
    from mailcrm.parse.answers import classify_answer
    from mailcrm.parse.message import parse_message

    for path in paths:
        raw = Path(path).read_bytes()
        for mode, users in (("anon", frozenset()), ("user", frozenset({ME}))):
            try:
                facts = parse_message(raw, user_addresses=users)
                doc = json.dumps(facts.to_json(), ensure_ascii=False, sort_keys=True, default=str)
                full = doc + "\n" + repr(facts) + "\n" + classify_answer(facts.reply_text) + "/" \
                    + classify_answer(facts.body_text) + "/" \
                    + (classify_answer(facts.forwarded.text) if facts.forwarded is not None else "-")
            except Exception as exc:  # noqa: BLE001 - an exception is an outcome to compare too
                full = f"EXC {type(exc).__name__}: {exc}"
            digest = hashlib.sha256(full.encode("utf-8", "surrogatepass")).hexdigest()
            sys.stdout.write(json.dumps({"path": path, "mode": mode, "digest": digest}) + "\n")


def _run(tree: str, paths: list[str]) -> dict[tuple[str, str], str]:
    env = dict(os.environ, PYTHONPATH=str(Path(tree).resolve()))
    proc = subprocess.run([sys.executable, "-c", "import sys, runpy; sys.argv=['x','--worker']; "
                           f"runpy.run_path({str(Path(__file__).resolve())!r}, run_name='__main__')"],
                          input="\n".join(paths), env=env, capture_output=True, text=True, check=True,
                          cwd=str(Path(tree).resolve()))
    out: dict[tuple[str, str], str] = {}
    for line in proc.stdout.splitlines():
        d = json.loads(line)
        out[(d["path"], d["mode"])] = d["digest"]
    return out


def main() -> None:
    if "--worker" in sys.argv:
        _dump([p for p in sys.stdin.read().splitlines() if p])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True, help="the other tree (a checkout or worktree)")
    ap.add_argument("--corpus", default="", help="a bench/corpus.py Maildir to add to the default roots")
    ap.add_argument("--new", default=str(Path(__file__).resolve().parents[1]))
    ap.add_argument("roots", nargs="*")
    args = ap.parse_args()
    here = Path(__file__).resolve().parents[1]
    roots = args.roots or [os.environ.get("MAILCRM_CORPORA", str(here.parent / "shared" / "corpora")),
                           str(Path(args.new) / "tests" / "data"), *([args.corpus] if args.corpus else [])]
    paths = sorted(str(p) for r in roots for p in Path(r).rglob("*") if p.is_file())
    old, new = _run(args.old, paths), _run(args.new, paths)
    keys = sorted(set(old) | set(new))
    same = [k for k in keys if old.get(k) == new.get(k)]
    for k in keys:
        if old.get(k) != new.get(k):
            print("DIFFERS", k[1], k[0])
    print(f"{len(same)} of {len(keys)} identical ({len(paths)} files x 2 modes)")


if __name__ == "__main__":
    main()
