"""House rule 12: mailcrm/ is typed; mypy (a test extra) must find no errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import require

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_is_clean() -> None:
    try:
        import mypy  # noqa: F401
    except ImportError:
        require(False, "mypy not installed (pip install -e '.[test]')")
    res = subprocess.run([sys.executable, "-m", "mypy", "mailcrm"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stdout[-3000:]
