"""Company-name normalisation: two spellings of one company give one key."""

from __future__ import annotations

import pytest

from mailcrm.parse.companies import looks_like_company, normalize_company


@pytest.mark.parametrize(
    "spellings",
    [
        ("ООО «Кинокомпания «Север»»", "Кинокомпания Север", '"КИНОКОМПАНИЯ СЕВЕР", ООО',
         "Общество с ограниченной ответственностью «Кинокомпания Север»", "кинокомпания  «север»"),
        ("Acme Inc.", "ACME, Inc", "Acme LLC", "Acme L.L.C.", "acme corp", "“Acme” Ltd"),
        ("ПАО «Ёлка»", "Елка", "АО 'Ёлка'"),
        ("Siemens AG", "SIEMENS", "Siemens GmbH"),
        ("ГБУК г. Москвы «Театр на Таганке»", "г. Москвы Театр на Таганке"),
        ("Procter & Gamble Co.", "PROCTER & GAMBLE"),
    ],
)
def test_spellings_of_one_company_share_a_key(spellings: tuple[str, ...]) -> None:
    keys = {normalize_company(s) for s in spellings}
    assert len(keys) == 1 and "" not in keys


def test_different_companies_stay_different() -> None:
    assert normalize_company("Кинокомпания Север") != normalize_company("Кинокомпания Юг")
    assert normalize_company("Acme Inc.") != normalize_company("Acme Labs Inc.")
    # legal-form words inside a name are part of it
    assert normalize_company("Co-op Bank") != normalize_company("Bank")


def test_a_name_that_is_only_a_legal_form_keeps_its_words() -> None:
    assert normalize_company("ООО") == "ооо"
    assert normalize_company("  ") == ""
    assert normalize_company(None) == ""  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["ООО «Кинокомпания «Север»»", "Театр на Таганке", "Acme Inc.",
                                  "Издательство «Эксмо»", "ИП Иванов", "Northwind Pictures LLC"])
def test_company_lines(text: str) -> None:
    assert looks_like_company(text)


@pytest.mark.parametrize("text", ["Иван Петров", "John Smith", "главный редактор", "Head of Marketing", ""])
def test_not_company_lines(text: str) -> None:
    assert not looks_like_company(text)
