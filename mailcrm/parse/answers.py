"""What an answer to a pitch says: declined, interested, or just replied (ru/en).  Pure.

Judged on the reply's own text (quoted history and signature already removed), by classes of
wording rather than whole sentences, so unseen phrasings of the same move are caught:

* regret      - "к сожалению", "увы", "unfortunately", "regret", "sadly", "I'm afraid";
* not-fit     - "не подходит", "не наш формат", "не для нас", "not for us", "not a fit", "doesn't fit";
* refusal     - "вынуждены отказать", "не сможем", "не будем", "we'll pass", "decline", "not interested";
* interest    - "интересно", "хотим", "пришлите", "давайте встретимся", "interested", "love to", "send us".

A not-fit or refusal marker declines; regret alone declines unless interest is also said
("к сожалению, пока в отпуске, но очень интересно" is not a no).  An interest word under a
negation ("не интересно", "not interested") counts as refusal.
"""

from __future__ import annotations

import re
from typing import Literal

Answer = Literal["replied", "declined", "interested"]
ANSWERS: tuple[str, ...] = ("none", "replied", "declined", "interested", "deal")

_REGRET = re.compile(
    r"к\s+сожалению|к\s+нашему\s+сожалению|сожалеем|увы|с\s+сожалением|"
    r"\bunfortunately\b|\bregret(?:fully|tably)?\b|\bsadly\b|\bi['’]?m\s+afraid\b|\bwe\s+are\s+afraid\b|"
    r"\bsorry\b|\bизвините\b", re.I)
_NOT_FIT = re.compile(
    r"не\s+(?:совсем\s+|очень\s+)?(?:подход\w*|подойд\w*|соответству\w*|вписыва\w*|впишет\w*|"
    r"наш\w*\s+(?:формат|профил\w*|тем\w*)|для\s+нас|в\s+нашем\s+(?:формате|репертуаре))|"
    r"не\s+(?:берём|берем|возьмём|возьмем|рассматрива\w*|ставим|планируем|нуждаемся)|"
    r"\bnot\s+(?:quite\s+|really\s+)?(?:for\s+us|a\s+(?:good\s+|right\s+)?fit|the\s+right\s+fit|right\s+for\s+us|"
    r"what\s+we(?:['’]re|\s+are)\s+looking\s+for|something\s+we)|"
    r"\b(?:doesn['’]t|does\s+not|don['’]t|do\s+not|won['’]t|will\s+not)\s+(?:quite\s+|really\s+)?"
    r"(?:fit|suit|work\s+for\s+us|match)|\bno\s+room\s+in\s+our\b|\bnot\s+taking\s+(?:on\s+)?(?:new|any)\b",
    re.I)
_REFUSAL = re.compile(
    r"вынужден\w*\s+(?:вам\s+)?отказ\w*|отказ(?:ать|ываемся|ались|ываем)|отклон\w*|"
    r"не\s+(?:сможем|можем|будем|готов\w*|заинтересова\w*|интересн\w*|интересует|актуальн\w*)|"
    r"\bwe['’]?ll\s+pass\b|\bwe\s+will\s+pass\b|\bpass(?:ing)?\s+on\s+(?:this|it|the)\b|\bdeclin\w*|"
    r"\bnot\s+(?:be\s+)?(?:able\s+to|interested|going\s+to|moving\s+forward|pursu\w*)|"
    r"\b(?:can['’]t|cannot|unable\s+to)\s+(?:take|accept|consider|move|proceed|use)|\bturn\w*\s+(?:it\s+)?down\b",
    re.I)
_INTEREST = re.compile(
    r"(?<![нН]е\s)(?:интересн\w*|интересует|заинтересова\w*)|понравил\w*|хотели\s+бы|хотим|давайте\s+(?:встрет|созвон|обсуд)\w*|"
    r"пришлите|присылайте|вышлите|готовы\s+(?:обсудить|встретиться|поставить|взять)|берём|берем|возьмём|возьмем|"
    r"\b(?:very\s+|really\s+)?interested\b|\blove\s+to\b|\blike\s+to\s+(?:read|see|meet|discuss|talk)\b|"
    r"\bsend\s+(?:us|me)\s+(?:the|a|your)\b|\blet['’]?s\s+(?:talk|meet|discuss|set\s+up)\b|\bexcited\b",
    re.I)
