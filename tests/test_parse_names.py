"""Person names, Russian (both orders, pymorphy3 tags) and English (nameparser)."""

from __future__ import annotations

import pytest

from mailcrm.parse.names import PersonName, looks_like_title, parse_person_name


@pytest.mark.parametrize(
    ("text", "first", "last", "middle"),
    [
        ("Петров Иван Сергеевич", "Иван", "Петров", "Сергеевич"),
        ("Иван Сергеевич Петров", "Иван", "Петров", "Сергеевич"),
        ("Иван Петров", "Иван", "Петров", None),
        ("Петров Иван", "Иван", "Петров", None),
        ("Анна Смирнова", "Анна", "Смирнова", None),
        ("Сидорова Мария Петровна", "Мария", "Сидорова", "Петровна"),
        ("ПЕТРОВ ИВАН", "ИВАН", "ПЕТРОВ", None),
        ("Петров И.С.", "И.С.", "Петров", None),
        ("Елена", "Елена", None, None),
        ("John Smith", "John", "Smith", None),
        ("Todd A. Perry", "Todd", "Perry", "A."),
        ("Meyers, Bert", "Bert", "Meyers", None),
        ("Bryn O'Shaughnessy", "Bryn", "O'Shaughnessy", None),
        ("BERT MEYERS", "BERT", "MEYERS", None),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven", None),
    ],
)
def test_names_split_in_both_orders(text: str, first: str, last: str | None, middle: str | None) -> None:
    person = parse_person_name(text)
    assert person == PersonName(full=" ".join(text.split()), first=first, last=last, middle=middle)


@pytest.mark.parametrize(
    "text",
    ["главный редактор", "Театр на Таганке", "Head of Marketing", "Vice President", "Acme Inc.",
     "ENA Human Resources", "Enron Net Works", "Спасибо, Иван", "Отправлено с iPhone", "Best regards",
     "+7 916 123-45-67", "john@example.com", "BT", "", "Иван Smith", "ООО «Север»", "Петров"],
)
def test_titles_companies_and_junk_are_not_names(text: str) -> None:
    assert parse_person_name(text) is None


@pytest.mark.parametrize("text", ["продюсер", "главный редактор", "завлит", "Head of Marketing",
                                  "Vice President", "Senior Software Engineer", "CEO"])
def test_job_titles(text: str) -> None:
    assert looks_like_title(text)


@pytest.mark.parametrize("text", ["Иван Петров", "John Smith", "Театр на Таганке", "www.eksmo.ru"])
def test_not_job_titles(text: str) -> None:
    assert not looks_like_title(text)


def test_bad_input_never_raises() -> None:
    assert parse_person_name(None) is None  # type: ignore[arg-type]
    assert parse_person_name("\x00" * 1000) is None
    assert not looks_like_title(None)  # type: ignore[arg-type]
