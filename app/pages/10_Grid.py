"""Grid: cases x arms, each cell coloured by the case's score under that arm, every case on one scrolling table,
so that one sees at a glance where two versions part; a click on a cell opens that case in the Case explorer."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from _filters import filtered_cases, output_filters, url_toggle
from _workbench import (
    arm_choices,
    arm_label,
    explorer_query,
    friendly_errors,
    page,
    pick_loaded_suite,
    require_db,
    require_results,
    url_multiselect,
    url_select,
    workspace,
)

from promptarena import views

page("Grid", "🟩")
st.caption(
    "Each row a case, each column an arm, each cell the case's score behind a square: 🟩 best, 🟨, 🟧, 🟥 worst "
    "(of the metric's range), ⬜ no score. Click a cell to open that case in the Case explorer."
)
ws = workspace()

SQUARES = ("🟥", "🟧", "🟨", "🟩")  # worst quarter of the scale to best


def cell(value: float | None, grid: views.ScoreGrid) -> str:
    """A coloured square for where the score lies between the grid's worst and best, then the score; a white
    square where the arm has no score for the case. Text cells draw 5,000 rows as fast as 100 (styled cells do not)."""
    if value is None or value != value:  # None or NaN
        return "⬜"
    span = grid.best - grid.worst
    t = 1.0 if span == 0 else min(1.0, max(0.0, (value - grid.worst) / span))
    return f"{SQUARES[min(3, int(t * 4))]} {value:.3g}"


with friendly_errors():
    require_db(ws)
    suite = pick_loaded_suite(
        ws,
        "has stored runs but no loadable suite file under evals/, so its metrics are unknown: restore the file "
        "to see its grid.",
        key="grid_suite",
        resets=("grid_arms", "grid_metric", "grid_colour"),
    )
    choices = arm_choices(ws, suite.name)
    require_results(suite.name, choices)
    labels = [arm_label(c) for c in choices]
    arms_col, metric_col, order_col = st.columns([6, 2, 2])
    with arms_col:
        # by default the versions × cases of the newest arm's variant and model
        versions = [
            label
            for c, label in zip(choices, labels, strict=True)
            if c.variant == choices[0].variant and c.model == choices[0].model
        ]
        picked = url_multiselect("Arms (columns)", labels, "grid_arms", "arm", default=versions[:12])
    chosen = [choices[labels.index(label)] for label in picked]
    metric = url_select("Colour by", [s.name for s in suite.metrics], "grid_colour", "metric", where=metric_col)
    parts_first = url_toggle("Where the arms part first", "grid_parts", where=order_col)
    keep = filtered_cases(ws, chosen, output_filters(suite, "grid", metric=metric))
    if not chosen:
        st.info("Pick at least one arm.")
        st.stop()
    with ws.results() as results:
        grid = views.score_grid(results, suite, chosen, metric, None if keep is None else sorted(keep))
    order = sorted(range(len(grid.cases)), key=lambda i: not grid.parts(i)) if parts_first else range(len(grid.cases))
    columns = [c.label for c in chosen]
    frame = pd.DataFrame(
        [[grid.cases[i], *(cell(v, grid) for v in grid.values[i])] for i in order], columns=["case", *columns]
    )
    parting = sum(grid.parts(i) for i in range(len(grid.cases)))
    st.caption(
        f"{len(grid.cases)} cases × {len(chosen)} arms on {metric}; the arms' scores part on {parting} of them."
        + ("" if keep is None else " Only the cases that pass the filters are shown.")
    )
    event = st.dataframe(
        frame,
        hide_index=True,
        height=min(38 + 35 * max(len(frame), 1), 720),
        key="grid_pick",
        on_select="rerun",
        selection_mode="single-cell",
    )
    cells = event.selection.get("cells", []) if event else []
    if cells and cells[0][1] in columns:
        row, column = cells[0]
        clicked = chosen[columns.index(column)]
        shown = [clicked] + [c for c in chosen if c != clicked][:2]
        query = explorer_query(suite.name, frame["case"].iloc[row], [arm_label(c) for c in shown])
        st.switch_page("pages/3_Case_explorer.py", query_params=query)
