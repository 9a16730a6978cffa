"""CLI commands: works, work rename|merge|split|answer, outreach, check, proof, proof verify (issue 22)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from mailcrm.cli.common import console, emit, err_console, load_config, open_store, print_table
from mailcrm.errors import UsageError

work_app = typer.Typer(help="Correct how works were recognised: rename, merge, split, answer.", no_args_is_help=True)


def _d(value: Any) -> str:
    return str(value)[:10] if value else "-"


def _render_works(rows: list[dict[str, Any]]) -> None:
    print_table(f"{len(rows)} works", ["id", "title", "also named", "files", "first sent", "recipients", "replies"], [
        (r["id"], r["title"], ", ".join(a for a in r["aliases"] if a != r["title"]), len(r["files"]),
         _d(r["first_sent"]), r["recipients"], f"{r['replies']} ({r['declined']} declined)") for r in rows])


def _render_outreach(r: dict[str, Any]) -> None:
    title = r["work"]["title"]
    print_table(f"not yet sent «{title}»: {len(r['not_sent'])}", ["address", "name", "company", "note"], [
        (x["address"], x["name"], x["company"],
         (f"colleague {x['company_received']['name'] or ''} got it {_d(x['company_received']['last_sent'])}"
          if x.get("company_received") else "")) for x in r["not_sent"]])
    print_table(f"already sent: {len(r['sent'])}", ["address", "name", "company", "first", "last", "times", "answer"],
                [(x["address"], x["name"], x["company"], _d(x["first_sent"]), _d(x["last_sent"]), x["times"],
                  x["answer"]) for x in r["sent"]])
    if r["left_out"]:
        print_table(f"left out: {len(r['left_out'])}", ["address", "name", "company", "why"],
                    [(x["address"], x["name"], x["company"], x["reason"]) for x in r["left_out"]])
    if r["no_working_address"]:
        print_table(f"no working address: {len(r['no_working_address'])}", ["address", "name", "company"],
                    [(x["address"], x["name"], x["company"]) for x in r["no_working_address"]])


commands = typer.Typer()  # this module's top-level commands and groups; register() adds them to the root app


@commands.command("works")
def works_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List the works recognised in sent mail: title, names, files, first sent, recipients, replies."""
    from mailcrm.app import outreach

    rows = outreach.list_works(open_store(load_config(ctx)))
    emit({"works": rows} if as_json else rows, as_json, _render_works)


@work_app.command("rename")
def rename_cmd(ctx: typer.Context, work: str, title: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Give WORK (id, name or title) a new TITLE."""
    from mailcrm.app import outreach

    r = outreach.rename_work(open_store(load_config(ctx)), work, title)
    emit(r, as_json, lambda x: console.print(f"work {x['id']} is now «{x['title']}»"))


@work_app.command("merge")
def merge_cmd(ctx: typer.Context, keep: str, drop: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Make DROP part of KEEP (two names of one play, e.g. a translated title)."""
    from mailcrm.app import outreach

    r = outreach.merge_works(open_store(load_config(ctx)), keep, drop)
    emit(r, as_json, lambda x: console.print(f"merged into work {x['id']} «{x['title']}»"))


@work_app.command("split")
def split_cmd(ctx: typer.Context, work: str, name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Take NAME (one of WORK's names) and what was sent under it out into a work of its own."""
    from mailcrm.app import outreach

    r = outreach.split_work(open_store(load_config(ctx)), work, name)
    emit(r, as_json, lambda x: console.print(f"new work {x['id']} «{x['title']}» ({x['sends']} sends moved)"))


@work_app.command("answer")
def answer_cmd(ctx: typer.Context, work: str, address: str,
               answer: str = typer.Argument(..., help="none, replied, declined, interested or deal"),
               note: Optional[str] = typer.Option(None, "--note"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Correct the answer ADDRESS gave on WORK (later mail no longer moves it)."""
    from mailcrm.app import outreach

    r = outreach.correct_answer(open_store(load_config(ctx)), work, address, answer, note)
    emit(r, as_json, lambda x: console.print(f"{x['address']}: «{x['work']['title']}» answer {x['answer']}"))


@commands.command("outreach")
def outreach_cmd(ctx: typer.Context, work: str, tag: Optional[str] = typer.Option(None, "--tag"),
                 as_csv: bool = typer.Option(False, "--csv", help="The not-yet list as `export contacts` CSV."),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Who has not received WORK yet (minus declines), who has (when, how often, answer), who has no working address."""
    from mailcrm.app import cases, outreach

    if as_csv and as_json:
        raise UsageError("--csv and --json: choose one")
    store = open_store(load_config(ctx))
    r = outreach.outreach(store, work, tag)
    if as_csv:
        from mailcrm.transfer.export import to_csv

        wanted = {x["contact_id"] for x in r["not_sent"]}
        sys.stdout.write(to_csv([c for c in cases.export_rows(store, tag) if c.id in wanted]))
        return
    emit(r, as_json, _render_outreach)


@commands.command("check")
def check_cmd(ctx: typer.Context, addresses: list[str], work: str = typer.Option(..., "--work"),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Exit 1 if any ADDRESS (or anyone at the same company) already got WORK, saying who and when."""
    from mailcrm.app import outreach

    r = outreach.check(open_store(load_config(ctx)), addresses, work)

    def render(x: dict[str, Any]) -> None:
        for a in x["already"]:
            by = a["received_by"]
            who = "they" if a["same_person"] else f"{by['name'] or by['address']} ({by['company'] or ''})"
            console.print(f"{a['address']}: «{x['work']['title']}» already sent — {who} got it "
                          f"{_d(a['first_sent'])}" + (f"…{_d(a['last_sent'])}" if a['times'] > 1 else "")
                          + f", {a['times']}×, answer: {a['answer']}")
        for c in x["clear"]:
            console.print(f"{c['address']}: not sent yet" + ("" if c["known"] else " (not a contact)"))

    emit(r, as_json, render)
    if r["already"]:
        raise typer.Exit(1)


@commands.command("proof")
def proof_cmd(ctx: typer.Context,
              words: list[str] = typer.Argument(..., metavar="ADDR | verify DIR"),
              work: Optional[str] = typer.Option(None, "--work"),
              export: Optional[Path] = typer.Option(None, "--export", help="Write the proof into this directory."),
              offline: bool = typer.Option(False, "--offline", help="verify: check the files only, not the store."),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """`proof ADDR [--work W] --export DIR` writes raw .eml files and a manifest; `proof verify DIR` re-checks (exit 1 on any change)."""
    from mailcrm.app import proof

    if words[0] == "verify":
        if len(words) != 2:
            raise UsageError("usage: mailcrm proof verify DIR")
        store = None if offline else open_store(load_config(ctx))
        problems = proof.verify(Path(words[1]), store)
        emit({"ok": not problems, "problems": problems}, as_json,
             lambda x: console.print("intact" if x["ok"] else "\n".join(x["problems"])))
        if problems:
            raise typer.Exit(1)
        return
    if len(words) != 1 or export is None:
        raise UsageError("usage: mailcrm proof ADDR [--work W] --export DIR  (or: mailcrm proof verify DIR)")
    m = proof.export(open_store(load_config(ctx)), words[0], work, export)
    emit({"dir": str(export), "messages": len(m["messages"]), "ledger": len(m["ledger"])}, as_json,
         lambda x: err_console.print(f"wrote {x['messages']} messages and {x['ledger']} ledger entries "
                                     f"to {x['dir']}"))


commands.add_typer(work_app, name="work")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(commands)
