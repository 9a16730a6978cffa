"""Works (plays, scripts, pitches) named by a sent message: attachment names and subject titles -> work keys.

Pure.  A *key* is what two names of one work have in common once the noise is gone: the stem
without its extension, copy marks (``(1)``, ``- копия``), version marks (``_v3``, ``final``,
``окончательный``, ``draft``), dates, document-kind words (``pitch``, ``заявка``), case and
script.  Cyrillic is written straight into a Latin skeleton, and Latin text is folded to the same
skeleton from any of the common romanisations (GOST 7.79 / ISO 9 with its diacritics, the Russian
passport rules of 2010, BGN/PCGN with its context rule for е/ё, and the usual by-ear spellings):
``Чайка-2_v3.pdf``, ``Chayka-2 final.docx``, ``Chaika 2.pdf``, ``Čajka 2.pdf`` and ``ЧАЙКА 2.pdf``
all give ``chaika 2``.  tests/test_works_parse.py checks this as a property over random titles.
Clusters the romanisations themselves leave ambiguous (ISO 9 "цх"/"кх", BGN "йо"/"йе") may not meet.

No transliteration library is used: the maintained ones (Unidecode, transliterate, cyrtranslit)
each produce one romanisation, while matching needs every common one to meet; a table of
33 letters plus the folding rules below is smaller than the adapter around any of them.
A translated title (``Seagull`` for ``Чайка``) is not guessed: the same file bytes or the user's
``work merge`` join those.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Cyrillic -> the skeleton directly (what every romanisation below folds to); it never passes through
# the Latin folds, so "ые" stays "ie" while BGN's "yye" and the passport's "ye" both reach it.
_CYR = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z", "и": "i",
    "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t",
    "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "i",
    "ь": "", "э": "e", "ю": "iu", "я": "ia", "і": "i", "ї": "i", "є": "e", "ґ": "g", "ў": "u",
}
# ISO 9 / scholarly letters with a háček keep their sound when NFKD would drop the mark.
_LATIN = {"č": "ch", "š": "sh", "ž": "zh", "ŝ": "shch", "ǆ": "dzh", "ß": "ss", "æ": "ae", "ø": "o", "œ": "oe",
          "û": "iu", "â": "ia", "ǎ": "ia"}
# Soft and hard signs as written in Latin (ISO 9 ʹ ʺ, by ear '): no sound of their own.
_SIGNS = re.compile(r"(?:[ʹʺ]|(?<=\w)['’`](?=\w))(?:[yj]([eo]))?", re.I)  # BGN "Pʹyesa" is "Pesa"
# Then the variants of each romanisation meet: order matters (longest first).
_FOLD = (
    ("yu", "iu"), ("ju", "iu"), ("ya", "ia"), ("ja", "ia"), ("x", "ks"),
)
# BGN writes е/ё as "ye"/"yo" at the start of a word and after a vowel (Yelena, Sergeyev, Novyye);
# elsewhere "ye" is ы + е (the passport's Novye).
_YE = re.compile(r"(?:(?<=^)|(?<=[aeiouy]))[yj]([eo])")
_SKELETON = str.maketrans({"y": "i", "j": "i", "w": "v"})

DOCUMENT_EXTENSIONS = frozenset({
    "pdf", "doc", "docx", "docm", "rtf", "odt", "txt", "fdx", "fountain", "celtx", "pages", "ppt", "pptx",
    "odp", "key", "epub", "fb2", "md", "wps",
})
# Version, copy and state marks, and document-kind words: noise around a title, in ru and en.
_NOISE = frozenset({
    "final", "finale", "fin", "draft", "new", "newest", "latest", "updated", "update", "edit", "edited", "revised",
    "rev", "revision", "version", "ver", "copy", "corrected", "fixed", "clean", "full", "short", "eng", "en", "rus",
    "ru", "pitch", "synopsis", "logline", "treatment", "script", "screenplay", "play", "deck", "presentation",
    "application", "proposal", "outline", "bible", "teaser", "pitchdeck", "and", "the", "by",
    "finalnaia", "finalnyi", "final'naia", "okonchatelnyi", "okonchatelnaia", "okonchatelnyi", "okonchat",
    "chernovik", "novaia", "novyi", "noveishaia", "kopiia", "ispravlennaia", "ispravlennyi", "ispr", "red",
    "redaktsiia", "versiia", "zaiavka", "sinopsis", "stsenarii", "pesa", "p'esa", "prezentatsiia", "logalain",
    "tritment", "kratko", "polnaia", "polnyi", "pravki", "pravkami", "pitching", "v", "pdf", "doc", "docx", "rtf",
})
_VERSION_PREFIX = re.compile(r"^(?:v|ver|rev|versiia)\d{1,3}$")
_DATE = re.compile(
    r"\b(?:\d{4}[-._]\d{1,2}[-._]\d{1,2}|\d{1,2}[-._]\d{1,2}[-._]\d{2,4}|(?:19|20)\d{2}(?:0[1-9]|1[0-2])\d{2})\b")
_COPY = re.compile(r"(?:\s*\(\d{1,3}\)|\s*\[\d{1,3}\]|\s*[-–—]?\s*(?:копия|copy|kopiia)(?:\s*\(?\d*\)?)?)\s*$", re.I)
# "… на питчинг", "… for the pitch": where a file goes, not what it is called.
_PURPOSE = re.compile(r"(?:^|\s)(?:на|для|for|to)\s+(?:the\s+)?(?:питчинг\w*|конкурс\w*|фестивал\w*|pitch\w*|"
                      r"competition|festival|fund\w*|фонд\w*)", re.I)
_SPLIT = re.compile(r"[\s_.,;:+=~!@#$%^&*()\[\]{}<>|/\\\"'«»“”„‘’`–—-]+")
_QUOTED = re.compile(r"«([^«»]{2,200})»|“([^“”]{2,200})”|„([^„“”]{2,200})[“”]|\"([^\"]{2,200})\"")


@dataclass(frozen=True)
class WorkName:
    """A work named by a message: its key, the name as written and where it came from."""

    key: str
    title: str  # the name as written (file stem or quoted title), for display
    source: str  # "file" | "subject"
    file_name: str | None = None
    sha256: str | None = None  # the attachment's content hash (files only)
    # A subject title is a work by itself only when something says so: a document attached, a word
    # such as "пьеса"/"pitch" in the subject, or the configured pattern; else only if already known.
    cued: bool = True


def fold(text: str) -> str:
    """Lower-case Latin skeleton of ``text``: Cyrillic transliterated, diacritics and romanisation variants folded."""
    parts: list[str] = []
    latin: list[str] = []
    for ch in text.lower() + "\x00":
        if ch in _CYR or ch == "\x00":
            if latin:
                parts.append(_fold_latin("".join(latin)))
                latin = []
            if ch != "\x00":
                parts.append(_CYR[ch])
        else:
            latin.append(_LATIN.get(ch, ch))
    return re.sub(r"([a-z])\1+", r"\1", "".join(parts))  # doubled letters (not digits): Anna / Ana


def _fold_latin(s: str) -> str:
    """One run of Latin letters folded to the skeleton the Cyrillic table writes."""
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = _YE.sub(lambda m: "e", s)  # ye/yo/je/jo as е/ё; "yo" is ё (e) wherever BGN writes it
    for a, b in _FOLD:
        s = s.replace(a, b)
    s = re.sub(r"c(?!h)", "ts", s)  # ISO 9 / scholarly "c" is ц
    # "kh" and a lone "h" are one sound (х); "y", "j", "i" are one (й/и/ы in different systems).
    return s.replace("kh", "h").translate(_SKELETON)


_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")


def _tokens(text: str) -> list[str]:
    """Words of a name; a word glued to a number is two words ("Chayka2" = "Chayka 2"), version marks stay whole."""
    out: list[str] = []
    for t in _SPLIT.split(text):
        if not t:
            continue
        if _VERSION_PREFIX.match(fold(t)):
            out.append(t)
        else:
            out.extend(p for p in _LETTER_DIGIT.split(t) if p)
    return out


def _is_noise(folded: str) -> bool:
    return folded in _NOISE_FOLDED or bool(_VERSION_PREFIX.match(folded))


_NOISE_FOLDED = frozenset(fold(w) for w in _NOISE)


def key_of(name: str) -> str:
    """The work key of a title or file stem ('' when nothing but noise is left)."""
    text = _SIGNS.sub(lambda m: "e" if m.group(1) else "", _PURPOSE.sub(" ", _DATE.sub(" ", name)))
    toks = _tokens(text)
    kept: list[str] = []
    for i, tok in enumerate(toks):
        f = fold(tok)
        if not f or _is_noise(f):
            continue
        # A trailing number after a version word ("version 2", "ред. 3") is the version, not the title.
        if f.isdigit() and i > 0 and fold(toks[i - 1]) in _VERSION_WORDS:
            continue
        kept.append(f)
    # A year beside a title is the draft's date ("Три сестры 2024"); a title of digits only is no title.
    words = [k for k in kept if not k.isdigit()]
    if not words:
        return ""
    kept = [k for k in kept if not (len(k) == 4 and k.isdigit() and k[:2] in ("19", "20"))] or kept
    return " ".join(kept)


_VERSION_WORDS = frozenset(fold(w) for w in ("v", "ver", "version", "rev", "revision", "версия", "ред", "редакция",
                                              "draft", "черновик", "copy", "копия"))


def stem_of(file_name: str) -> tuple[str, str]:
    """(stem, extension) of a file name, copy marks such as ``(1)`` removed from the stem."""
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem or len(ext) > 8 or " " in ext:
        stem, ext = base, ""
    prev = None
    while prev != stem:
        prev = stem
        stem = _COPY.sub("", stem).strip()
    return stem, ext.lower()


def is_document(file_name: str) -> bool:
    """True for a document a work travels in (not a logo, a calendar invite or a signature)."""
    _, ext = stem_of(file_name)
    return ext in DOCUMENT_EXTENSIONS


def file_work(file_name: str, sha256: str | None = None) -> WorkName | None:
    """The work an attachment carries, or None (not a document, or a name of noise only)."""
    if not is_document(file_name):
        return None
    stem, _ = stem_of(file_name)
    key = key_of(stem)
    if not key:
        return None
    return WorkName(key=key, title=stem, source="file", file_name=file_name, sha256=sha256)


def subject_titles(subject: str, pattern: str | None = None) -> list[str]:
    """Titles quoted in a subject («…», “…”, „…“, "…") plus the groups of a configured regex."""
    found = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(subject or "")]
    if pattern:
        try:
            for m in re.finditer(pattern, subject or "", re.I):
                found.append(m.group(1) if m.groups() else m.group(0))
        except re.error:
            pass  # the config validates the pattern; a bad one here only finds nothing
    return [t.strip() for t in found if t and t.strip()]


# Words in a subject that say a quoted title is a work ("Пьеса «Чайка-2»"), not a café ("Встреча в «Пушкине»").
_CUE = re.compile(r"пьес|сценари|заявк|синопсис|питч|тритмент|спектакл|постановк|рукопис|роман|повест|сериал|"
                  r"фильм|проект|\bplay\b|script|screenplay|pitch|synopsis|treatment|manuscript|novel|series|"
                  r"\bfilm\b|project|submission|application", re.I)


def works_of(subject: str, files: tuple[tuple[str, str | None], ...], pattern: str | None = None) -> list[WorkName]:
    """Every work a message names: its document attachments ((name, sha256) pairs) and subject titles."""
    out: list[WorkName] = []
    seen: set[tuple[str, str | None]] = set()
    for name, sha in files:
        w = file_work(name, sha)
        if w is not None and (w.key, w.sha256) not in seen:
            seen.add((w.key, w.sha256))
            out.append(w)
    cue = bool(out) or bool(_CUE.search(subject or ""))
    quoted = subject_titles(subject)
    for title in subject_titles(subject, pattern):
        key = key_of(title)
        if key and (key, None) not in seen and all(w.key != key for w in out):
            seen.add((key, None))
            out.append(WorkName(key=key, title=title, source="subject", cued=cue or title not in quoted))
    return out


_ENDINGS = ("iami", "ami", "iah", "ah", "om", "em", "ov", "ev", "ei", "oi", "ia", "iu", "a", "u", "e", "i", "o")


def stem_key(key: str) -> str:
    """A key with Russian case endings cut from each word, to find a title inflected in running text
    ("Прочитали «Чайку 2»" names "Чайка 2").  Only for finding a work already sent, never for founding one."""
    out = []
    for word in key.split():
        if not word.isdigit():
            for end in _ENDINGS:
                if word.endswith(end) and len(word) - len(end) >= 3:
                    word = word[: -len(end)]
                    break
        out.append(word)
    return " ".join(out)


_PDF_TITLE = re.compile(rb"/Title\s*\(((?:[^()\\]|\\.){1,300})\)")


_DOCX_TITLE = re.compile(r"<dc:title>([^<]{1,300})</dc:title>")
_WORD_PREFIX = re.compile(r"^(?:Microsoft Word|Microsoft PowerPoint|Word)\s*-\s*", re.I)
_JUNK_TITLES = frozenset({"untitled", "без названия", "document", "документ", "title", "presentation", "slide 1"})


def document_title(payload: bytes, file_name: str) -> str | None:
    """The document's own title where it is cheap to read (PDF Info /Title, DOCX/ODT core properties); else None."""
    name = file_name.lower()
    text: str | None = None
    if name.endswith(".pdf"):
        m = _PDF_TITLE.search(payload[:200_000]) or _PDF_TITLE.search(payload[-20_000:])
        if m:
            raw = m.group(1).replace(b"\\(", b"(").replace(b"\\)", b")")
            text = raw[2:].decode("utf-16-be", "replace") if raw.startswith(b"\xfe\xff") else raw.decode("latin-1")
    elif name.endswith((".docx", ".docm", ".pptx", ".odt")) and len(payload) < 50_000_000:
        text = _zip_title(payload)
    if text is None:
        return None
    text = _WORD_PREFIX.sub("", " ".join(text.split()))
    text = stem_of(text)[0] if "." in text[-6:] else text  # "Microsoft Word - Чайка-2.docx"
    return text if text and text.casefold() not in _JUNK_TITLES else None


def _zip_title(payload: bytes) -> str | None:
    """dc:title from an Office Open XML or OpenDocument file (a zip read in memory; never raises)."""
    import io
    import zipfile
    from html import unescape

    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as z:
            for member in ("docProps/core.xml", "meta.xml"):
                try:
                    info = z.getinfo(member)
                except KeyError:
                    continue
                if info.file_size > 1_000_000:
                    return None
                m = _DOCX_TITLE.search(z.read(info).decode("utf-8", "replace"))
                return unescape(m.group(1)) if m else None
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, EOFError, NotImplementedError):
        return None
    return None
