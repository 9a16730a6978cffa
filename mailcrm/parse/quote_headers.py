"""Headers that mail clients write into bodies: forward/quote header blocks, separators, attributions.

Shared by ``forward`` (who wrote the forwarded original) and ``reply_text`` (where the quoted
history starts).  The vocabulary is what clients emit in their UI languages: Gmail, Apple Mail,
Outlook desktop/365, Thunderbird, Yandex, Mail.ru, The Bat!, Yahoo and others.  Pure functions
over lists of lines; nothing here raises on odd input.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

# Localised header keys (lower-case, spaces collapsed) -> canonical field.
_KEYS: dict[str, tuple[str, ...]] = {
    "from": ("from", "von", "de", "da", "van", "från", "fra", "frá", "od", "от", "от кого", "kimden", "lähettäjä",
             "feladó", "de la", "mittente", "remitente", "expéditeur", "afzender", "z", "від", "差出人", "送信者",
             "发件人", "寄件者", "보낸 사람", "보낸사람", "sender", "absender", "από", "từ", "dari", "daripada",
             "šalje", "од", "nuo", "saatja", "מאת", "من", "จาก", "از"),
    "date": ("date", "datum", "data", "fecha", "dato", "дата", "tarih", "päivämäärä", "päiväys", "dátum", "dată",
             "sent", "gesendet", "envoyé", "envoyé le", "enviado", "enviado el", "enviada", "inviato", "inviato il",
             "verzonden", "skickat", "sendt", "wysłano", "wysłane", "отправлено", "gönderildi", "gönderilme tarihi",
             "lähetetty", "elküldve", "küldve", "trimis", "odesláno", "odoslané", "message du", "日付", "送信日時",
             "日期", "发送时间", "时间", "надіслано", "sent on", "date sent", "ημερομηνία", "στάλθηκε", "날짜", "보낸 날짜",
             "ngày", "ngày gửi", "tanggal", "dikirim", "изпратено", "poslano", "poslato", "傳送時間", "寄件日期",
             "תאריך", "נשלח", "التاريخ", "تاريخ", "วันที่", "tarihi", "išsiųsta", "saadetud"),
    "subject": ("subject", "betreff", "objet", "sujet", "asunto", "oggetto", "onderwerp", "ämne", "emne", "temat",
                "тема", "konu", "aihe", "tárgy", "subiect", "assunto", "předmět", "predmet", "件名", "主题", "主旨",
                "tema", "тема сообщения", "θέμα", "제목", "tiêu đề", "chủ đề", "subjek", "perihal", "naslov", "נושא",
                "الموضوع", "เรื่อง", "موضوع", "tema laiško"),
    "to": ("to", "an", "à", "a", "para", "aan", "till", "til", "do", "кому", "kime", "vastaanottaja", "címzett",
           "către", "pentru", "destinataire", "destinatario", "destinatari", "komu", "pre", "宛先", "收件人", "sent to",
           "προς", "받는 사람", "받는사람", "tới", "đến", "kepada", "до", "收件者", "אל", "إلى", "ถึง", "saaja", "kam"),
    "cc": ("cc", "kopie", "kopia", "копия", "cópia", "kopio", "másolat", "copie", "copie à", "bilgi", "kopi", "copia",
           "kópia", "抄送", "副本", "cc'd", "κοιν", "κοιν.", "참조", "đồng gửi", "tembusan", "копие", "kopija", "העתק",
           "نسخة", "สำเนา"),
    "bcc": ("bcc", "cco", "blindkopie", "скрытая копия", "ukryta kopia", "bcc'd"),
    "reply_to": ("reply-to", "reply to", "antwort an", "répondre à", "responder a", "antwoord aan", "risposta",
                 "rispondi a", "ответить", "svara till", "yanıtla"),
}
FIELD_OF: dict[str, str] = {key: field for field, keys in _KEYS.items() for key in keys}

_HEADER_LINE = re.compile(r"^[*_]{0,2}([^\W\d_][^:：\n]{0,28}?)\s*+[*_]{0,2}\s*+[:：]\s*+[*_]{0,2}\s*+(.*)$")
_QUOTE = re.compile(r"^((?:[ \t]*>)+)[ \t]?")
_MARKS = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060\ufeff\u00ad]")
_RULE = re.compile(r"^[-_=*~—–]{5,}$")  # Outlook's "________________________________" and friends
_ENCLOSED = re.compile(r"^[-=_*~—–<>8]{2,}\s*([^-=_*~—–\s].{1,70}?)\s*[-=_*~—–<>8]{2,}$")
OPENERS = frozenset("-_=*~—–<>8")  # the first characters _RULE and _ENCLOSED allow
BARE_PHRASE_MAX = 60  # a separator without rule characters ("Forwarded message") is at most this long
# An address starts where its run of local-part characters starts (the lookbehind): trying every
# position of a long run, such as a base64 line or a data: URI, would be quadratic.
EMAIL = re.compile(r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.U)

# Words that say "forwarded" (a forward of a forward is followed inward only through these).
FORWARD_WORDS = (
    "forward", "fwd", "пересыла", "переслан", "переадрес", "weitergeleit", "transféré", "transfere", "réexpédié",
    "reenviado", "reencaminh", "encaminhad", "inoltrat", "doorgestuurd", "vidarebefordra", "videresend",
    "przekazan", "välitetty", "továbbított", "redirecționat", "redirectionat", "přeposlan", "preposlan", "iletilen",
    "転送", "转发", "переслане", "перенаправлен", "пересланий", "προωθ", "전달된", "chuyển tiếp", "diteruskan",
    "proslijeđen", "препратен", "persiųst", "edasi saadetud", "轉寄", "轉發",
)
# Words that say "original message" (used by Outlook for replies and forwards alike).
ORIGINAL_WORDS = (
    "original message", "исходное сообщение", "ursprüngliche nachricht", "message d'origine", "mensaje original",
    "messaggio originale", "oorspronkelijk bericht", "origineel bericht", "ursprungligt meddelande",
    "oprindelig meddelelse", "opprinnelig melding", "oryginalna wiadomość", "alkuperäinen viesti",
    "eredeti üzenet", "mesaj original", "původní zpráva", "pôvodná správa", "özgün ileti", "orijinal mesaj",
    "mensagem original", "元のメッセージ", "原始邮件", "оригинальное сообщение", "original text",
    "wiadomość oryginalna", "özgün ileti", "özgün i̇leti", "originalna poruka", "izvorna poruka", "оригинално съобщение",
    "оригінальне повідомлення", "вихідне повідомлення", "αρχικό μήνυμα", "원본 메시지", "pesan asli", "originalmeddelelse",
    "originele bericht", "原始郵件", "tin nhắn gốc",
    "текст исходного сообщения",
)
# Reply attributions: "On … wrote:", "… пишет:", "… написал(а):" and their cousins.
WROTE = re.compile(
    r"(wrote|writes|schrieb|schreef|a écrit|escribió|escreveu|scrisse|ha scritto|skrev|skriver|kirjoitti|írta|"
    r"napisał|napisała|napisal|napsal|napísal|yazdı|написал|написала|написали|пишет|писал|пише|написав|"
    r"a scris|έγραψε|כתב|wrote on)\b[^:]{0,40}:?\s*$|"
    r"(написал\(а\)|napisał\(a\)|escribió\(a\))\s*:?\s*$",
    re.I,
)
MAX_LINES = 4000  # lines scanned for headers; mail longer than this is history anyway
# How an attribution's first line opens ("On …", "Am …", "Le …", "Em …", "W dniu …", or a date):
# a line opening so is where an attribution starts, not the wrapped rest of one above it.
ATTRIBUTION_OPENER = re.compile(
    r"^(?:on|am|le|el|il|op|em|den|dne|dňa|w dniu|pada|vào|în|в|στις|في|בתאריך|เมื่อ|در تاریخ)\b|"
    r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}",
    re.I,
)
_TIME_OR_YEAR = re.compile(r"\b\d{1,2}[:.]\d{2}\b|\b\d{4}\b")
WRAP_AT = 72  # an attribution longer than this was likely wrapped by the client that wrote it


@dataclass(frozen=True)
class HeaderBlock:
    """A run of "Key: value" lines (From/Date/Subject/To/Cc) inside a body."""

    start: int  # first line of the block
    end: int  # line after the block
    fields: tuple[tuple[str, str], ...]  # canonical field -> raw value, first occurrence wins
    marker: str | None  # "forward", "original" or "rule" when a separator line precedes it
    marker_line: int | None
    depth: int  # quote depth ("> " prefixes) of the block

    def get(self, name: str) -> str | None:
        """The raw value of one canonical field, or None."""
        for key, value in self.fields:
            if key == name:
                return value
        return None

    @property
    def strong(self) -> bool:
        """True when the block names an author and at least one other field."""
        names = {k for k, _ in self.fields}
        return "from" in names and len(names) >= 2


def clean_line(line: str) -> str:
    """Drop invisible marks (LRM, zero-width, soft hyphen) and turn NBSP into a space."""
    return _MARKS.sub("", line).replace("\u00a0", " ").replace("\t", " ").rstrip()


def clean_lines(text: str) -> list[str]:
    """``clean_line`` of every line of ``text`` (any newline convention), in one pass over it."""
    text = _MARKS.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).replace("\u00a0", " ").replace("\t", " ")
    return [line.rstrip() for line in text.split("\n")]


def unquote(line: str) -> tuple[int, str]:
    """Split "> > text" into (quote depth, text)."""
    if ">" not in line:
        return 0, line  # most lines: no regex needed
    m = _QUOTE.match(line)
    if not m:
        return 0, line
    return m.group(1).count(">"), line[m.end():]


def header_field(line: str) -> tuple[str, str] | None:
    """("from", "John <j@x>") for a forward/quote header line, else None."""
    text = line.strip()
    if not text or len(text) > 2000 or (":" not in text and "：" not in text):
        return None  # the colon test first: this runs on every line of every body
    m = _HEADER_LINE.match(text)
    if not m:
        return None
    key = re.sub(r"\s+", " ", m.group(1).strip(" *_").lower())
    field = FIELD_OF.get(key)
    if field is None:
        return None
    return field, m.group(2).strip().strip("*_").strip()


def _has_word(text: str, words: tuple[str, ...]) -> bool:
    low = text.lower()
    return any(w in low for w in words)


def separator_kind(line: str) -> str | None:
    """"forward"/"original"/"rule" for a separator line before quoted headers, else None."""
    raw = line.strip()
    if _RULE.match(raw):
        return "rule"  # before the bold markers are stripped: they are what a rule is made of
    text = raw.strip("*_ ").strip()
    if not text or len(text) > 90:
        return None
    if text[0] not in OPENERS and not text.endswith(":") and (len(text) > BARE_PHRASE_MAX or text.endswith((".", "!", "?", ","))):
        return None  # none of the forms below can match: most lines of prose end here
    if _RULE.match(text):
        return "rule"
    m = _ENCLOSED.match(text)
    inner = m.group(1) if m else None
    if inner is None and text.endswith(":") and header_field(text) is None:
        inner = text[:-1]  # "Begin forwarded message:", "Начало переадресованного сообщения:"
    if inner is None and len(text) <= BARE_PHRASE_MAX and not text.endswith((".", "!", "?", ",")):
        # Bare phrases: The Bat! "This is a forwarded message", "Forwarded message", "Это пересланное сообщение".
        if re.fullmatch(r"[^\W\d_][\w '’.-]{3,58}", text) and _has_word(text, ("message", "сообщение", "nachricht")):
            inner = text
    if inner is None:
        return None
    if _has_word(inner, FORWARD_WORDS):
        return "forward"
    if _has_word(inner, ORIGINAL_WORDS):
        return "original"
    return "rule" if m else None


def _continues(field: str, value: str, line: str) -> bool:
    """True when ``line`` continues a wrapped address header (Outlook and HTML wrap long To:/From:)."""
    if field not in ("from", "to", "cc", "bcc", "reply_to"):
        return False
    stripped = line.strip()
    if not stripped or header_field(stripped) is not None or len(stripped) > 300:
        return False
    if stripped.startswith(("<", "[mailto:", "(")) and "@" in stripped:
        return True
    return value.endswith((",", ";", "<")) or (not EMAIL.search(value) and EMAIL.fullmatch(stripped.strip("<>[]()")) is not None)


def _unknown_key(line: str) -> bool:
    m = _HEADER_LINE.match(line.strip())
    return m is not None and len(m.group(1)) <= 20 and bool(m.group(2).strip())


def _sandwiched(lines: list[str], j: int, n: int) -> bool:
    """A wrapped value line between two header lines ("Subject: Some subject that\nspans over 2 lines\nTo: …")."""
    return j + 1 < n and len(lines[j]) < 200 and header_field(unquote(lines[j + 1])[1]) is not None


def scan_blocks(lines: list[str], start: int = 0, limit: int = MAX_LINES) -> list[HeaderBlock]:
    """All header blocks in ``lines`` (already cleaned), in order."""
    blocks: list[HeaderBlock] = []
    n = min(len(lines), start + limit)
    # A block starts on a header line, and a header line has a colon: visit only those.
    heads = [k for k, line in enumerate(lines[start:n], start) if ":" in line or "：" in line]
    pos = 0
    while pos < len(heads):
        i = heads[pos]
        depth, text = unquote(lines[i])
        first = header_field(text)
        if first is None:
            pos += 1
            continue
        fields: dict[str, str] = {}
        order: list[tuple[str, str]] = []
        j = i
        last_field: str | None = None
        blank_run = 0
        end = i
        while j < n:
            d, t = unquote(lines[j])
            hf = header_field(t)
            if hf is not None and hf[0] in fields and hf[0] in ("from", "subject"):
                break  # a second From:/Subject: starts the next block
            if hf is not None:
                fields[hf[0]] = hf[1]
                order.append(hf)
                last_field = hf[0]
                blank_run = 0
                end = j + 1
            elif not t.strip():
                blank_run += 1
                if blank_run > 1:
                    break
            elif last_field is not None and blank_run == 0 and (
                    _continues(last_field, fields[last_field], t) or last_field == "subject" and _sandwiched(lines, j, n)):
                fields[last_field] = (fields[last_field] + " " + t.strip()).strip()
                end = j + 1
            elif blank_run == 0 and _unknown_key(t) and _sandwiched(lines, j, n):
                end = j + 1  # a header this table does not know ("Pre:", "Organisation:"): keep the block going
            else:
                break
            j += 1
        if len(fields) >= 1 and "from" in fields:
            marker, marker_line = _marker_before(lines, i)
            blocks.append(HeaderBlock(i, end, tuple((k, fields[k]) for k in dict.fromkeys(k for k, _ in order)),
                                      marker, marker_line, depth))
        pos = bisect.bisect_left(heads, max(end, i + 1), pos + 1)
    return blocks


def _marker_before(lines: list[str], index: int) -> tuple[str | None, int | None]:
    """The separator line just above a header block (blank lines allowed between), if any."""
    k = index - 1
    seen = 0
    while k >= 0 and seen < 3:
        _, text = unquote(lines[k])
        if text.strip():
            kind = separator_kind(text)
            return (kind, k) if kind else (None, None)
        k -= 1
        seen += 1
    return None, None


def attribution_start(lines: list[str], j: int) -> int | None:
    """If line ``j`` ends a reply attribution ("On … wrote:", "… <a@b>:"), the line where it starts."""
    _, end_text = unquote(lines[j])
    end_text = end_text.strip()
    if not end_text.endswith((":", "：")) or header_field(end_text) is not None and not WROTE.search(end_text):
        return None
    for k in range(3):
        s = j - k
        if s < 0:
            return None
        chunk = " ".join(unquote(lines[x])[1].strip() for x in range(s, j + 1))
        if k and not unquote(lines[s])[1].strip():
            return None
        if len(chunk) > 320:
            return None
        wrote = WROTE.search(chunk) is not None
        has_digit = re.search(r"\d", chunk) is not None
        has_addr = "@" in chunk
        if (wrote and (has_digit or has_addr or _quote_follows(lines, j))) or (has_addr and has_digit and "<" in chunk) \
                or (has_addr and has_digit and _quote_follows(lines, j)):
            start = s
            # A wrapped attribution ("On Dec 16, … Corey Donohoe\n<a@b>\nwrote:") begins higher up.
            while start > 0 and start > j - 3:
                cur = unquote(lines[start])[1].strip()
                prev = unquote(lines[start - 1])[1].strip()
                if prev and cur[:1] and not prev.endswith((".", "!", "?", ":")) and (
                        cur[:1].islower() or cur[:1] in "<\"(" or _wrapped_head(prev, cur)):
                    start -= 1
                else:
                    break
            return start
    return None


def _wrapped_head(prev: str, cur: str) -> bool:
    """Is ``prev`` the first part of an attribution that a client wrapped onto ``cur``?

    "Em seg., 15 de jan. de 2024 às 10:30," over "Ivan Petrov <ivan@…> escreveu:": the line
    above holds the date (or a "Name <address>"), the two together are longer than a line a client
    leaves unwrapped, and ``cur`` does not open an attribution of its own.
    """
    return (len(prev) + 1 + len(cur) > WRAP_AT and not ATTRIBUTION_OPENER.match(cur)
            and (_TIME_OR_YEAR.search(prev) is not None or "<" in prev and "@" in prev))


def _quote_follows(lines: list[str], j: int) -> bool:
    for x in range(j + 1, min(len(lines), j + 4)):
        t = lines[x].strip()
        if t:
            return t.startswith(">")
    return False


def parse_mailbox(value: str) -> tuple[str | None, str | None]:
    """("John Doe", "john@x") from the forms clients write: "Doe, John" <j@x>, Name [mailto:j@x], j@x (Name)."""
    text = value.strip()
    m = EMAIL.search(text)
    address = m.group(0).strip(".").lower() if m else None
    name = text
    name = re.sub(r"[\[<(]\s*mailto:[^\]>)]*[\]>)]", " ", name, flags=re.I)
    name = re.sub(r"<[^<>]*@[^<>]*>+", " ", name)
    name = re.sub(r"\(\s*" + re.escape(m.group(0)) + r"\s*\)", " ", name) if m else name
    if m:
        name = name.replace(m.group(0), " ")
    name = re.sub(r"mailto:", " ", name, flags=re.I)
    name = name.replace("<", " ").replace(">", " ").replace("[", " ").replace("]", " ")
    name = re.sub(r"\s+", " ", name).strip(" \"'*_()`,;:")
    name = re.sub(r"\s+", " ", name.replace('"', "").replace("**", "")).strip(" *'")
    if not name or (address and name.lower() == address) or "@" in name:
        name = None  # type: ignore[assignment]
    return (name or None), address


def parse_mailbox_list(value: str) -> list[tuple[str | None, str | None]]:
    """Split a To:/Cc: value into mailboxes; a comma inside "Doe, John" <j@x> does not split."""
    out: list[tuple[str | None, str | None]] = []
    buf = ""
    quoted = False
    angle = 0
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif ch in "<[":
            angle += 1
        elif ch in ">]":
            angle = max(0, angle - 1)
        if ch in ",;" and not quoted and not angle and ("@" in buf or ch == ";" or not EMAIL.search(value)):
            if buf.strip():
                out.append(parse_mailbox(buf))
            buf = ""
            continue
        buf += ch
    if buf.strip():
        out.append(parse_mailbox(buf))
    return [mb for mb in out if mb[0] or mb[1]]
