"""The shape of the code base: no module grows past what a reader takes in at once."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[1]
MAX_LINES = 450


def test_every_module_in_src_and_app_is_at_most_450_lines() -> None:
    sources = [*(ROOT / "src").rglob("*.py"), *(ROOT / "app").rglob("*.py")]
    assert len(sources) > 50  # the walk found the code base
    too_long = {
        str(path.relative_to(ROOT)): n
        for path in sources
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}, f"split these modules by concern (at most {MAX_LINES} lines): {too_long}"
