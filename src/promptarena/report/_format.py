"""The one set of formatters every report uses: numbers, p-values, intervals, differences, verdicts, clipped text."""

from __future__ import annotations

import math
from collections.abc import Sequence

from promptarena.stats import MIN_PAIRS, POWER, Agreement, Interval, PairedComparison

MISSING = "–"
"""What a report prints where there is no value (a NaN, an empty interval)."""

_VERDICT_ICON = {"better": "🟢", "worse": "🔴", "higher": "🔼", "lower": "🔽"}
_VERDICT_STYLE = {"better": "green", "worse": "red", "too few cases": "yellow"}


def fmt_number(x: float | None, spec: str = ".3f") -> str:
    """``x`` formatted by ``spec``; ``–`` for None or NaN."""
    return MISSING if x is None or math.isnan(x) else format(x, spec)


def fmt_energy(joules: float | None, sources: Sequence[str] = ()) -> str:
    """``energy: 41.2 J (RAPL)`` for a run's generation, or ``energy: not measured`` where no counter was read."""
    if joules is None:
        return "energy: not measured"
    return f"energy: {joules:,.1f} J" + (f" ({', '.join(sources)})" if sources else "")


def fmt_p(p: float, missing: str = MISSING) -> str:
    """A p-value with three decimals, ``<0.001`` below that, ``missing`` when undefined."""
    return missing if math.isnan(p) else ("<0.001" if p < 0.001 else f"{p:.3f}")


def clip(text: str, width: int = 60) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def fmt_confidence(confidence: float) -> str:
    """``95%``, ``98.3%``: the confidence level as printed beside an interval."""
    return f"{confidence * 100:.1f}".removesuffix(".0") + "%"


def fmt_fixed(x: float, digits: int = 3, sign: str = "") -> str:
    """``x`` with ``digits`` decimals (``sign="+"`` writes its sign), or as many more as its first significant
    digit needs when ``digits`` would print a value that is not 0 as 0: so an interval that excludes 0 never
    reads as if it touched it (``+0.0004``, not ``+0.000``)."""
    x = x + 0.0  # -0.0 prints as 0
    text = f"{x:{sign}.{digits}f}"
    if x == 0 or not math.isfinite(x) or float(text) != 0:
        return text
    decimals = -math.floor(math.log10(abs(x)))
    return f"{x:{sign}.{decimals}f}" if decimals <= 12 else f"{x:{sign}.0e}"


def fmt_interval(iv: Interval, digits: int = 3) -> str:
    """``0.667 [0.208, 0.939]``; the mean alone when its bounds are undefined; ``–`` when there is no value.

    A value that is not 0 never prints as 0 (see ``fmt_fixed``)."""
    if iv.n == 0 or math.isnan(iv.mean):
        return MISSING
    if math.isnan(iv.low) or math.isnan(iv.high):
        return fmt_fixed(iv.mean, digits)
    return f"{fmt_fixed(iv.mean, digits)} [{fmt_fixed(iv.low, digits)}, {fmt_fixed(iv.high, digits)}]"


def interval_label(comparisons: Sequence[PairedComparison]) -> str:
    """``95% CI`` when every interval has that confidence; ``CI`` when Holm gives each its own (then per cell)."""
    levels = {c.confidence for c in comparisons}
    return f"{fmt_confidence(levels.pop())} CI" if len(levels) == 1 else "CI"


def fmt_difference(c: PairedComparison, per_cell: bool = False) -> str:
    """``+0.250 [+0.010, +0.450]``, with `` 98.3%`` appended when ``per_cell``; the estimate alone without bounds.

    A bound that is not 0 never prints as 0 (``[+0.0004, +0.078]``), so the interval visibly excludes or
    includes 0 as the verdict says."""
    if math.isnan(c.diff):
        return MISSING
    if math.isnan(c.ci_low) or math.isnan(c.ci_high):
        return fmt_fixed(c.diff, sign="+")
    low, high = fmt_fixed(c.ci_low, sign="+"), fmt_fixed(c.ci_high, sign="+")
    text = f"{fmt_fixed(c.diff, sign='+')} [{low}, {high}]"
    return text + f" {fmt_confidence(c.confidence)}" if per_cell else text