_NEGATED_INTEREST = re.compile(
    r"(?:не|not|n['’]t)\s+(?:очень\s+|особо\s+|very\s+|really\s+|particularly\s+)?"
    r"(?:интересн\w*|интересует|заинтересова\w*|понравил\w*|interested|excited)", re.I)


# -- the fast path -------------------------------------------------------------------------------
# The patterns above, matched with re.I, cost about 1 ms on a long body.  The same patterns without
# re.I, on the text lower-cased once, match exactly where those match on the original text - for
# every character whose str.lower() is one character that the case-insensitive matcher treats
# like that lower case (same literals, same \w, \s, \d): all but the few below (Turkish dotted
# and dotless i, the long s, early Cyrillic letter forms), checked over all of Unicode by
# tests/test_answers_fast.py.  A text with one of them takes the original path.
_UNSAFE = re.compile("[\u0130\u0131\u017f\u1c80-\u1c85]")
_REGRET_LOW = re.compile(_REGRET.pattern)
_NOT_FIT_LOW = re.compile(_NOT_FIT.pattern)
_REFUSAL_LOW = re.compile(_REFUSAL.pattern)
_INTEREST_LOW = re.compile(_INTEREST.pattern)
_NEGATED_INTEREST_LOW = re.compile(_NEGATED_INTEREST.pattern)
# Substrings without which a pattern cannot match (each alternative of it holds one of them),
# so most texts skip the regexes: a substring test is far cheaper than an alternation's scan.
_REGRET_KEYS = ("сожале", "увы", "unfortunately", "regret", "sadly", "afraid", "sorry", "извините")
_NOT_FIT_KEYS = ("подход", "подойд", "соответству", "вписыва", "впишет", "наш", "для", "берём", "берем", "возьм",
                 "рассматрива", "ставим", "планируем", "нуждаемся", "not", "n't", "n’t", "room")
_REFUSAL_KEYS = ("отказ", "отклон", "можем", "будем", "готов", "интерес", "актуальн", "pass", "declin", "not",
                 "can", "unable", "turn")
_NEGATED_INTEREST_KEYS = ("интерес", "понравил", "interested", "excited")
_INTEREST_KEYS = ("интерес", "понравил", "хотели", "хотим", "давайте", "пришлите", "присылайте", "вышлите",
                  "готовы", "берём", "берем", "возьм", "interested", "love", "like", "send", "let", "excited")


def _has(text: str, keys: tuple[str, ...]) -> bool:
    return any(k in text for k in keys)


def classify_answer(text: str) -> Answer:
    """``declined``, ``interested`` or plain ``replied`` for the new text of an answer."""
    t = " ".join((text or "").split())
    if not t:
        return "replied"
    if _UNSAFE.search(t):
        return _classify_exact(t)
    low = t.lower()
    negated = _has(low, _NEGATED_INTEREST_KEYS) and _NEGATED_INTEREST_LOW.search(low) is not None
    if (negated or (_has(low, _NOT_FIT_KEYS) and _NOT_FIT_LOW.search(low) is not None)
            or (_has(low, _REFUSAL_KEYS) and _REFUSAL_LOW.search(low) is not None)):
        return "declined"
    interest_text = _NEGATED_INTEREST_LOW.sub(" ", low) if negated else low
    interest = _has(interest_text, _INTEREST_KEYS) and _INTEREST_LOW.search(interest_text) is not None
    if not interest and _has(low, _REGRET_KEYS) and _REGRET_LOW.search(low) is not None:
        return "declined"
    return "interested" if interest else "replied"


def _classify_exact(t: str) -> Answer:
    """The patterns as written, case-insensitive, on the whitespace-normalised text."""
    refusal = bool(_NOT_FIT.search(t) or _REFUSAL.search(t) or _NEGATED_INTEREST.search(t))
    interest_text = _NEGATED_INTEREST.sub(" ", t)
    interest = bool(_INTEREST.search(interest_text))
    if refusal:
        return "declined"
    if _REGRET.search(t) and not interest:
        return "declined"
    if interest:
        return "interested"
    return "replied"
