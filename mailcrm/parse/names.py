"""Person names, Russian and English: split into first/middle/last and tell a name from a title.

Russian names come in both orders ("Петров Иван Сергеевич", "Иван Петров"); pymorphy3's
grammemes Name/Surn/Patr decide which word is which. Latin names go to nameparser.
Pure: str in, frozen dataclass out, never raises.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from nameparser import HumanName
from nameparser.config import CONSTANTS as _NP

from mailcrm.parse.companies import ORG_WORDS_EN

__all__ = ["PersonName", "parse_person_name", "looks_like_title"]


@dataclass(frozen=True)
class PersonName:
    """A person's name as written (``full``) and its parts."""

    full: str
    first: str | None = None
    last: str | None = None
    middle: str | None = None


# pymorphy3's analyser loads ~15 MB of dictionaries: build it once, on first use.
_MORPH: Any = None
_MORPH_LOCK = threading.Lock()


def _morph() -> Any:
    global _MORPH
    if _MORPH is None:
        with _MORPH_LOCK:
            if _MORPH is None:
                import pymorphy3

                _MORPH = pymorphy3.MorphAnalyzer()
    return _MORPH


_CYR_WORD = re.compile(r"^[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?$|^[А-ЯЁ]{2,}(?:-[А-ЯЁ]{2,})?$")
_LAT_WORD = re.compile(r"^(?:Mc|Mac|O['’]|D['’])?[A-Z][a-z'’]+(?:-[A-Z][a-z'’]+)?$|^[A-Z]{2,}(?:['’-][A-Z]+)?$")
_INITIALS = re.compile(r"^(?:[A-ZА-ЯЁ]\.){1,3}$|^[A-Z]$")
_PARTICLES = frozenset({"van", "von", "de", "der", "den", "da", "di", "du", "del", "della", "dos", "das",
                        "le", "la", "bin", "ibn", "al", "ter", "ten", "st.", "y"})
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "ph.d.", "md", "esq", "esq."})
# Words that start short lines but are no one's name (greetings, sign-offs, mail words).
_NOT_NAMES = frozenset("""
thanks thank thx regards best cheers sincerely yours love hi hello hey dear greetings ok okay yes no
sure please sorry attached attachment fyi note see sent from to subject re fw fwd date cc bcc
the a an and or of for with in on at by my our your his her their this that these those it
all any more thanks! regards, tel phone fax mobile cell email e-mail web www skype office home work
mail message original forwarded reply confidential disclaimer privileged notice team support
sales info admin department dept hr it us me we you they i hope good great nice welcome
monday tuesday wednesday thursday friday saturday sunday january february march april may june
july august september october november december today tomorrow yesterday tbd n/a
urgent important update report meeting call agenda minutes schedule list total summary
""".split())
_NOT_NAMES_RU = frozenset("""
спасибо благодарю уважением привет здравствуйте добрый доброго день утро вечер коллеги друзья
тел телефон факс моб мобильный почта сайт адрес офис отдел команда служба поддержка
отправлено исходное сообщение пересылаемое тема кому дата от
""".split())
_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "mx"})

