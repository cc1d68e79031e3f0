"""Holistic view: every HELM dimension of a suite over the prompt's commits, one chart per dimension."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from _workbench import AXIS, friendly_errors, page, pick_suite, require_db, workspace

from promptarena import views

page("Holistic", "🧭")
st.caption(
    "Beside accuracy: calibration (ECE of the vote agreement), robustness and fairness (the worst score per case "
    "across perturbations, or counterfactuals, and the text as written), the widest fairness gap between two "
    "groups, bias in the outputs (HELM's scale: 0 even, 0.5 every mention in one of the two groups), the share "
    "of outputs scored toxic, the spread across prompt layouts, and efficiency. Each from the latest completed "
    "run of each arm; bars are 95% intervals where there is one."
)
ws = workspace()


def dimension_chart(points: list[views.HistoryPoint]) -> alt.FacetChart:
    """Each dimension over the commits, one panel per dimension, a line per variant with interval bars."""
    frame = pd.DataFrame([p.__dict__ for p in points])
    sort = list(dict.fromkeys(frame.sort_values("order")["version"]))
    x = alt.X("version:N", sort=sort, title="commit (oldest → newest)")
    tooltip = ["version", "message", "variant", "metric", alt.Tooltip("mean:Q", format=".3f")]
    base = alt.Chart().encode(x=x, color=alt.Color("variant:N"))
    y = alt.Y("mean:Q", title=None, scale=alt.Scale(zero=False), axis=AXIS)
    line = base.mark_line(point=True).encode(y=y, tooltip=tooltip)
    bars = base.mark_rule(opacity=0.5).encode(y="low:Q", y2="high:Q")
    order = [d for d in views.DIMENSIONS if d in set(frame["metric"])]
    return (
        alt.layer(bars, line, data=frame)
        .properties(width=230, height=170)
        .facet(facet=alt.Facet("metric:N", title=None, sort=order), columns=3)
        .resolve_scale(y="independent")
    )


def latest_table(cells: list[views.OverviewCell]) -> pd.DataFrame:
    """Versions x variants as rows, dimensions as columns, the latest value of each."""
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for cell in cells:
        rows.setdefault((cell.version, cell.variant), {})[cell.metric] = cell.note or views.fmt_interval(cell.interval)
    frame = pd.DataFrame(list(rows.values()), index=pd.MultiIndex.from_tuples(list(rows), names=["version", "variant"]))
    return frame[[d for d in views.DIMENSIONS if d in frame.columns]].fillna("–")


with friendly_errors():
    require_db(ws)
    entry = pick_suite(ws, key="holistic_suite")
    with ws.results() as results:
        cells = views.holistic_cells(results, entry.name)
    if not cells:
        st.info(
            f"No holistic results for suite `{entry.name}` yet: add `perturbations:`, `bias:`, `toxicity:` or "
            f"`sensitivity:` to its suite file and run `evals run {entry.name}`."
        )
        st.stop()
    with ws.prompts() as prompts:
        cells = views.under_commits(cells, prompts, entry.prompt)  # a saved draft's row is its commit's
        points = views.metric_history([c for c in cells if c.interval.n], prompts, entry.prompt)
    st.dataframe(latest_table(cells), width="stretch")
    if points:
        st.altair_chart(dimension_chart(points), width="content")
