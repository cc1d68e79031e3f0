"""The filters over listed outputs, one row of widgets shared by every page that lists outputs: words searched in
the results store, failing only, arms differ, a score range on a metric, and votes.

Each filter lives in the URL under ``<prefix>_<name>`` like every other selection (see ``_workbench``), so a
copied link shows the same cases; a filter at its default leaves no parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st
from _workbench import _SYNCED, _to_url, url_select, voter

from promptarena import views
from promptarena.store import OutputFilter, ScoreRange
from promptarena.suite import Suite
from promptarena.views import ArmChoice, Workspace

VOTES = {
    "all outputs": ("any", False),
    "has votes": ("voted", False),
    "has comments": ("commented", False),
    "unvoted": ("unvoted", False),
    "not voted by you": ("unvoted", True),
}


def output_filters(
    suite: Suite | None,
    prefix: str,
    *,
    differ_label: str = "Arms differ",
    on_change: Callable[[], None] | None = None,
    metric: str | None = None,
) -> OutputFilter:
    """Draw the filter row (keys and URL parameters ``<prefix>_q``, ``_metric``, ``_failing``, ``_differ``,
    ``_votes``, ``_min``, ``_max``) and return the filter it sets; ``on_change`` runs when any of them changes
    (to go back to a list's first page). Failing only and the score range apply to ``metric`` where the page
    has chosen one already, else to the metric picked in the row."""
    metrics = [spec.name for spec in suite.metrics] if suite is not None and metric is None else []
    widths = [3, 2, 1.6, 1.6, 1.8, 1, 1] if metrics else [3, 1.6, 1.6, 1.8, 1, 1]
    columns = st.columns(widths, vertical_alignment="bottom")
    search, metric_col, failing_col, differ_col, votes_col, low_col, high_col = (
        columns if metrics else [columns[0], None, *columns[1:]]
    )
    text = _url_widget(
        f"{prefix}_q",
        str,
        "",
        lambda key: search.text_input(
            "Search outputs and inputs",
            key=key,
            on_change=on_change,
            placeholder="words that must all occur; cap* for a prefix",
            help="Full-text search over the outputs, their extracted answers and the inputs sent (the last message).",
        ),
    )
    if metrics:
        metric = url_select("Metric", metrics, f"{prefix}_metric", "metric", where=metric_col, on_change=on_change)
    failing = url_toggle("Failing only", f"{prefix}_failing", where=failing_col, on_change=on_change)
    differ = url_toggle(differ_label, f"{prefix}_differ", where=differ_col, on_change=on_change)
    votes = url_select("Votes", list(VOTES), f"{prefix}_votes", "votes filter", where=votes_col, on_change=on_change)
    bounds = [
        _url_widget(
            f"{prefix}_{side}",
            float,
            None,
            lambda key, col=col, label=label: col.number_input(
                label, key=key, value=None, on_change=on_change, placeholder="any", format="%g"
            ),
        )
        for side, col, label in (("min", low_col, "Score from"), ("max", high_col, "Score to"))
    ]
    scores: list[ScoreRange] = []
    fails = views.failing_range(suite, metric) if metric is not None and failing else None
    if fails is not None:
        scores.append(fails)
    elif failing:
        failing_col.caption(f"{metric or 'no metric'}: no failing scores known, so this filters nothing")
    if metric is not None and any(b is not None for b in bounds):
        scores.append(ScoreRange(metric, *bounds))
    kind, mine = VOTES[votes]
    return OutputFilter(text=text, differ=differ, scores=tuple(scores), votes=kind, voter=voter() if mine else None)


def filtered_cases(ws: Workspace, choices: Sequence[ArmChoice], where: OutputFilter) -> set[str] | None:
    """The ids of the cases that pass ``where`` under ``choices`` (None when it filters nothing): one query of the
    results store, not cached, as it takes milliseconds and a vote changes what the vote filters keep."""
    if not where.active:
        return None
    with ws.results() as results:
        return set(views.filter_cases(results, choices, where))


def url_toggle(label: str, key: str, *, where: Any = st, on_change: Callable[[], None] | None = None) -> bool:
    """A toggle kept in the URL's ``key`` parameter (``1`` when on, no parameter when off)."""
    return _url_widget(
        key, lambda value: value == "1", False, lambda k: where.toggle(label, key=k, on_change=on_change)
    )


def _url_widget(key: str, parse: Callable[[str], Any], empty: Any, draw: Callable[[str], Any]) -> Any:
    """A widget kept in the URL's ``key`` parameter, as ``url_select`` keeps a selectbox: a link or Back sets it,
    a change is a new history entry, and the empty value leaves no parameter."""
    wanted = st.query_params.get_all(key)
    if wanted != st.session_state.get(_SYNCED + key) or key not in st.session_state:
        st.session_state[_SYNCED + key] = wanted
        try:
            st.session_state[key] = parse(wanted[0]) if wanted else empty
        except ValueError:
            st.session_state[key] = empty
    value = draw(key)
    _to_url(key, [] if value is None or value is False or value == "" else [_written(value)], [])
    return value


def _written(value: Any) -> str:
    return "1" if value is True else repr(value) if isinstance(value, float) else str(value)
