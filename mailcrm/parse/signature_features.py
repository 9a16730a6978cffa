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

from mailcrm.parse.companies import has_legal_form, looks_like_company
from mailcrm.parse.names import looks_like_title, parse_person_name
from mailcrm.parse.signature_fields import EMAIL, PHONEISH, URL, classify_line
from mailcrm.parse.signature_lexicon import ADDRESS, GREETING, POSTCODE, has_legal_form_word, has_title_word

__all__ = ["WINDOW", "DELIM", "SIGNOFF_ONLY", "NAMES_SOMEONE", "signoff_kind", "candidate_lines", "line_features"]

# Own features that say a line names a person: a signature names its writer.
NAMES_SOMEONE = frozenset({"person", "person_head", "oneword", "initials", "signoff_named", "sender"})
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
    r"thanks & regards|best rgds|kindest regards|with regards|greetings|"
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
    r"cordialement|bien cordialement|bien à vous|merci|salutations|amitiés|bonne journée|"
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
_HEAD = re.compile(r"\s*[|,•/–—(]\s*|\s+-\s+|\t+|\s{3,}")
_WORDS = re.compile(r"[^\W\d_]+")


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


def _bucket(value: float, edges: tuple[float, ...]) -> int:
    for n, edge in enumerate(edges):
        if value <= edge:
            return n
    return len(edges)


def _own(line: str, sender: set[str]) -> tuple[str, ...]:
    """Features of one line on its own (no position, no neighbours)."""
    text = line.strip()
    f: list[str] = []
    kind = classify_line(text)
    f.append("k_" + kind)
    n = len(text)
    words = text.split()
    f.append(f"len{_bucket(n, (3, 10, 20, 35, 50, 70, 90))}")
    f.append(f"w{_bucket(len(words), (1, 2, 3, 5, 8, 12))}")
    letters = sum(ch.isalpha() for ch in text)
    upper = sum(ch.isupper() for ch in text)
    digits = sum(ch.isdigit() for ch in text)
    punct = sum(not ch.isalnum() and not ch.isspace() for ch in text)
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
    if digits and ADDRESS.search(text):
        f.append("address")
    if digits and POSTCODE.search(text):
        f.append("postcode")
    if re.search(r"\s[|•·]\s", text):
        f.append("pipes")
    low = text.casefold()
    if n <= 80 and (looks_like_title(text) or has_title_word(low)):
        f.append("title")
    if n <= 100 and (has_legal_form(text) or has_legal_form_word(low)):
        f.append("legal")
    elif n <= 100 and looks_like_company(text):
        f.append("company")
    if DELIM.match(line):
        f.append("delim")
    elif re.fullmatch(r"[\W_]{3,}", text):
        f.append("rule")
    so = signoff_kind(text, sender)
    if so:
        f.append("signoff_" + so)
    elif _SIGNOFF_START.match(text):
        f.append("signoff_lead")
    if GREETING.match(text):
        f.append("greeting")
    if _LIST_ITEM.match(text):
        f.append("listitem")
    if "\t" in text:
        f.append("tabs")
    if _PATH.search(text):
        f.append("path")
    if _DATETIME.search(text):
        f.append("datetime")
    if _FIELD.match(text):
        f.append("field")
    if _INITIALISM.match(text):
        f.append("initials")
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


def line_features(lines: list[str], cand: list[int], sender: set[str]) -> list[list[str]]:
    """The feature names of each candidate line (``cand`` from ``candidate_lines``)."""
    own = [_own(lines[i], sender) for i in cand]
    total = len(cand)
    letters = "".join(ch for i in cand for ch in lines[i] if ch.isalpha())
    if letters and sum(ch.isupper() for ch in letters) > 0.7 * len(letters):
        # A mail typed in capitals: capitals say nothing about a line there.
        own = [tuple(x for x in o if not x.startswith("cap")) + ("doc_caps",) for o in own]
    shapes = [tuple(x for x in o if x.startswith(("k_", "w", "cap", "person", "tw"))) for o in own]
    cols = [len([c for c in re.split(r"\t+|\s{3,}", lines[i].strip()) if c]) for i in cand]
    has_above = bool(cand) and any(lines[j].strip() for j in range(cand[0]))
    out: list[list[str]] = []
    kinds = [o[0] for o in own]
    prose_below = 0
    signoff_below = False
    below_counts: list[tuple[int, bool]] = [(0, False)] * total
    for p in range(total - 1, -1, -1):
        below_counts[p] = (prose_below, signoff_below)
        if kinds[p] == "k_prose":
            prose_below += 1
        if any(x.startswith("signoff_") for x in own[p]):
            signoff_below = True
    signoff_seen = delim_seen = False
    for p, i in enumerate(cand):
        f = list(own[p])
        f.append(f"pos{_bucket(total - 1 - p, (0, 1, 2, 3, 4, 6, 9))}")
        if p == 0 and not has_above:
            f.append("first_of_text")
        if cols[p] >= 2 and ((p > 0 and cols[p - 1] == cols[p]) or (p + 1 < total and cols[p + 1] == cols[p])):
            f.append("table_row")  # columns lined up with a neighbour's: a table, not a card
        # Lines shaped like their neighbours (same kind, length and case) make a list or a table;
        # a card's lines differ from each other.
        same = sum(1 for q in (p - 1, p + 1) if 0 <= q < total and shapes[q] == shapes[p])
        if same:
            f.append(f"same_shape{same}")
        if i > 0 and not lines[i - 1].strip():
            f.append("blank_above")
        if i + 1 < len(lines) and not lines[i + 1].strip():
            f.append("blank_below")
        f.append(f"prose_below{min(below_counts[p][0], 3)}")
        if below_counts[p][1]:
            f.append("signoff_below")
        if signoff_seen:
            f.append("signoff_above")
        if delim_seen:
            f.append("delim_above")
        # The neighbours' own features say whether this line sits in a block of its kind.
        for tag, q in (("prev_", p - 1), ("next_", p + 1)):
            if 0 <= q < total:
                f += [tag + x for x in own[q] if not x.startswith(("len", "pun", "dig", "end_"))]
            else:
                f.append(tag + "none")
        if any(x.startswith("signoff_") for x in own[p]):
            signoff_seen = True
        if "delim" in own[p]:
            delim_seen = True
        out.append(f)
    return out
