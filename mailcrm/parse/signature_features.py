"""Per-line features for the signature-line classifier (after Carvalho & Cohen 2004, as in talon).

Each of the last ``WINDOW`` non-empty lines of the author's own text becomes a set of binary
feature names: its position from the end, its length, its share of capitals, digits and
punctuation, phone/URL/e-mail/address patterns, job-title and legal-form words, sign-off and
separator lines, a match with the sender's name or mailbox, and the same facts about the
neighbouring lines. The training script (scripts/train_signature.py) and the parser share this
code, so the model sees at parse time exactly what it was fitted on. Pure; never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from mailcrm.parse.companies import has_legal_form, looks_like_company
from mailcrm.parse.names import looks_like_title, parse_person_name
from mailcrm.parse.signature_fields import EMAIL, PHONEISH, URL, classify_line
from mailcrm.parse.signature_lexicon import ADDRESS, GREETING, POSTCODE, has_legal_form_word, has_title_word

__all__ = ["WINDOW", "DELIM", "SIGNOFF_ONLY", "NAMES_SOMEONE", "signoff_kind", "candidate_lines", "line_features"]

# Own features that say a line names a person: a signature names its writer.
NAMES_SOMEONE = frozenset({"person", "person_head", "namelike", "lead_name", "dash_name", "oneword", "initials",
                           "signoff_named", "sender"})
WINDOW = 15  # non-empty lines from the end that may belong to a signature (talon reads 11-15)

# RFC 3676 §4.3: "-- " alone on a line; clients and people also write "--", "---", "—", "__".
DELIM = re.compile(r"^\s*(?:--\s?|---|—|–|_{2,40})\s*$")

_SIGNOFFS = (
    # English
    r"thanks|thank you|thanks again|many thanks|thanks so much|thanks a lot|thanks in advance|"
    r"thx|tnx|ty|cheers|regards|best regards|kind regards|warm regards|warmest regards|"
    r"best wishes|all the best|best|sincerely|yours sincerely|sincerely yours|yours truly|"
    r"truly yours|yours|respectfully|cordially|take care|talk soon|see you|love|hugs|"
    r"with thanks|with best regards|with kind regards|br|brgds|rgds|kr|regds|thanks and regards|"
    r"thanks & regards|best rgds|kindest regards|with regards|greetings|warmly|warm wishes|best to you|"
    # Russian, Ukrainian
    r"с уважением|с наилучшими пожеланиями|всего доброго|всего хорошего|всего наилучшего|спасибо|"
    r"заранее спасибо|большое спасибо|спасибо большое|благодарю|заранее благодарю|с благодарностью|"
    r"искренне ваш|искренне ваша|ваш|ваша|с приветом|до связи|хорошего дня|удачи|целую|обнимаю|"
    r"с уважением и наилучшими пожеланиями|с теплом|с любовью|пока|з повагою|дякую|з найкращими побажаннями|"
    # Nordic, German, Dutch, French, Spanish, Italian, Portuguese, Polish, Finnish, Turkish
    r"med venlig hilsen|venlig hilsen|de bedste hilsner|bedste hilsner|mvh|vh|hilsen|"
    r"med vennlig hilsen|vennlig hilsen|med vänlig hälsning|vänliga hälsningar|vänlig hälsning|"
    r"hälsningar|hälsning|tack|takk|tak|"
    r"mit freundlichen grüßen|mit freundlichen grüssen|freundliche grüße|mfg|viele grüße|"
    r"beste grüße|liebe grüße|lg|grüße|gruß|danke|vielen dank|"
    r"met vriendelijke groet|met vriendelijke groeten|vriendelijke groet|groeten|groetjes|"
    r"mvg|bedankt|"
    r"cordialement|bien cordialement|bien à vous|merci|salutations|amitiés|bien amicalement|amicalement|"
    r"bonne journée|mit besten grüßen|besten gruß|herzliche grüße|un cordial saludo|a presto|"
    r"serdecznie pozdrawiam|"
    r"saludos|un saludo|saludos cordiales|atentamente|gracias|cordialmente|"
    r"cordiali saluti|saluti|distinti saluti|grazie|"
    r"atenciosamente|obrigado|obrigada|abraços|cumprimentos|"
    r"pozdrawiam|z poważaniem|dziękuję|pozdrowienia|z pozdrowieniami|"
    r"ystävällisin terveisin|terveisin|kiitos|saygılarımla|teşekkürler|"
    r"よろしくお願いします|よろしくお願いいたします|宜しくお願いします|敬具|以上"
)
SIGNOFF_ONLY = re.compile(rf"^\s*+(?:[-–—]++\s*+)?(?:{_SIGNOFFS})(?:\s+(?:again|all|everyone))?\s*+"
                          r"[,.!;:…)\-–—。、！]*+\s*+$", re.IGNORECASE)
_SIGNOFF_NAME = re.compile(rf"^\s*(?:{_SIGNOFFS})\s*[,.!\-–—]+\s*(?P<name>[^,.!?]{{1,40}}?)\s*[.!]?\s*$",
                           re.IGNORECASE)
_SIGNOFF_START = re.compile(rf"^\s*(?:{_SIGNOFFS})\b", re.IGNORECASE)
# "Your pal, Craig.": a few words, a comma and a name.
_SHORT_NAME = re.compile(r"^\s*(?P<lead>[^\W\d_]+(?:\s+[^\W\d_]+){0,2})\s*,\s*(?P<name>[^\W\d_][\w.'’-]*"
                         r"(?:\s+[^\W\d_][\w.'’-]*){0,2})\s*[.!]?\s*$")
LONE_WORD = re.compile(r"^[^\W\d_]{1,20}\.?$")
# "-roman", "— Ryan", "-John Doe": a dash and the writer's name.
DASH_NAME = re.compile(r"^\s*[-–—~]{1,2}\s*(?P<name>[^\W\d_][^\d,;:!?@/\\]{0,40}?)\s*$")
_INITIALISM = re.compile(r"^[A-ZА-ЯЁ]{1,3}\.?$")
_LIST_ITEM = re.compile(r"^(?:[-+*•·▪◦>]|[-=]{1,2}>|\d{1,2}[.)]|[a-z][.)])\s")
# A file path or an attachment's name ("O:\\gas\\Files", "ATT09176.jpg") is no one's signature.
_PATH = re.compile(r"[A-Za-z]:\\|\\\\|(?:^|\s)[\w-]+\.(?:jpe?g|png|gif|pdf|docx?|xlsx?|pptx?|txt|zip|csv|eml|msg)\b",
                   re.IGNORECASE)
_DATETIME = re.compile(r"\b\d{1,2}:\d{2}\b|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|"
                       r"\b(?:jan|feb|mar|apr|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? \d{1,2}\b", re.IGNORECASE)
_FIELD = re.compile(r"^[A-Z][A-Z0-9_ ]{2,}:\s")  # "TRANS_TYPE: FINAL": a form's field, not a card
def _bucket(value: float, edges: tuple[float, ...]) -> int:
    for n, edge in enumerate(edges):
        if value <= edge:
            return n
    return len(edges)


_CARD_SEP = re.compile(r"\s[|•·]\s|\t")
_COLUMNS = re.compile(r"\t+|\s{3,}")
_POS = tuple(f"pos{_bucket(k, (0, 1, 2, 3, 4, 6, 9))}" for k in range(11))
_HEAD = re.compile(r"\s*[|,•/–—(]\s*|\s+-\s+|\t+|\s{3,}")
_WORDS = re.compile(r"[^\W\d_]+")


_CAP_WORD = re.compile(r"^(?:[^\W\d_][.]){1,3}$|^[^\W\d_]['’]?[^\W\d_]*(?:[-'’][^\W\d_]+)*[.,]?$")
_CONTACTS = re.compile(r"(?:\+|\b[xX]\.?\s?|\bext\.?\s?)?\(?\d[\d\s().\-–/]*\d|\S+@\S+|(?:https?://|www\.)\S+")


def name_like(text: str) -> bool:
    """True when ``text`` (contacts beside it dropped) reads as 1-4 capitalised words of any script:
    a name in a language the name parser does not know ("Agnieszka Woźniak", "Ірина Поліщук")."""
    rest = _CONTACTS.sub(" ", text) if any(ch.isdigit() or ch == "@" for ch in text) else text
    head = _HEAD.split(rest.strip(" -–—~,.:;"), maxsplit=1)[0].strip()
    words = head.split()
    if not 1 <= len(words) <= 4 or any(not _CAP_WORD.match(w) or not w[:1].isupper() for w in words):
        return False
    low = head.casefold()
    return not (SIGNOFF_ONLY.match(head) or GREETING.match(head) or has_title_word(low)
                or has_legal_form_word(low) or looks_like_title(head))


def signoff_kind(line: str, sender: set[str]) -> str | None:
    """'alone' for "Regards,", 'named' for "Thanks, BT" / "Your pal, Craig." / "-roman", else None."""
    if SIGNOFF_ONLY.match(line):
        return "alone"
    m = DASH_NAME.match(line)
    if m and (LONE_WORD.match(m.group("name")) or parse_person_name(m.group("name"))):
        return "named"
    m = _SIGNOFF_NAME.match(line)
    if m and (_INITIALISM.match(m.group("name").strip()) or parse_person_name(m.group("name"))):
        return "named"
    m = _SHORT_NAME.match(line)
    if m and sender and matches_sender(m.group("name"), sender):
        return "named"
    return None


def matches_sender(text: str, sender: set[str]) -> bool:
    """True when a word of ``text`` is one of the sender's names (or their initials)."""
    return bool(sender) and any(w.casefold() in sender for w in _WORDS.findall(text))


