"""The report package's one set of formatters: what the terminal, Markdown, JUnit, JSON and the workbench print."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from promptarena.report import (
    clip,
    fmt_difference,
    fmt_interval,
    fmt_number,
    fmt_p,
    interval_label,
    verdict_icon,
    verdict_markup,
)
from promptarena.stats import Interval, PairedComparison

NAN = math.nan
C = PairedComparison(
    n=20, mean_a=0.5, mean_b=0.75, diff=0.25, ci_low=0.01, ci_high=0.45, p_value=0.04, wins=6, ties=13, losses=1,
    verdict="better",
)  # fmt: skip


@pytest.mark.parametrize(("x", "spec", "text"), [(NAN, ".3f", "–"), (None, ".3f", "–"), (2 / 3, ".2f", "0.67")])
def test_numbers_print_a_dash_where_there_is_no_value(x: float | None, spec: str, text: str) -> None:
    assert fmt_number(x, spec) == text


@pytest.mark.parametrize(("p", "text"), [(0.0004, "<0.001"), (0.001, "0.001"), (0.25, "0.250"), (NAN, "–")])
def test_p_values_have_three_decimals_and_a_floor(p: float, text: str) -> None:
    assert fmt_p(p) == text


def test_an_undefined_p_value_prints_what_the_report_asks_for() -> None:
    assert fmt_p(NAN, "n/a") == "n/a" and fmt_p(0.5, "n/a") == "0.500"


def test_clip_puts_text_on_one_line_and_marks_the_cut() -> None:
    assert clip("Paris\n  is  the capital") == "Paris is the capital"
    assert clip("x" * 70, 10) == "x" * 9 + "…"
    assert clip("x" * 10, 10) == "x" * 10


@pytest.mark.parametrize(
    ("iv", "text"),
    [
        (Interval(2 / 3, 0.208, 0.939, 3), "0.667 [0.208, 0.939]"),
        (Interval(0.5, NAN, NAN, 1), "0.500"),
        (Interval(NAN, NAN, NAN, 0), "–"),
    ],
)
def test_intervals_show_what_is_defined(iv: Interval, text: str) -> None:
    assert fmt_interval(iv) == text


def test_differences_carry_their_level_only_when_each_cell_has_its_own() -> None:
    holm = replace(C, confidence=1 - 0.05 / 3)
    assert fmt_difference(C) == "+0.250 [+0.010, +0.450]"
    assert fmt_difference(holm, per_cell=True) == "+0.250 [+0.010, +0.450] 98.3%"
    assert fmt_difference(replace(C, ci_low=NAN)) == "+0.250"
    assert fmt_difference(replace(C, diff=NAN)) == "–"
    assert interval_label([C, C]) == "95% CI"
    assert interval_label([C, holm]) == "CI"


@pytest.mark.parametrize(
    ("verdict", "icon", "markup"),
    [
        ("better", "🟢", "[green]better[/green]"),
        ("worse", "🔴", "[red]worse[/red]"),
        ("higher", "🔼", "higher"),
        ("too few cases", "⚪", "[yellow]too few cases[/yellow]"),
        ("no significant difference", "⚪", "no significant difference"),
    ],
)
def test_verdicts_look_the_same_in_every_report(verdict: str, icon: str, markup: str) -> None:
    assert verdict_icon(verdict) == icon
    assert verdict_markup(verdict) == markup
