"""Signature block detection: where the author's own text ends and the signature begins.

The block is found in the author's own text (quoted history cut off first) by one of three
anchors, strongest first: the "-- " delimiter (RFC 3676 §4.3), a sign-off line ("С уважением,",
"Best regards", "Thanks, Kim"), or a short trailing block of name/contact lines after the last
sentence. Only the last ~40 non-empty lines are looked at. Fields are read by signature_fields.
Pure: str and explicit arguments in, a frozen Signature (or None) out; never raises.
"""

from __future__ import annotations

import re

from mailcrm.parse.facts import DEFAULT_PHONE_REGION, Address, Signature
from mailcrm.parse.names import parse_person_name
from mailcrm.parse.signature_fields import (
    CONTACT,
    INFO,
    NAME,
    PROSE,
    classify_line,
    read_fields,
    sender_tokens,
)
from mailcrm.parse.quoted import own_lines

__all__ = ["extract_signature"]

WINDOW = 40  # non-empty lines scanned from the end of the own text
MAX_BLOCK = 12  # non-empty lines a signature may hold below its anchor (disclaimers aside)

# RFC 3676 §4.3: "-- " alone on a line; clients and people also write "--", "---", "—", "__".
# A long rule of dashes is a table border or a quote separator, not a signature delimiter.
_DELIM = re.compile(r"^\s*(?:--\s?|---|—|–|_{2,40})\s*$")

