"""Contact search through the CLI on both backends: Unicode case, ё = е, every field, literal % and _."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailcrm.cli import _register, app
from mailcrm.store.search import fold, like_pattern

_register()
RUNNER = CliRunner()


@pytest.fixture
def cfg(tmp_path: Path, db_url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[database]\nurl = "{db_url}"\n[digest]\nenabled = false\n'
                    '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
                    'timezone = "Europe/Moscow"\nlanguage = "ru"\nphone_region = "RU"\n')
    return path


def run(cfg: Path, *args: str) -> Any:
    res = RUNNER.invoke(app, ["--config", str(cfg), *args, "--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    return json.loads(res.stdout)


def found(cfg: Path, query: str) -> list[str]:
    return sorted(c["addresses"][0]["address"] for c in run(cfg, "contacts", "--search", query))


@pytest.fixture
def people(cfg: Path) -> Path:
    run(cfg, "tag", "petrov@teatr.example", "театры")
    run(cfg, "contact", "edit", "petrov@teatr.example", "--name", "Пётр Петров", "--title", "Завлит",
        "--company", "Театр на Таганке", "--phone", "+7 921 555-99-99")
    run(cfg, "tag", "volkova@kino.example", "кино")
    run(cfg, "contact", "edit", "volkova@kino.example", "--name", "Анна Волкова", "--company", "Мосфильм")
    run(cfg, "tag", "jose@editorial.example", "издательства")
    run(cfg, "contact", "edit", "jose@editorial.example", "--name", "José Núñez", "--company", "100%_Books")
    return cfg


def test_cyrillic_any_case_and_yo(people: Path) -> None:
    assert found(people, "Петров") == ["petrov@teatr.example"]
    assert found(people, "ПЕТРОВ") == ["petrov@teatr.example"]
    assert found(people, "петр") == ["petrov@teatr.example"]  # ё in Пётр = е
    assert found(people, "ПЁТР") == ["petrov@teatr.example"]
    assert found(people, "Волкова") == ["volkova@kino.example"]
    assert found(people, "Таганк") == ["petrov@teatr.example"]  # the company
    assert found(people, "завлит") == ["petrov@teatr.example"]  # the title
    assert found(people, "JOSE NUNEZ") == ["jose@editorial.example"]  # accents dropped on both sides


def test_addresses_phones_and_tags(people: Path) -> None:
    assert found(people, "KINO.example") == ["volkova@kino.example"]
    assert found(people, "ТЕАТРЫ") == ["petrov@teatr.example"]  # a tag
    assert found(people, "8 (921) 555-99-99") == ["petrov@teatr.example"]  # national form, RU region
    assert found(people, "555-99") == ["petrov@teatr.example"]
    assert found(people, "+79215559999") == ["petrov@teatr.example"]


def test_percent_and_underscore_are_literal(people: Path) -> None:
    assert found(people, "%") == ["jose@editorial.example"]
    assert found(people, "_") == ["jose@editorial.example"]
    assert found(people, "0%_b") == ["jose@editorial.example"]
    assert found(people, "\\") == []
    assert len(run(people, "contacts")) == 3


def test_search_follows_edits_untag_and_merge(people: Path) -> None:
    run(people, "contact", "edit", "volkova@kino.example", "--name", "Анна Сергеевна Орлова")
    assert found(people, "Волкова") == [] and found(people, "орлова") == ["volkova@kino.example"]
    run(people, "untag", "petrov@teatr.example", "театры")
    assert found(people, "театры") == []
    run(people, "tag", "petrov2@mail.example", "x")
    run(people, "contact", "merge", "petrov@teatr.example", "petrov2@mail.example")
    assert found(people, "petrov2@") == ["petrov@teatr.example"]


def test_cut_lists_say_so(cfg: Path) -> None:
    for i in range(5):
        run(cfg, "tag", f"p{i}@example.com", "t")
    res = RUNNER.invoke(app, ["--config", str(cfg), "contacts", "--json", "--limit", "3"])
    assert res.exit_code == 0 and len(json.loads(res.stdout)) == 3
    assert "3 of 5 contacts" in res.stderr
    assert len(run(cfg, "contacts")) == 5  # --json without --limit: all of them
    res = RUNNER.invoke(app, ["--config", str(cfg), "contacts", "--limit", "2"])
    assert "2 of 5 contacts shown" in res.stdout


def test_fold_and_pattern_units() -> None:
    assert fold("ЁЛКА Straße") == "елка strasse"
    assert fold("Йошкар-Ола") == "йошкар-ола"  # й stays a letter of its own
    assert like_pattern("  ") is None
    assert like_pattern("a%b_c") == "%a\\%b\\_c%"
    assert like_pattern("8 921 555 99 99", "RU") == "%9215559999%"


def test_a_search_in_the_transaction_that_wrote_a_contact_finds_it(cfg: Path) -> None:
    """A `+find` handled in the same ingest batch as the mail that created the contact must see it: the search text
    of contacts written earlier in the transaction is brought up to date before the search (found by the daemon test
    of an answer retried with the relay down, once the worker process batched both mails together)."""
    from mailcrm import config as config_mod
    from mailcrm.app.handle import open_store
    from mailcrm.store import db, repository

    store = open_store(config_mod.load(cfg))
    try:
        with db.transaction(store.factory) as s:
            repository.find_or_create_contact(s, "oleg@kino.example", "Олег Ёлкин")
            rows, total = repository.list_contacts(s, "kino.example")
            assert total == 1 and rows[0]["name"] == "Олег Ёлкин"
            assert repository.list_contacts(s, "елкин")[1] == 1
    finally:
        store.close()
    assert found(cfg, "kino.example") == ["oleg@kino.example"]  # and committed as usual
