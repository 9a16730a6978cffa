"""classify_answer's fast path (lower-cased once, no re.I, substring prefilters) answers as the
case-insensitive patterns do: the characters it must leave to the exact path are all known, and
on texts built from the patterns' own wording, in any case, both paths agree."""

from __future__ import annotations

import random
import re

from mailcrm.parse import answers
from mailcrm.parse.answers import _classify_exact, classify_answer

_PATTERNS = (answers._REGRET, answers._NOT_FIT, answers._REFUSAL, answers._INTEREST, answers._NEGATED_INTEREST)


def test_unsafe_characters_are_all_the_characters_whose_case_matching_differs() -> None:
    everything = "".join(chr(i) for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF)
    low = [c.lower() for c in everything]
    bad = {c for c, lc in zip(everything, low) if len(lc) != 1}
    for cls in (r"\w", r"\s", r"\d"):
        ok = re.compile(cls)
        yes = set(ok.findall(everything))
        bad |= {c for c, lc in zip(everything, low) if len(lc) == 1 and (c in yes) != bool(ok.fullmatch(lc))}
    alphabet = {ch for p in _PATTERNS for ch in p.pattern if ch.isalpha() or ch in "'’"}
    for p in alphabet:
        yes = set(re.findall(re.escape(p), everything, re.I))
        bad |= yes ^ {c for c, lc in zip(everything, low) if lc == p.lower()}
    assert bad, "the check found nothing: it checks nothing"
    assert all(answers._UNSAFE.search(c) for c in bad), sorted(bad - {c for c in bad if answers._UNSAFE.search(c)})


_WORDS = """к сожалению к нашему сожалению сожалеем увы с сожалением unfortunately regret regretfully regrettably
sadly i'm afraid i’m afraid im afraid we are afraid sorry извините не совсем подходит не очень подойдёт не подойдет
не соответствует не вписывается не впишется не наш формат не наша тема не наших профилей не для нас
не в нашем формате не в нашем репертуаре не берём не берем не возьмём не возьмем не рассматриваем не ставим
не планируем не нуждаемся not for us not quite for us not a good fit not a right fit not the right fit
not right for us not what we're looking for not what we are looking for not something we doesn't fit
does not suit don't work for us do not match won't fit will not really fit no room in our not taking on new
not taking any вынуждены отказать вынуждены вам отказать отказываемся отказались отклонить не сможем не можем
не будем не готовы не заинтересованы не интересно не интересует не актуально we'll pass we’ll pass well pass
we will pass pass on this passing on it declined declining not be able to not interested not going to
not moving forward not pursuing can't take can’t accept cannot consider unable to proceed turned it down turn down
интересно интересует заинтересованы понравилось хотели бы хотим давайте встретимся давайте созвонимся
давайте обсудим пришлите присылайте вышлите готовы обсудить готовы встретиться готовы поставить готовы взять
берём берем возьмём возьмем very interested really interested interested love to like to read like to see
like to meet like to discuss like to talk send us the send me a send us your let's talk let’s meet lets discuss
let's set up excited не очень интересно not very interested not really excited n't interested не особо понравилось
спасибо thanks hello привет the a и в и not pass cannot turning можем для наш""".split("\n")


def _texts(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    pieces = [w for line in _WORDS for w in re.split(r"(?<=\S) (?=\S)", line)] + ["\n", "  ", ",", ".", "!", "—"]
    phrases = [line for line in _WORDS] + [p for line in _WORDS for p in re.findall(r"(?:\S+ ){1,3}\S+", line)]
    out = []
    for _ in range(n):
        parts = [rnd.choice(phrases if rnd.random() < 0.5 else pieces) for _ in range(rnd.randint(1, 12))]
        text = rnd.choice([" ", "\n", "  ", ""]).join(parts)
        mode = rnd.random()
        if mode < 0.3:
            text = text.upper()
        elif mode < 0.6:
            text = "".join(c.upper() if rnd.random() < 0.5 else c for c in text)
        elif mode < 0.7:
            text = text.replace("i", rnd.choice(["ı", "İ", "i"])).replace("s", rnd.choice(["ſ", "s"]))
        out.append(text)
    return out


def test_fast_path_answers_as_the_case_insensitive_patterns() -> None:
    texts = _texts(20000, seed=26)
    seen = {_classify_exact(" ".join(t.split())) if t.split() else "replied" for t in texts}
    assert seen == {"replied", "declined", "interested"}  # the texts reach every answer
    for text in texts:
        t = " ".join(text.split())
        want = _classify_exact(t) if t else "replied"
        assert classify_answer(text) == want, text