# Job-title vocabulary; a word or stem from here makes a line a title rather than a name.
_TITLE_STEMS_RU = (
    "директор", "редактор", "продюсер", "менеджер", "руководител", "начальник", "заместител",
    "зам.", "замдиректора", "специалист", "бухгалтер", "юрист", "юрисконсульт", "администратор",
    "завлит", "режисс", "художник", "координатор", "ассистент", "помощник", "секретар",
    "аналитик", "инженер", "разработчик", "программист", "дизайнер", "консультант", "президент",
    "вице-", "главн", "ведущ", "старш", "генеральн", "исполнительн", "коммерческ", "технический",
    "финансов", "куратор", "представител", "корреспондент", "журналист", "обозревател",
    "преподавател", "профессор", "доцент", "партн", "основател", "сооснователь", "владел",
    "управляющ", "заведующ", "завотдел", "экономист", "маркетолог", "логист", "кастинг",
    "пиар", "пресс-", "агент", "диспетчер", "оператор", "архитектор", "технолог", "методист",
    "звукорежисс", "сценарист", "композитор", "актер", "актёр", "актриса", "хореограф",
    "балетмейстер", "дирижер", "дирижёр", "концертмейстер", "фотограф", "монтаж", "кинооператор",
    "руководство", "советник", "референт", "делопроизвод", "кадр", "стажер", "стажёр",
    "собственник", "учредител", "председател", "член правления", "ректор", "декан",
)
# The stems as the lower-cased, ё-folded text is compared with them (one startswith per word).
_TITLE_STEMS_RU_E = tuple(stem.replace("ё", "е") for stem in _TITLE_STEMS_RU)
_TITLE_WORDS_EN = frozenset("""
head chief manager director president vice vp svp evp avp ceo cto cfo coo cmo cio cpo founder
co-founder cofounder partner editor producer engineer developer designer consultant specialist
coordinator assistant analyst lead senior sr junior principal associate executive administrator
secretary accountant counsel attorney lawyer representative rep agent owner officer intern
architect scientist researcher professor teacher journalist writer author curator dramaturg
marketing sales operations supervisor superintendent controller treasurer chairman chairwoman
chair trader scheduler advisor adviser recruiter strategist technician programmer officer
""".split())


def _cyr_tags(word: str) -> set[str]:
    """The name grammeme ('Name', 'Surn', 'Patr') pymorphy3 finds most likely for a word."""
    parses = _morph().parse(word)
    # A signature writes a name in the nominative; other cases only when none is nominative.
    nominative = [p for p in parses if "nomn" in p.tag] or parses
    scores = {g: sum(p.score for p in nominative if g in p.tag) for g in ("Name", "Surn", "Patr")}
    best = max(scores, key=lambda g: scores[g])
    return {best} if scores[best] > 0 else set()


@lru_cache(maxsize=4096)
def _cyr_known_common(word: str) -> bool:
    """True when pymorphy3 knows the word only as an ordinary (non-name) word."""
    parses = _morph().parse(word)
    if not parses or not any(p.is_known for p in parses):
        return False
    return not any(g in p.tag for p in parses for g in ("Name", "Surn", "Patr"))


def _parse_cyrillic(words: list[str], full: str) -> PersonName | None:
    if any(w.casefold().rstrip(".") in _NOT_NAMES_RU for w in words):
        return None
    initials = [w for w in words if _INITIALS.match(w)]
    plain = [w for w in words if not _INITIALS.match(w)]
    if not plain or len(plain) > 3 or not all(_CYR_WORD.match(w) for w in plain):
        return None
    # The dictionaries know names capitalised; an all-caps line is analysed in title case.
    tags = [_cyr_tags(w.capitalize()) for w in plain]
    first = middle = last = None
    patr = [i for i, t in enumerate(tags) if "Patr" in t]
    names = [i for i, t in enumerate(tags) if "Name" in t and "Patr" not in t]
    if not names and not patr:
        if initials and len(plain) == 1 and not _cyr_known_common(plain[0].capitalize()):
            # "Петров И. С." / "И.С. Петров": a surname with initials.
            letters = "".join(initials)
            return PersonName(full=full, first=letters, last=plain[0])
        return None
    if len(plain) == 1:
        if names:
            return PersonName(full=full, first=plain[0], last=" ".join(initials) or None)
        return None
    if patr:
        middle = plain[patr[-1]]
        rest = [i for i in range(len(plain)) if i != patr[-1]]
        if len(rest) == 1:
            first = plain[rest[0]]
        else:
            # Surn Name Patr (official order) or Name Patr Surn (spoken order).
            i_name = patr[-1] - 1 if patr[-1] - 1 in rest else next((i for i in rest if i in names), rest[0])
            first = plain[i_name]
            last = plain[next(i for i in rest if i != i_name)]
    else:
        i_name = names[0]
        others = [i for i in range(len(plain)) if i != i_name]
        # The non-name word must be able to be a surname: not a word known only as a common noun.
        if len(others) > 1 or any(_cyr_known_common(plain[i].capitalize()) and "Surn" not in tags[i]
                                  for i in others):
            return None
        first, last = plain[i_name], plain[others[0]]
    return PersonName(full=full, first=first, last=last, middle=middle)