_SIGNOFFS = (
    # English
    r"thanks|thank you|thanks again|many thanks|thanks so much|thanks a lot|thanks in advance|"
    r"thx|tnx|ty|cheers|regards|best regards|kind regards|warm regards|warmest regards|"
    r"best wishes|all the best|best|sincerely|yours sincerely|sincerely yours|yours truly|"
    r"truly yours|yours|respectfully|cordially|take care|talk soon|see you|love|hugs|"
    r"with thanks|with best regards|with kind regards|br|brgds|rgds|kr|regds|thanks and regards|"
    r"thanks & regards|best rgds|kindest regards|with regards|greetings|"
    # Russian
    r"с уважением|с наилучшими пожеланиями|всего доброго|всего хорошего|всего наилучшего|спасибо|"
    r"заранее спасибо|большое спасибо|спасибо большое|благодарю|заранее благодарю|с благодарностью|"
    r"искренне ваш|искренне ваша|ваш|ваша|с приветом|до связи|хорошего дня|удачи|целую|обнимаю|"
    r"с уважением и наилучшими пожеланиями|с теплом|с любовью|пока|"
    # Nordic, German, Dutch, French, Spanish, Italian, Portuguese, Polish, Finnish, Turkish
    r"med venlig hilsen|venlig hilsen|de bedste hilsner|bedste hilsner|mvh|vh|hilsen|"
    r"med vennlig hilsen|vennlig hilsen|med vänlig hälsning|vänliga hälsningar|vänlig hälsning|"
    r"hälsningar|hälsning|mvh|tack|takk|tak|"
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
_SIGNOFF_ONLY = re.compile(rf"^\s*+(?:[-–—]++\s*+)?(?:{_SIGNOFFS})(?:\s+(?:again|all|everyone))?\s*+[,.!;:…)\-–—。、！]*+\s*+$",
                           re.IGNORECASE)
_SIGNOFF_NAME = re.compile(rf"^\s*(?:{_SIGNOFFS})\s*[,.!\-–—]+\s*(?P<name>[^,.!?]{{1,40}}?)\s*[.!]?\s*$",
                           re.IGNORECASE)
# "Your pal, Craig.": a few words, a comma and the sender's own name.
_SHORT_NAME = re.compile(r"^\s*(?P<lead>[^\W\d_]+(?:\s+[^\W\d_]+){0,2})\s*,\s*(?P<name>[^\W\d_][\w.'’-]*"
                         r"(?:\s+[^\W\d_][\w.'’-]*){0,2})\s*[.!]?\s*$")
# A lone word under a sign-off is its writer's name even in lower case ("--\nrick", "Regards,\ne.").
_LONE_WORD = re.compile(r"^[^\W\d_]{1,20}\.?$")
# "-roman", "— Ryan", "-John Doe": a dash and the writer's name, a sign-off of its own.
_DASH_NAME = re.compile(r"^\s*[-–—~]{1,2}\s*(?P<name>[^\W\d_][^\d,;:!?@/\\]{0,40}?)\s*$")
_INITIALISM = re.compile(r"^[A-ZА-ЯЁ]{1,3}\.?$")


class _Kinds:
    """The kind of each line (``classify_line``), worked out only for the lines asked about.

    Most messages end in prose, and the anchors stop at the first prose line from the bottom,
    so classifying the whole tail up front did work nobody read (it was most of parsing).
    """

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self._kinds: list[str | None] = [None] * len(lines)
        self._last_prose: int | None = None
        self._prose_scanned = False

    def __len__(self) -> int:
        return len(self.lines)

    def __getitem__(self, i: int) -> str:
        kind = self._kinds[i]
        if kind is None:
            kind = self._kinds[i] = classify_line(self.lines[i])
        return kind

    def blank(self, i: int) -> bool:
        """Whether line ``i`` is blank (as ``classify_line`` sees it), without classifying it."""
        line = self.lines[i]
        text = line.strip().lstrip(">").strip() if line.lstrip().startswith(">") else line.strip()
        return not text

    def span(self, lo: int, hi: int) -> list[str]:
        return [self[j] for j in range(lo, hi)]

    def last_prose(self, end: int) -> int:
        """Index of the last PROSE line below ``end`` (-1 when none), scanning up from ``end``."""
        for j in range(end - 1, -1, -1):
            if self[j] == PROSE:
                return j
        return -1


def _signoff_kind(line: str, sender: set[str]) -> str | None:
    """'alone' for "Regards,", 'named' for "Thanks, BT" / "Your pal, Craig." / "-roman", else None."""
    if _SIGNOFF_ONLY.match(line):
        return "alone"
    m = _DASH_NAME.match(line)
    if m and (_LONE_WORD.match(m.group("name")) or parse_person_name(m.group("name"))):
        return "named"
    m = _SIGNOFF_NAME.match(line)
    if m and (_INITIALISM.match(m.group("name").strip()) or parse_person_name(m.group("name"))):
        return "named"
    m = _SHORT_NAME.match(line)
    if m and sender and _matches_sender(m.group("name"), sender):
        return "named"
    return None


def _matches_sender(text: str, sender: set[str]) -> bool:
    """True when a word of ``text`` is one of the sender's names (or their initials)."""
    words = {w.casefold() for w in re.findall(r"[^\W\d_]+", text)}
    return bool(words & sender)


def _someone_below(lines: list[str], kinds: _Kinds, start: int, end: int) -> bool:
    """True when the first lines under a sign-off name a person or give a contact.

    "Sincerely,\nSuper Domain Name Manager" (a service's form letter) signs with a role only.
    """
    below = [j for j in range(start, end) if not kinds.blank(j)][:2]
    for j in below:
        word = lines[j].strip().lstrip("-–—").strip()
        if kinds[j] in (NAME, CONTACT) or _LONE_WORD.match(word):
            return True
    return False


def _tail_start(lines: list[str]) -> int:
    """Index of the first line of the last WINDOW non-empty lines."""
    seen = 0
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip():
            seen += 1
            if seen == WINDOW:
                return i
    return 0


def _find_start(lines: list[str], kinds: _Kinds, end: int, sender: set[str], text_above: bool) -> int | None:
    """Index where the signature begins in ``lines[:end]`` (the tail, without mobile/disclaimer lines)."""
    lo = 0
    # 1. The delimiter, when what follows is short and reads like a signature.
    for i in range(end - 1, lo - 1, -1):
        if _DELIM.match(lines[i]):
            after = [k for k in kinds.span(i + 1, end) if k != "blank"]
            long_prose = any(kinds[j] == PROSE and len(lines[j].split()) > 12 for j in range(i + 1, end))
            if 0 < len(after) <= MAX_BLOCK + 3 and after.count(PROSE) <= len(after) // 3 and not long_prose:
                return i
            break
    # 2. A sign-off line with only signature-like lines below it.
    below = 0
    for i in range(end - 1, lo - 1, -1):
        if kinds.blank(i):
            continue
        kind = kinds[i]
        signoff = _signoff_kind(lines[i], sender)
        if signoff == "named" and _DASH_NAME.match(lines[i]):
            above = next((j for j in range(i - 1, lo - 1, -1) if not kinds.blank(j)), None)
            if above is not None and re.match(r"^\s*[-–—*•+]", lines[above]):
                break  # the last item of a dashed list, not a name
            return i
        if signoff == "named" or (signoff == "alone" and _someone_below(lines, kinds, i + 1, end)):
            return i
        if kind == PROSE or below >= MAX_BLOCK:
            break
        below += 1
    # 3. A short trailing block of name/contact lines whose first paragraph holds a person's name.
    nonblank = [j for j in range(lo, end) if not kinds.blank(j)]
    last_prose = kinds.last_prose(end)
    found: list[tuple[int, bool]] = []  # (paragraph start, its name is the sender's)
    for p in nonblank[-MAX_BLOCK:]:
        if p <= last_prose:
            continue  # prose at or below it
        if p > 0 and not kinds.blank(p - 1) and kinds[p - 1] != PROSE:
            continue  # not the start of a paragraph
        if not text_above and last_prose < 0:
            continue  # nothing was said above it: a short note ("Svar."), not a signature
        para = []
        for j in range(p, end):
            if kinds.blank(j):
                break
            para.append(j)
        head = para[:2]
        named = [j for j in head if kinds[j] == NAME]
        if named:
            found.append((p, bool(sender) and any(_matches_sender(lines[j], sender) for j in named)))
        elif sender and kinds[p] == INFO and _matches_sender(lines[p], sender):
            found.append((p, True))
    # The sender's own name decides where a shared block starts; otherwise the nearest name to
    # the end, as a capitalised phrase higher up ("Product Side") is no one's name.
    mine = [p for p, is_sender in found if is_sender]
    if mine:
        return mine[0]
    return found[-1][0] if found else None


def extract_signature(text: str, *, sender: Address | None = None, region: str = DEFAULT_PHONE_REGION,
                      unquoted: bool = False) -> Signature | None:
    """Find the signature block at the end of ``text`` and read its fields; None when absent.

    ``unquoted``: the caller already cut the quoted history off (``reply_text``), so it is not
    looked for again.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return _extract(text, sender, region, unquoted)
    except Exception:  # noqa: BLE001 - defects are data: a parser bug must not lose the message
        return None


def _extract(text: str, sender: Address | None, region: str, unquoted: bool = False) -> Signature | None:
    lines = text.split("\n") if unquoted else own_lines(text)
    while lines and not lines[-1].strip():
        lines.pop()
    # Only the tail is read: a signature is short, and classifying every line of a long body
    # would cost more than the rest of parsing.
    lo = _tail_start(lines)
    text_above = lo > 0
    lines = lines[lo:]
    if not lines:
        return None
    kinds = _Kinds(lines)
    # Mobile-client tails and legal disclaimers close a message but do not start a signature.
    end = len(lines)
    while end > 0 and kinds[end - 1] in ("blank", "mobile", "disclaimer"):
        end -= 1
    if end == 0:
        return None
    sender_set = sender_tokens(sender)
    start = _find_start(lines, kinds, end, sender_set, text_above)
    if start is None:
        return None
    while start > 0 and _DELIM.match(lines[start - 1]):
        start -= 1  # "--\n--\nRegards,": the whole run of delimiters opens the block
    if not text_above and all(not line.strip() for line in lines[:start]):
        return None  # a signature cannot be all there is: the author said nothing else
    block = lines[start:]
    body: list[str] = []
    for line, kind in zip(block, kinds.span(start, len(lines))):
        if kind in ("mobile", "disclaimer") or _DELIM.match(line):
            continue
        signoff = _signoff_kind(line, sender_set)
        if signoff == "alone":
            continue  # "С уважением," carries no field
        if signoff == "named":
            line = re.split(r"[,.!\-–—]", line, maxsplit=1)[-1]  # "Thanks, BT" → "BT"
        body.append(line)
    if not any(line.strip() for line in body):
        return None
    sig_text = "\n".join(block).strip("\n")
    fields = read_fields(body, sender=sender, region=region)
    return Signature(text=sig_text, **fields)