def candidate_lines(lines: list[str]) -> list[int]:
    """Indexes of the last WINDOW non-empty lines, top to bottom."""
    out: list[int] = []
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            out.append(i)
            if len(out) == WINDOW:
                break
    return out[::-1]


@lru_cache(maxsize=8192)
def _own(line: str, sender: frozenset[str]) -> tuple[str, ...]:
    """Features of one line on its own (no position, no neighbours).

    Cached: the same people sign the same way in mail after mail, as names.py caches names.
    """
    text = line.strip()
    n = len(text)
    words = text.split()
    # Nine words or more make a sentence, not a name, title or company line: such lines skip the
    # line classifier and the lexicons below (they were most of the cost on wrapped prose).
    long = n > 100 or (len(words) >= 9 and not _CARD_SEP.search(text))  # "Name | Title | Company" is short
    f: list[str] = ["k_long" if long else "k_" + classify_line(text)]
    f.append(f"len{_bucket(n, (3, 10, 20, 35, 50, 70, 90))}")
    f.append(f"w{_bucket(len(words), (1, 2, 3, 5, 8, 12))}")
    letters, upper, digits, alnum, space = char_counts(text)
    punct = n - alnum - space
    f.append(f"cap{_bucket(upper / letters if letters else 0.0, (0.0, 0.1, 0.3, 0.6, 0.95))}")
    f.append(f"dig{_bucket(digits / n, (0.0, 0.1, 0.3, 0.5))}")
    f.append(f"pun{_bucket(punct / n, (0.0, 0.05, 0.15, 0.3))}")
    if letters == 0:
        f.append("noletters")
    alpha_words = [w for w in words if w[:1].isalpha()]
    if alpha_words:
        titled = sum(w[:1].isupper() for w in alpha_words) / len(alpha_words)
        f.append(f"tw{_bucket(titled, (0.0, 0.5, 0.99))}")
    if text[:1].islower():
        f.append("lowstart")
    last = text[-1]
    f.append("end_" + (last if last in ".,:;!?)" else ("alnum" if last.isalnum() else "other")))
    if "?" in text:
        f.append("question")
    if "@" in text and EMAIL.search(text):
        f.append("email")
    if ("." in text or "/" in text) and URL.search(text):
        f.append("url")
    if digits >= 7 and PHONEISH.search(text):
        f.append("phone")
    if "\t" in text:
        f.append("tabs")
    if _LIST_ITEM.match(text):
        f.append("listitem")
    if GREETING.match(text):
        f.append("greeting")
    if long:
        return tuple(f)
    if digits and ADDRESS.search(text):
        f.append("address")
    if digits and POSTCODE.search(text):
        f.append("postcode")
    if _CARD_SEP.search(text) and "\t" not in text:
        f.append("pipes")
    low = text.casefold()
    if n <= 80 and (looks_like_title(text) or has_title_word(low)):
        f.append("title")
    if has_legal_form(text) or has_legal_form_word(low):
        f.append("legal")
    elif looks_like_company(text):
        f.append("company")
    if DELIM.match(line):
        f.append("delim")
    elif re.fullmatch(r"[\W_]{3,}", text):
        f.append("rule")
    so = signoff_kind(text, set(sender))
    if so:
        f.append("signoff_" + so)
    elif _SIGNOFF_START.match(text):
        f.append("signoff_lead")
    if _PATH.search(text):
        f.append("path")
    if _DATETIME.search(text):
        f.append("datetime")
    if _FIELD.match(text):
        f.append("field")
    if _INITIALISM.match(text):
        f.append("initials")
    if name_like(text):
        f.append("namelike")
    m = _SHORT_NAME.match(text) or _SIGNOFF_NAME.match(text)
    if m and name_like(m.group("name")):
        f.append("lead_name")  # "Ściskam, Agnieszka", "Обіймаю, ОК!"
    m = DASH_NAME.match(text)
    if m and text[:1] in "-–—~" and name_like(m.group("name")):
        f.append("dash_name")
    if len(words) <= 4 and parse_person_name(text.strip(" -–—~,.")) is not None:
        f.append("person")
    else:
        head = _HEAD.split(text.strip(" -–—~"), maxsplit=1)[0]
        if head and len(head.split()) <= 4 and parse_person_name(head) is not None:
            f.append("person_head")
    if len(words) == 1 and LONE_WORD.match(text):
        f.append("oneword")
    if sender:
        hits = [w for w in _WORDS.findall(text) if w.casefold() in sender]
        if hits:
            f.append("sender")
            if len(hits) * 2 >= len(alpha_words):
                f.append("sender_most")
    return tuple(f)