def _parse_latin(words: list[str], full: str, ordered: str) -> PersonName | None:
    core = [w for w in words if w.casefold() not in _SUFFIXES and w.casefold().rstrip(".") not in _HONORIFICS]
    if not core or len(core) > 4:
        return None
    proper = 0
    for w in core:
        low = w.casefold().rstrip(",")
        if low in _NOT_NAMES or low in _TITLE_WORDS_EN or low in ORG_WORDS_EN:
            return None
        if low in _PARTICLES:
            continue
        if _INITIALS.match(w):
            continue
        if not _LAT_WORD.match(w):
            return None
        proper += 1
    if proper == 0:
        return None
    styles = {("upper" if w.isupper() else "title") for w in core if len(w) > 1 and not _INITIALS.match(w)}
    if len(styles) > 1:
        return None  # "ENA Human Resources": an acronym beside words is an organisation
    if len(core) == 1 and core[0].isupper() and len(core[0]) <= 3:
        return None  # "BT", "FYI": initials or an acronym, not a name
    hn = HumanName(ordered)
    return PersonName(full=full, first=hn.first or None, last=hn.last or None, middle=hn.middle or None)


def parse_person_name(text: str) -> PersonName | None:
    """Split a person's name into parts (both orders, Russian or English); None if not a name."""
    if not isinstance(text, str):
        return None
    return _parse_person_name(text)


# Signature lines repeat from message to message (the same people write again), and each
# Cyrillic word costs a dictionary walk: remember recent answers.
@lru_cache(maxsize=16384)
def _parse_person_name(text: str) -> PersonName | None:
    full = " ".join(text.replace("\u00a0", " ").split()).strip(" ,;")
    if not full or len(full) > 60 or any(ch.isdigit() for ch in full) or re.search(r"[@/\\:|«»\"()<>_=+#*]", full):
        return None
    if "," in full:
        # "Meyers, Bert" (surname first, as directories write it).
        head, _, tail = full.partition(",")
        if not tail.strip() or "," in tail:
            return None
        ordered = f"{tail.strip()} {head.strip()}"
    else:
        ordered = full
    # "И.С.Петров": initials glued to the surname.
    words = re.sub(r"(?<=\.)(?=[A-ZА-ЯЁ][a-zа-яё])", " ", ordered).split()
    if re.search(r"[А-Яа-яЁё]", full):
        if re.search(r"[A-Za-z]", full):
            return None
        try:
            return _parse_cyrillic(words, full)
        except Exception:  # noqa: BLE001 - a dictionary problem must not break parsing
            return None
    if not re.search(r"[A-Za-z]", full):
        return None
    return _parse_latin(words, full, ordered)


def looks_like_title(text: str) -> bool:
    """True when the line reads like a job title ("главный редактор", "Head of Marketing")."""
    if not isinstance(text, str):
        return False
    return _looks_like_title(text)


@lru_cache(maxsize=16384)
def _looks_like_title(text: str) -> bool:
    low = " ".join(text.casefold().replace("ё", "е").split())
    if not low or len(low) > 80:
        return False
    words = re.findall(r"[\w.\-]+", low)
    if not words or len(words) > 8:
        return False
    if re.search(r"[а-я]", low):
        return any(w.startswith(_TITLE_STEMS_RU_E) for w in words)
    honor = _HONORIFICS
    return any(w.strip(".") in _TITLE_WORDS_EN for w in words) or any(
        w.strip(".") in _NP.titles and w.strip(".") not in honor and len(w) > 3 for w in words)
