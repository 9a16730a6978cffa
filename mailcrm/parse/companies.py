"""Company-name normalisation: the key that makes two spellings of one company one company.

``ООО «Кинокомпания»``, ``Кинокомпания`` and ``"КИНОКОМПАНИЯ", ООО`` share a key, as do
``Acme Inc.``, ``ACME, Inc`` and ``Acme LLC``: case, quotes, legal forms and punctuation are
not part of a company's identity. Pure: str in, str out, never raises.
"""

from __future__ import annotations

import re
import unicodedata

# Legal forms, written the way they appear in signatures and registries. Multi-word forms are
# removed before single words so "общество с ограниченной ответственностью" goes as one piece.
_LONG_FORMS = (
    "общество с ограниченной ответственностью",
    "публичное акционерное общество",
    "закрытое акционерное общество",
    "открытое акционерное общество",
    "непубличное акционерное общество",
    "акционерное общество",
    "индивидуальный предприниматель",
    "автономная некоммерческая организация",
    "некоммерческая организация",
    "федеральное государственное унитарное предприятие",
    "государственное унитарное предприятие",
    "муниципальное унитарное предприятие",
    "limited liability company",
    "public limited company",
    "limited liability partnership",
)
_SHORT_FORMS = frozenset({
    # Russian (ГК РФ ch. 4 and the budget-institution abbreviations)
    "ооо", "оао", "зао", "пао", "нао", "ао", "ип", "пбоюл", "гуп", "фгуп", "муп", "гбук", "гбу",
    "гау", "гку", "мбу", "мау", "мбук", "фгбу", "фгбоу", "гбоу", "ано", "нко", "нп", "тоо", "одо",
    "чп", "ук",
    # English, German, French, Nordic, Dutch …
    "llc", "llp", "lp", "inc", "incorporated", "ltd", "limited", "corp", "corporation", "co",
    "company", "plc", "pllc", "gmbh", "ag", "kg", "ohg", "ug", "mbh", "sa", "sas", "sarl", "srl",
    "spa", "bv", "nv", "oy", "oyj", "ab", "as", "asa", "aps", "pty", "pte", "kk",
})
# Dotted spellings ("L.L.C.", "S.A.", "Co.") collapse to their letters before matching.
_DOTTED = re.compile(r"\b(?:[A-Za-z]\.){2,}")
_QUOTES = "«»„“”‟\"'‘’‚‛`´′″‹›"
_AMP_CO = re.compile(r"&\s*co\b\.?", re.IGNORECASE)


def normalize_company(name: str) -> str:
    """The comparison key of a company name: casefolded, no quotes, legal forms or punctuation."""
    if not isinstance(name, str):
        return ""
    text = unicodedata.normalize("NFKC", name)
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    text = _AMP_CO.sub(" ", text)
    text = text.casefold().replace("ё", "е")
    for q in _QUOTES:
        text = text.replace(q, " ")
    # Punctuation separates words ("Acme, Inc."); "&" and "+" are part of names like "AT&T".
    text = re.sub(r"[^\w&+]+", " ", text)
    words = text.split()
    if not words:
        return ""
    # Legal forms stand at either end of a name ("ООО «Север»", "Acme, Inc."); inside a name a
    # word like "as" or "co" is part of it, so only the ends are trimmed.
    long_forms = [f.split() for f in _LONG_FORMS]
    kept = list(words)
    changed = True
    while changed and kept:
        changed = False
        for form in long_forms:
            n = len(form)
            if len(kept) > n and kept[:n] == form:
                kept, changed = kept[n:], True
            elif len(kept) > n and kept[-n:] == form:
                kept, changed = kept[:-n], True
        if len(kept) > 1 and kept[0] in _SHORT_FORMS:
            kept, changed = kept[1:], True
        if len(kept) > 1 and kept[-1] in _SHORT_FORMS:
            kept, changed = kept[:-1], True
    # A name that is only a legal form ("ООО", "Company") keeps its words rather than vanish.
    return " ".join(kept)


# Words that name organisations rather than people; a line holding one reads as a company.
_ORG_STEMS_RU = (
    "театр", "издательств", "кинокомпани", "компани", "студи", "агентств", "банк", "университет",
    "институт", "академи", "школ", "фонд", "музей", "журнал", "газет", "телеканал", "радио",
    "холдинг", "центр", "завод", "фабрик", "филармони", "галере", "библиотек", "объединени",
    "ассоциаци", "союз", "корпораци", "фирм", "лаборатори", "продакшн", "кинотеатр", "киностуди",
    "медиа", "групп", "консалтинг", "министерств", "департамент", "управлени", "администраци",
    "комитет", "колледж", "лицей", "гимнази", "консерватори", "цирк", "опер", "балет", "оркестр",
    "ансамбл", "дворец", "дом культуры", "клуб", "ресторан", "гостиниц", "отел", "магазин",
    "сеть", "клиник", "больниц", "поликлиник", "предприяти", "концерн", "трест", "кооператив",
)
ORG_WORDS_EN = frozenset("""
inc llc ltd corp co company group holdings holding studio studios agency bank university institute
foundation museum theatre theater press publishing publishers media productions pictures films
records labs lab technologies technology tech systems solutions networks network partners
associates consulting services international global industries enterprises ventures capital
energy resources works department division center centre office desk corporate benefits
association society council committee school college academy hospital clinic gallery library
orchestra records software digital interactive entertainment communications
""".split())


def _low_words(text: str) -> tuple[str, list[str]]:
    low = " ".join(text.casefold().replace("ё", "е").split())
    return low, re.findall(r"\w+", re.sub(r"\b(?:[a-z]\.){2,}", lambda m: m.group(0).replace(".", ""), low))


def _legal_form(low: str, words: list[str]) -> bool:
    if not words:
        return False
    if words[0] in _SHORT_FORMS and len(words) > 1 and (re.search(r"[а-я]", words[0]) or len(words[0]) > 2):
        return True
    if words[-1] in _SHORT_FORMS and len(words) > 1 and words[-1] not in {"as", "co", "a"}:
        return True
    return low.startswith(_LONG_FORMS)


def has_legal_form(text: str) -> bool:
    """True when the line opens or ends with a legal form (ООО, АО, LLC, Ltd, GmbH …): a company,
    whatever job-title words it also holds ("АО «Театральные технологии»")."""
    if not isinstance(text, str) or len(text) > 200:
        return False
    return _legal_form(*_low_words(text))


def looks_like_company(text: str) -> bool:
    """True when the line reads like an organisation's name (legal form, quotes, org words)."""
    if not isinstance(text, str):
        return False
    low, words = _low_words(text)
    if not low or len(low) > 100:
        return False
    if "«" in text or "»" in text:
        return True
    if not words:
        return False
    if _legal_form(low, words):
        return True
    if re.search(r"[а-я]", low):
        return any(w.startswith(_ORG_STEMS_RU) for w in words)
    return any(w in ORG_WORDS_EN for w in words)