@lru_cache(maxsize=8192)
def _case_counts(line: str) -> tuple[int, int]:
    """Letters and capitals in a line."""
    letters, upper, _, _, _ = char_counts(line)
    return letters, upper


def _byte_class(test: Callable[[str], bool]) -> bytes:
    """The windows-1251 bytes whose character passes ``test`` (0x98 is no character there)."""
    return bytes(b for b in range(256) if b != 0x98 and test(bytes([b]).decode("cp1251")))


_CLASSES = tuple(_byte_class(t) for t in (str.isalpha, str.isupper, str.isdigit, str.isalnum, str.isspace))


def char_counts(text: str) -> tuple[int, int, int, int, int]:
    """How many characters of ``text`` are letters, capitals, digits, alphanumeric, blank (str.is*).

    Latin and Cyrillic text (what windows-1251 encodes, one byte per character) is counted by
    deleting each class's bytes, in C; other text character by character.
    """
    try:
        data = text.encode("cp1251")
    except UnicodeEncodeError:
        return (sum(map(str.isalpha, text)), sum(map(str.isupper, text)), sum(map(str.isdigit, text)),
                sum(map(str.isalnum, text)), sum(map(str.isspace, text)))
    n = len(data)
    alpha, upper, digit, alnum, space = (n - len(data.translate(None, cls)) for cls in _CLASSES)
    return alpha, upper, digit, alnum, space


