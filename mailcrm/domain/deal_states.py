"""Which moves a deal may make (pure).

An open deal moves to any other stage, or closes as won or lost. A closed deal (won or lost) moves
nowhere until it is reopened explicitly (``deal reopen``), so a won deal cannot become lost by a
slip of the finger, and a stage change on a closed deal cannot reopen it silently.
"""

from __future__ import annotations

WON, LOST = "won", "lost"
CLOSED = frozenset({WON, LOST})


def refusal(status: str, stage: str, target: str, *, reopen: bool = False) -> str | None:
    """Why moving a deal (``status``, ``stage``) to ``target`` is not allowed; None when it is.

    ``reopen``: the move reopens a closed deal (only a closed deal may be reopened, and not into
    won/lost).
    """
    if reopen:
        if status not in CLOSED:
            return f"it is {status}, not won or lost: nothing to reopen"
        if target in CLOSED:
            return f"reopen it into an open stage, not {target!r}"
        return None
    if status in CLOSED:
        return f"it is {status}: reopen it first (mailcrm deal reopen ID [--stage STAGE])"
    if target == stage:
        return f"it is already in stage {stage!r}"
    return None


# Stage names as people read them, per language; ``[cadence.stage_labels.<lang>]`` overrides or adds.
STAGE_LABELS: dict[str, dict[str, str]] = {
    "ru": {"lead": "обращение", "brief": "бриф", "invoiced": "счёт выставлен", "paid": "оплачено",
           "in_progress": "в работе", "won": "выиграна", "lost": "проиграна"},
    "en": {"lead": "lead", "brief": "brief", "invoiced": "invoiced", "paid": "paid", "in_progress": "in progress",
           "won": "won", "lost": "lost"},
}


def stage_labels(language: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Stage -> label in ``language``: the built-in labels, then the configured ones over them."""
    return {**STAGE_LABELS.get(language, STAGE_LABELS["en"]), **(overrides or {})}


def stage_label(stage: str, labels: dict[str, str]) -> str:
    """One stage's label; a stage nobody labelled is shown by its name, underscores as spaces."""
    return labels.get(stage) or stage.replace("_", " ")
