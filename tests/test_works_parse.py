"""Pure layers of issue 22: work keys from file names and subjects, declining answers, the ledger chain."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from mailcrm.domain import outreach as rules
from mailcrm.parse.answers import classify_answer
from mailcrm.parse.works import document_title, file_work, key_of, subject_titles, works_of

ONE_PLAY = ["Чайка-2_v3.pdf", "Chayka-2 final.docx", "ЧАЙКА 2.pdf", "pitch - Chayka 2 - 2025-03-01.pdf",
            "Chaika_2 (1).pdf", "Чайка 2 - копия.docx", "Čajka 2.pdf", "CHAIKA-2_FINAL_v12.doc",
            "Пьеса_Чайка-2_окончательный.rtf", "chayka 2 черновик 01.03.2025.odt", "Chayka2.pdf",
            "Чайка-2.pdf.pdf", "Чайка-2 v.3.pdf", "Чайка-2 (ред. 14.02.25).docx", "Чайка-2_версия2.docx",
            "Чайка-2_исправленная.docx", "Чайка 2 - Заявка на питчинг.pdf", "chayka_2_rev3.pdf",
            "Чайка-2 (синопсис).pdf", "Chayka 2 for the pitch.pdf"]


@pytest.mark.parametrize("name", ONE_PLAY)
def test_names_of_one_play_give_one_key(name: str) -> None:
    w = file_work(name)
    assert w is not None and w.key == key_of("Чайка-2")


@pytest.mark.parametrize(("a", "b"), [
    ("Дядя Ваня.pdf", "Dyadya_Vanya_v2.pdf"), ("Djadja Vanja.docx", "Дядя Ваня.pdf"),
    ("Щука.pdf", "Shchuka final.pdf"), ("Ŝuka.pdf", "Щука.pdf"), ("Жених.pdf", "Zhenikh.doc"),
    ("Zhenih.pdf", "Жених.pdf"), ("Юность.pdf", "Yunost.pdf"), ("Хижина.pdf", "Hizhina.pdf"),
    ("Вишнёвый сад окончательный.doc", "Vishnevyi sad.pdf"), ("Три сестры ред. 3.docx", "Tri sestry 2024.pdf"),
    ("Seagull_2_draft(1).doc", "Seagull 2.pdf"), ("Garden — final — 12.03.2025.pdf", "garden.docx"),
])
def test_transliterations_and_version_marks_meet(a: str, b: str) -> None:
    wa, wb = file_work(a), file_work(b)
    assert wa is not None and wb is not None and wa.key == wb.key


@pytest.mark.parametrize(("a", "b"), [
    ("Чайка-2.pdf", "Чайка.pdf"), ("Чайка-2.pdf", "Чайка-3.pdf"), ("Гроза.pdf", "Гроза над городом.pdf"),
    ("Три сестры.pdf", "Две сестры.pdf"), ("Seagull 2.pdf", "Чайка 2.pdf"), ("Дом.pdf", "Дым.pdf"),
    ("Лес 22.pdf", "Лес 2.pdf"), ("Комната 101.pdf", "Комната 11.pdf"), ("Чайка.pdf", "Чайка и я.pdf"),
    ("Жизнь на Марсе.pdf", "Жизнь.pdf"),
])
def test_different_titles_never_meet(a: str, b: str) -> None:
    wa, wb = file_work(a), file_work(b)
    assert wa is not None and wb is not None and wa.key != wb.key


@pytest.mark.parametrize("name", ["image001.png", "logo.jpg", "invite.ics", "smime.p7s", "Заявка.pdf",
                                  "final_v2.docx", "2025-03-01.pdf", "winmail.dat", "card.vcf"])
def test_non_works_are_not_works(name: str) -> None:
    assert file_work(name) is None


def test_subject_titles_in_all_quote_styles_and_a_pattern() -> None:
    assert subject_titles("Пьеса «Чайка-2» для вашего театра") == ["Чайка-2"]
    assert subject_titles('Play "Chayka 2" for you') == ["Chayka 2"]
    assert subject_titles("Сценарий „Гроза“ и “Лес”") == ["Гроза", "Лес"]
    assert subject_titles("Заявка: Чайка-2 / театр", r"Заявка:\s*([^/]+?)\s*/") == ["Чайка-2"]
    assert key_of(subject_titles("«ЧАЙКА 2»")[0]) == key_of("Chayka-2")


def test_a_subject_title_and_its_file_are_one_name() -> None:
    names = works_of("Пьеса «Чайка-2»", (("Chayka-2_v3.pdf", "ab" * 32), ("logo.png", "cd" * 32)))
    assert [(n.key, n.source) for n in names] == [(key_of("Чайка 2"), "file")]


def test_document_titles_are_read_from_pdf_docx_and_odt() -> None:
    import io
    import zipfile

    pdf = b"%PDF-1.4\n1 0 obj << /Title (Chayka 2) /Author (A) >> endobj\n%%EOF"
    assert document_title(pdf, "x.pdf") == "Chayka 2"
    assert document_title(b"%PDF-1.4 /Title (Microsoft Word - \xd0.docx) /Title", "x.pdf") is not None
    assert document_title(b"%PDF-1.4 /Title (Microsoft Word - Chayka-2.docx)", "x.pdf") == "Chayka-2"
    assert document_title(b"%PDF-1.4 /Title (Untitled)", "x.pdf") is None
    utf16 = b"%PDF-1.7 /Title (\xfe\xff" + "Чайка".encode("utf-16-be") + b")"
    assert document_title(utf16, "x.pdf") == "Чайка"
    for name, member in (("x.docx", "docProps/core.xml"), ("x.odt", "meta.xml")):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr(member, "<m><dc:title>Три сестры &amp; брат</dc:title></m>")
        assert document_title(buf.getvalue(), name) == "Три сестры & брат"
    assert document_title(b"PK\x03\x04 broken", "x.docx") is None


@pytest.mark.parametrize("text", [
    "К сожалению, ваша пьеса нам не подходит.", "Спасибо, но это не наш формат.",
    "Добрый день! Мы вынуждены вам отказать.", "Прочитали. Увы, в этом сезоне не возьмём.",
    "Пьеса хорошая, но в наш репертуар не впишется.", "Нам это не интересно, извините.",
    "Thanks, but this is not for us.", "Unfortunately we will pass on this one.",
    "We read it and it's not the right fit for our slate.", "Sadly, we're not taking on new projects.",
    "I'm afraid it doesn't quite fit what we do.", "We have decided to decline.",
    "Not interested, thanks.",
])
def test_declining_answers(text: str) -> None:
    assert classify_answer(text) == "declined"


@pytest.mark.parametrize(("text", "answer"), [
    ("Очень интересно! Пришлите полный текст, пожалуйста.", "interested"),
    ("Давайте встретимся на следующей неделе.", "interested"),
    ("We'd love to read the full script — send us the draft.", "interested"),
    ("К сожалению, я в отпуске до 10-го, но пьеса очень интересная, обсудим.", "interested"),
    ("Получили, спасибо. Ответим позже.", "replied"),
    ("Thanks, got it. Will read next week.", "replied"),
    ("", "replied"),
])
def test_other_answers(text: str, answer: str) -> None:
    assert classify_answer(text) == answer


def _chain(n: int) -> list[rules.ChainEntry]:
    out, prev = [], rules.GENESIS
    for i in range(1, n + 1):
        c = rules.entry_content(i, dt.datetime(2025, 3, i), "sent", 1, i, None, i, {"address": f"a{i}@x.ru"})
        h = rules.entry_hash(prev, c)
        out.append(rules.ChainEntry(i, c, prev, h))
        prev = h
    return out


def test_chain_detects_a_change_and_a_removal() -> None:
    chain = _chain(5)
    assert rules.verify_chain(chain, complete=True) == []
    changed = list(chain)
    changed[2] = rules.ChainEntry(3, {**chain[2].content, "data": {"address": "other@x.ru"}}, chain[2].prev_hash,
                                  chain[2].hash)
    assert rules.verify_chain(changed, complete=True) == ["entry 3: content changed (hash does not match)"]
    removed = chain[:2] + chain[3:]
    assert rules.verify_chain(removed, complete=True) == ["entry 3: missing (next is 4)"]


def test_warning_text_in_russian_and_english() -> None:
    prior = {"address": "petr@bulvar.ru", "name": "Пётр Иванов", "company": "Театр на Бульваре",
             "last_sent": "2025-03-02T10:00:00", "times": 1, "answer": "declined",
             "answer_at": "2025-03-20T09:00:00", "answer_text": "К сожалению, не подходит."}
    subject, body = rules.warning_text("ru", "Чайка-2", "anna@bulvar.ru", [prior])
    assert "Чайка-2" in subject
    assert ("Вы отправляли «Чайка-2» в Театр на Бульваре (Пётр Иванов, petr@bulvar.ru) 2 марта 2025; "
            "они ответили 20 марта 2025 (отказ): К сожалению, не подходит.") in body
    _, body_en = rules.warning_text("en", "Chayka-2", "anna@bulvar.ru", [prior])
    assert ("You sent \u201cChayka-2\u201d to Театр на Бульваре (Пётр Иванов, petr@bulvar.ru) on 2 March 2025; "
            "they answered on 20 March 2025 (declined)") in body_en


def test_answers_fold_upwards_only() -> None:
    assert rules.fold_answer("none", "replied") == "replied"
    assert rules.fold_answer("declined", "replied") == "declined"
    assert rules.fold_answer("replied", "interested") == "interested"
    assert rules.fold_answer("deal", "declined") == "deal"


# -- property: a title survives any common romanisation and any decoration --------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# Three romanisations written independently of the code under test.
_BGN = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                ["a", "b", "v", "g", "d", "ye", "yo", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
                 "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "ʺ", "y", "ʹ", "e", "yu", "ya"]))
_PASSPORT = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o", "p", "r", "s",
                      "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "iu", "ia"]))
_ISO9 = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                 ["a", "b", "v", "g", "d", "e", "ë", "ž", "z", "i", "j", "k", "l", "m", "n", "o", "p", "r", "s",
                  "t", "u", "f", "h", "c", "č", "š", "ŝ", "ʺ", "y", "ʹ", "è", "û", "â"]))
_CYR = "абвгдежзиклмнопрстуфхцчшэюя"  # letters a title word may start with (no signs)
word = st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщыьэюя", min_size=3, max_size=9).filter(
    # Clusters the romanisations themselves cannot tell apart: ISO 9 "цх", "кх" are "ch", "kh" (as "ч", "х" elsewhere),
    # "йо"/"йе"/"йу" are BGN's "yo"/"ye"/"yu" (as "ё"/"е"/"ю" are); and "ы" never follows a vowel or "й" in
    # Russian (BGN writes both "й" and "ы" as "y": "айыо" and "аыйо" would both be "ayyo").
    lambda w: w[0] in _CYR and not re.search(r"[цк]х|й[аоеёуюэя]|[ьъ]{2}|[аеёиоуыэюяьъй]ы", w))


def _roman(text: str, table: dict[str, str]) -> str:
    out = []
    for i, ch in enumerate(text):
        latin = table.get(ch, ch)
        # BGN/PCGN: е, ё are "ye", "yo" only at a word's start and after a vowel or a sign; "e", "ë" elsewhere.
        if table is _BGN and ch in "её" and i and text[i - 1] not in " аеёиоуыэюяйъь":
            latin = "e" if ch == "е" else "ë"
        out.append(latin)
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(words=st.lists(word, min_size=1, max_size=3), number=st.one_of(st.none(), st.integers(1, 999)),
       table=st.sampled_from([_BGN, _PASSPORT, _ISO9]),
       deco=st.sampled_from(["{t}.pdf", "{t}_v3.docx", "{T} final.doc", "pitch - {t} - 2025-03-01.pdf",
                             "{t} (1).pdf", "{t} - копия.rtf", "{t}_окончательный.odt", "{t}_draft(2).pdf"]))
def test_any_romanisation_and_decoration_of_a_title_meets_it(words: list[str], number: int | None,
                                                             table: dict[str, str], deco: str) -> None:
    title = " ".join(words) + (f" {number}" if number else "")
    expected = key_of(title)
    if not expected:
        return  # a title of noise words only ("пьеса", "финал") names no work
    latin = _roman(title, table)
    for name in (deco.format(t=latin, T=latin.upper()), deco.format(t=title, T=title.upper())):
        w = file_work(name)
        assert w is not None and w.key == expected, (title, name)


def test_a_quoted_name_is_a_work_only_when_something_says_so() -> None:
    assert [n.cued for n in works_of("Встреча в «Пушкине» в пятницу", ())] == [False]
    assert [n.cued for n in works_of("Пьеса «Чайка-2» для вашего театра", ())] == [True]
    assert [n.cued for n in works_of('Pitch: "Chayka 2"', ())] == [True]
    assert [n.cued for n in works_of("«Чайка-2»", (("Гроза.pdf", None),))] == [True, True]
    assert [n.cued for n in works_of("Заявка: Чайка-2 / театр", (), r"Заявка:\s*([^/]+?)\s*/")] == [True]


def test_inflected_titles_share_a_stem() -> None:
    from mailcrm.parse.works import stem_key

    assert stem_key(key_of("Чайку 2")) == stem_key(key_of("Чайка-2")) == stem_key(key_of("Chayka 2"))
    assert stem_key(key_of("Грозой")) == stem_key(key_of("Гроза"))
    assert stem_key(key_of("Трёх сестёр")) != stem_key(key_of("Гроза"))