@lru_cache(maxsize=8192)
def _derived(own: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]:
    """What a line's own features give its neighbours: its shape, its prev_/next_ features, a sign-off."""
    shape = tuple(x for x in own if x.startswith(("k_", "w", "cap", "person", "tw")))
    seen = tuple(x for x in own if not x.startswith(("len", "pun", "dig", "end_")))
    return (shape, tuple("next_" + x for x in seen), tuple("prev_" + x for x in seen),
            any(x.startswith("signoff_") for x in own))


def line_features(lines: list[str], cand: list[int], sender: set[str]) -> list[list[str]]:
    """The feature names of each candidate line (``cand`` from ``candidate_lines``)."""
    frozen = frozenset(sender)
    own = [_own(lines[i], frozen) for i in cand]
    total = len(cand)
    counts = [_case_counts(lines[i]) for i in cand]
    letters = sum(c[0] for c in counts)
    if letters and sum(c[1] for c in counts) > 0.7 * letters:
        # A mail typed in capitals: capitals say nothing about a line there.
        own = [tuple(x for x in o if not x.startswith("cap")) + ("doc_caps",) for o in own]
    derived = [_derived(o) for o in own]
    cols = [len(_COLUMNS.split(lines[i].strip())) if "\t" in lines[i] or "   " in lines[i] else 1 for i in cand]
    has_above = bool(cand) and any(lines[j].strip() for j in range(cand[0]))
    out: list[list[str]] = []
    below: list[tuple[int, bool]] = [(0, False)] * total
    prose_below, signoff_below = 0, False
    for p in range(total - 1, -1, -1):
        below[p] = (prose_below, signoff_below)
        prose_below += own[p][0] in ("k_prose", "k_long")
        signoff_below = signoff_below or derived[p][3]
    signoff_seen = delim_seen = False
    for p, i in enumerate(cand):
        f = list(own[p])
        f.append(_POS[min(total - 1 - p, len(_POS) - 1)])
        if p == 0 and not has_above:
            f.append("first_of_text")
        if cols[p] >= 2 and ((p > 0 and cols[p - 1] == cols[p]) or (p + 1 < total and cols[p + 1] == cols[p])):
            f.append("table_row")  # columns lined up with a neighbour's: a table, not a card
        # Lines shaped like their neighbours (same kind, length and case) make a list or a table;
        # a card's lines differ from each other.
        same = (p > 0 and derived[p - 1][0] == derived[p][0]) + (p + 1 < total and derived[p + 1][0] == derived[p][0])
        if same:
            f.append(f"same_shape{same}")
        if i > 0 and not lines[i - 1].strip():
            f.append("blank_above")
        if i + 1 < len(lines) and not lines[i + 1].strip():
            f.append("blank_below")
        f.append(f"prose_below{min(below[p][0], 3)}")
        if below[p][1]:
            f.append("signoff_below")
        if signoff_seen:
            f.append("signoff_above")
        if delim_seen:
            f.append("delim_above")
        # The neighbours' own features say whether this line sits in a block of its kind.
        if p > 0:
            f += derived[p - 1][2]
        else:
            f.append("prev_none")
        if p + 1 < total:
            f += derived[p + 1][1]
        else:
            f.append("next_none")
        signoff_seen = signoff_seen or derived[p][3]
        delim_seen = delim_seen or "delim" in own[p]
        out.append(f)
    return out
