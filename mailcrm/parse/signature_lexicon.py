"""Word lists the signature-line features look up: job titles, legal forms, street words, greetings.

General vocabulary of business mail in ru, uk, en, de, fr, es, it and pl (ISO 20275 entity legal
forms; common job-title words), not phrases taken from any test message. Pure data and one
lookup helper; never raises.
"""

from __future__ import annotations

import re

__all__ = ["has_title_word", "has_legal_form_word", "ADDRESS", "GREETING", "POSTCODE"]

# Job-title words beyond names.py's Russian and English ones (which the features also use).
_TITLE_WORDS = frozenset("""
geschäftsführer geschäftsführerin leiter leiterin abteilungsleiter vertrieb vertriebsleiter referent
referentin sachbearbeiter sachbearbeiterin berater beraterin projektleiter inhaber inhaberin vorstand
prokurist assistentin mitarbeiter mitarbeiterin entwickler ingenieur redakteur redakteurin
directeur directrice gérant gérante responsable chargé chargée chef ingénieur conseiller conseillère
commercial commerciale assistante rédacteur rédactrice président présidente fondateur fondatrice
director directora gerente jefe jefa responsable asesor asesora ingeniero ingeniera coordinador
coordinadora presidente fundador fundadora abogado abogada redactor redactora comercial
direttore direttrice responsabile amministratore consulente ingegnere avvocato redattore
coordinatore presidente fondatore commerciale
dyrektor dyrektorka kierownik kierowniczka prezes specjalista specjalistka asystent asystentka
inżynier doradca redaktor koordynator właściciel wiceprezes księgowa księgowy
директор менеджерка керівник керівниця начальниця заступник фахівець бухгалтерка юрист
редакторка продюсерка засновник засновниця власник інженер консультантка координаторка
""".split())
_TITLE_PREFIXES = ("geschäftsf", "abteilungsl", "vertriebs", "directeur", "direct", "dyrektor", "kierown",
                   "керівн", "заступн", "головн", "провідн", "старш")

# ISO 20275-style legal forms as written in signatures (after lower-casing and dot removal).
_LEGAL_FORMS = frozenset("""
ооо оао зао пао ао ип тов прат пат фоп пп llc llp lp inc ltd limited corp corporation plc gmbh ag kg
ohg ug mbh ev sa sas sasu sarl eurl sl slu sau srl srls spa sapa snc sp zoo sc bv nv oy ab as aps
pty pte kk
""".split())

# Street and office words (ru, uk, en, de, fr, es, it, pl): a line with one and a number is an address.
ADDRESS = re.compile(
    r"(?i)\b(?:ул|улица|пр-т|проспект|пер|переулок|наб|набережная|шоссе|бульвар|б-р|пл|площадь|д|дом|корп|"
    r"стр|офис|оф|вул|вулиця|провулок|street|st|avenue|ave|road|rd|boulevard|blvd|suite|ste|floor|fl|"
    r"drive|dr|lane|ln|way|plaza|square|sq|p\.?o\.? box|straße|strasse|str|platz|weg|allee|rue|avenue|"
    r"bd|chemin|calle|avda|avenida|plaza|piso|via|viale|piazza|corso|ulica|ul|aleja|al|plac)\b\.?"
)
# Postal codes: US "TX 77002(-1234)", five/six digits alone, UK outward+inward, Canada, Poland "00-950".
POSTCODE = re.compile(
    r"\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b|(?<![\d+\-()])\d{5,6}(?![\d\-)])|"
    r"\b[A-Z]{1,2}\d[A-Z\d]?\s+\d[A-Z]{2}\b|\b[A-Z]\d[A-Z]\s?\d[A-Z]\d\b|\b\d{2}-\d{3}\b"
)
# A salutation opens a letter; a line that starts with one is not its signature.
GREETING = re.compile(
    r"(?i)^\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|привет|здравствуй|здравствуйте|"
    r"добрый (?:день|вечер)|доброе утро|уважаем|вітаю|добрий день|шановн|hallo|liebe|lieber|sehr geehrte|"
    r"guten tag|bonjour|bonsoir|cher|chère|madame|monsieur|hola|estimad[oa]|buenos días|ciao|salve|"
    r"gentile|buongiorno|cześć|dzień dobry|szanown)\b"
)
_WORD = re.compile(r"[^\W\d_]+")


def has_title_word(low: str) -> bool:
    """True when a lower-cased line holds a job-title word of the languages above."""
    for word in _WORD.findall(low):
        if word in _TITLE_WORDS or word.startswith(_TITLE_PREFIXES):
            return True
    return False


def has_legal_form_word(low: str) -> bool:
    """True when a lower-cased line holds a legal-form abbreviation ("GmbH", "S.r.l.", "Sp. z o.o.")."""
    words = _WORD.findall(low.replace(".", "").replace("sp z oo", "spzoo").replace("sp z o o", "spzoo"))
    return any(w in _LEGAL_FORMS or w == "spzoo" for w in words)