def fmt_detect(c: PairedComparison, digits: int = 2) -> str:
    """What these cases can detect, as advice: ``could detect ±0.31 at 80% power; ~140 cases needed to
    detect the observed +0.05``."""
    power = f"{POWER:.0%} power"
    if math.isnan(c.detectable):
        first = "no case differs between A and B" if c.test == "mcnemar" and c.n else "too few cases to size"
    elif math.isinf(c.detectable) and c.test == "mcnemar":
        first = f"{c.wins + c.losses} of {c.n} cases differ, too few to detect any difference at {power}"
    elif math.isinf(c.detectable):
        first = f"{c.n} cases cannot detect any difference at {power}"
    else:
        first = f"could detect ±{fmt_fixed(c.detectable, digits)} at {power}"
    if c.cases_needed is None:
        return first
    return f"{first}; ~{c.cases_needed} cases needed to detect the observed {fmt_fixed(c.diff, digits, '+')}"


def json_text(doc: object) -> str:
    """A document as `--json` prints it: indented, undefined figures (NaN, infinities: JSON has none) as null."""
    import json

    return json.dumps(_finite(doc), indent=2)


def _finite(obj: object) -> object:
    if isinstance(obj, float):
        return None if math.isnan(obj) or math.isinf(obj) else obj
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def verdict_icon(verdict: str) -> str:
    """The mark beside a verdict in Markdown and the workbench: 🟢 better, 🔴 worse, ⚪ no decision."""
    return _VERDICT_ICON.get(verdict, "⚪")


def verdict_markup(verdict: str) -> str:
    """A verdict in rich markup: green better, red worse, yellow too few cases."""
    style = _VERDICT_STYLE.get(verdict, "")
    return f"[{style}]{verdict}[/{style}]" if style else verdict


def rater_name(name: str) -> str:
    """A rater as reports name it: ``people`` for the votes (``thumbs_up``), else the metric's name."""
    return "people" if name == "thumbs_up" else name


def fmt_kappa(ag: Agreement, digits: int = 2) -> str:
    """``0.62 [0.31, 0.93]``; kappa alone where its interval has no width; ``–`` where there is no kappa."""
    if math.isnan(ag.kappa):
        return MISSING
    if math.isnan(ag.low) or math.isnan(ag.high):
        return f"{ag.kappa:.{digits}f}"
    return f"{ag.kappa:.{digits}f} [{ag.low:.{digits}f}, {ag.high:.{digits}f}]"


def agreement_note(ag: Agreement, a: str, b: str, ties: int = 0) -> str | None:
    """Why a kappa (or its interval) is missing, in a sentence naming the raters; None when both are given."""
    a, b = rater_name(a), rater_name(b)
    tied = (
        f"; {ties} output{'s' if ties != 1 else ''} left out, {'their' if ties != 1 else 'its'} voters split evenly"
        if ties
        else ""
    )
    if ag.why == "too few" and ag.n == 0:
        return f"no output judged by both {a} and {b}{tied}"
    if ag.why == "too few":
        return f"only {ag.n} output judged by both {a} and {b}: too few for kappa (it needs {MIN_PAIRS}){tied}"
    if ag.why in ("a constant", "b constant", "both constant"):
        a_did, b_did = ("passed" if k else "failed" for k in (ag.both_pass + ag.only_a, ag.both_pass + ag.only_b))
        flat = {
            "a constant": f"{a} {a_did} all {ag.n} outputs",
            "b constant": f"{b} {b_did} all {ag.n} outputs",
            "both constant": f"{a} {a_did} all {ag.n} outputs and {b} {b_did} all of them",
        }[ag.why]
        return (
            f"{flat}: kappa is undefined, since it needs both verdicts from each side; "
            f"raw agreement {ag.observed:.2f}{tied}"
        )
    if ag.why == "no spread":
        never = "never disagreed" if ag.observed == 1 else "never agreed"
        return f"{a} and {b} {never} on {ag.n} outputs: the asymptotic interval has no width, so none is shown{tied}"
    return tied.removeprefix("; ") or None
