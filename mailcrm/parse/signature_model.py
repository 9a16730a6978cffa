"""The shipped signature-line model: weights of a logistic regression, applied in plain Python.

``signature_model.json`` (package data) is written by scripts/train_signature.py, which fits it
with scikit-learn at training time only; here each line's log-odds of being signature is the
bias plus the weights of its binary features. Loaded once, on first use; no I/O beyond that.
"""

from __future__ import annotations

import json
import threading
from importlib import resources
from itertools import repeat
from typing import Any

__all__ = ["MODEL_FILE", "load_model", "line_logits", "threshold"]

MODEL_FILE = "signature_model.json"

_MODEL: dict[str, Any] | None = None
_LOCK = threading.Lock()


def load_model() -> dict[str, Any]:
    """The model as stored: {"bias": float, "weights": {feature: float}, ...}."""
    global _MODEL
    if _MODEL is None:
        with _LOCK:
            if _MODEL is None:
                raw = resources.files("mailcrm.parse").joinpath(MODEL_FILE).read_text(encoding="utf-8")
                _MODEL = json.loads(raw)
    return _MODEL


def line_logits(features: list[list[str]]) -> list[float]:
    """Log-odds that each line (given by its feature names) belongs to the signature."""
    model = load_model()
    weights: dict[str, float] = model["weights"]
    bias = float(model["bias"])
    get = weights.get
    # map() instead of a generator: the same additions in the same order, without a frame per feature.
    return [bias + sum(map(get, feats, repeat(0.0, len(feats)))) for feats in features]


def threshold() -> float:
    """The least log-odds sum a block needs to be a signature (0.0 in models without one)."""
    return float(load_model().get("threshold", 0.0))
