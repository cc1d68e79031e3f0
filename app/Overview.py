"""Overview: every suite x version x variant with its confidence interval, and each metric over the commits."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from _workbench import AXIS, friendly_errors, md, page, require_db, url_multiselect, workspace

from promptarena import views

page("Overview", "🏟️")
st.caption(
    "Each cell is a suite's metric for one prompt version and variant: the mean over the cases with its 95% "
    "confidence interval, from the latest completed run of that arm. 👍 is the share of thumbs-up people gave."
)
ws = workspace()


def grid(cells: list[views.OverviewCell], order: dict[str, int]) -> pd.DataFrame:
    """Versions as rows (newest first), 'metric · variant' as columns, 'mean [low, high]' as cells."""
    rows: dict[str, dict[str, str]] = {}
    labels: dict[str, str] = {}
    for cell in cells:
        labels.setdefault(cell.blob, f"{cell.version} — {cell.message}" if cell.message else cell.version)
        rows.setdefault(cell.blob, {})[f"{cell.metric} · {cell.variant}"] = views.fmt_interval(cell.interval)
    blobs = sorted(rows, key=lambda b: -order.get(b, -1))
    frame = pd.DataFrame([rows[b] for b in blobs], index=[labels[b] for b in blobs])
    frame.index.name = "version"
    columns = sorted(frame.columns, key=lambda c: (c.startswith(views.THUMBS_UP), c))
    return frame[columns].fillna("–")


def history_chart(points: list[views.HistoryPoint]) -> alt.FacetChart:
    """Each metric over the commits, one panel per metric, a line per variant with interval bars."""
    frame = pd.DataFrame([p.__dict__ for p in points])
    frame["label"] = frame["version"] + " " + frame["message"].fillna("").str.slice(0, 30)
    sort = list(dict.fromkeys(frame.sort_values("order")["version"]))
    x = alt.X("version:N", sort=sort, title="commit (oldest → newest)")
    tooltip = ["version", "message", "variant", "metric", alt.Tooltip("mean:Q", format=".3f"), "n"]
    base = alt.Chart().encode(x=x, color=alt.Color("variant:N"))
    line = base.mark_line(point=True).encode(
        y=alt.Y("mean:Q", title="mean", scale=alt.Scale(zero=False), axis=AXIS), tooltip=tooltip
    )
    bars = base.mark_rule(opacity=0.5).encode(y="low:Q", y2="high:Q")
    return (
        alt.layer(bars, line, data=frame)
        .properties(width=230, height=180)
        .facet(facet=alt.Facet("metric:N", title=None), columns=3)
        .resolve_scale(y="independent")
    )


with friendly_errors():
    require_db(ws)
    with ws.results() as results:
        cells = views.overview(results)
        entries = views.suite_entries(ws.workdir, results)
    if not cells:
        st.info("The database holds no completed runs yet: run `evals run` in the repository, or use **Start a run**.")
        st.stop()
    by_suite: dict[str, list[views.OverviewCell]] = {}
    for cell in cells:
        by_suite.setdefault(cell.suite, []).append(cell)
    names = [e.name for e in entries]
    chosen = url_multiselect("Suites", names, "overview_suites", "suite", default=names)
    with ws.prompts() as prompts:
        for entry in entries:
            if entry.name not in chosen:
                continue
            st.subheader(md(entry.name))
            if entry.suite is not None and entry.suite.description:
                st.caption(f"{md(entry.suite.description)} · prompt {md(entry.prompt)}")
            if entry.error:
                st.warning(f"The suite file does not load: {entry.error}")
            suite_cells = views.under_commits(by_suite.get(entry.name, []), prompts, entry.prompt)
            if not suite_cells:
                st.info(f"No completed runs of this suite yet: `evals run {entry.name}` or **Start a run**.")
                continue
            points = views.metric_history(suite_cells, prompts, entry.prompt)
            order: dict[str, int] = {}
            for point in points:
                order[point.blob] = max(order.get(point.blob, -1), point.order)
            st.dataframe(grid(suite_cells, order), width="stretch")
            if points:
                st.altair_chart(history_chart(points), width="content")
