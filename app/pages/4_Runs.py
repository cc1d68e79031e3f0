"""Runs: every run with its provenance (commits, model, seeds, packages) and efficiency (latency, tokens/s, memory)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from _workbench import (
    arm_choices,
    arm_label,
    blank,
    friendly_errors,
    page,
    require_db,
    thumbs_up_shares,
    url_multiselect,
    url_select,
    workspace,
)

from promptarena import views
from promptarena.stats import Interval
from promptarena.store import ArmRecord

page("Runs", "🧾")
st.caption(
    "Latency p50 is the median over arms of each arm's median per-case latency; p95 is the worst arm's p95; "
    "tokens/s is the median generation speed. Peak memory appears when the run recorded it. "
    "A run marked running whose process is gone from this machine shows as abandoned, and so does one merged "
    "from a teammate's database while it was running."
)
ws = workspace()


def result_links(ws: views.Workspace, run: views.RunView) -> None:
    """Links to the run's results: Compare its first two arms, and the Case explorer with all of them."""
    suite, arms = run.row.suite, run.row.record.arms if run.row.record else []
    choices = {(c.blob, c.variant, c.model): c for c in arm_choices(ws, suite)}
    labels = [
        arm_label(choices[key]) for key in dict.fromkeys((a.blob, a.variant, a.model) for a in arms) if key in choices
    ]
    if not labels:
        return
    left, right = st.columns(2)
    if len(labels) >= 2:
        query = {"suite": suite, "arm_a": labels[1], "arm_b": labels[0]}
        left.page_link("pages/2_Compare.py", label="Compare this run's arms", icon="⚖️", query_params=query)
    query = {"explorer_suite": suite, "explorer_arms": labels[:6]}
    right.page_link(
        "pages/3_Case_explorer.py", label="Open its cases in the Case explorer", icon="🔎", query_params=query
    )


def arm_row(arm: ArmRecord, share: Interval | None) -> dict[str, object]:
    """One arm of the run: its efficiency, each metric's mean, and people's share of thumbs-up where it has votes."""
    return {
        "arm": arm.arm,
        "message": arm.message or ("uncommitted edits" if arm.dirty else ""),
        "latency p50 s": arm.latency_p50_s,
        "latency p95 s": arm.latency_p95_s,
        "tokens/s": arm.tokens_per_s,
        **{m: iv.mean for m, iv in arm.metrics.items()},
        **({views.THUMBS_UP: share.mean} if share else {}),
    }


with friendly_errors():
    require_db(ws)
    with ws.results() as results:
        runs = views.run_views(results, limit=500)
    if not runs:
        st.info("No runs yet: run `evals run` in the repository, or use **Start a run**.")
        st.stop()
    suites = sorted({r.row.suite for r in runs})
    chosen = url_multiselect("Suites", suites, "runs_suites", "suite", default=suites)
    shown = [r for r in runs if r.row.suite in chosen]
    table = pd.DataFrame(
        [
            {
                "run": r.row.id,
                "suite": r.row.suite,
                "status": r.row.status,
                "started": r.row.started_at.replace("T", " ")[:19],
                "versions": ", ".join(r.commits),
                "generated": r.row.record.generated if r.row.record else None,
                "cached": r.row.record.cached if r.row.record else None,
                "wall s": r.row.record.wall_s if r.row.record else None,
                "latency p50 s": r.latency_p50_s,
                "latency p95 s": r.latency_p95_s,
                "tokens/s": r.tokens_per_s,
                "peak memory MB": r.peak_memory_mb,
                "model": r.model,
                "seed": r.seed,
            }
            for r in shown
        ]
    )
    formats = {c: "{:.3f}" for c in ("wall s", "latency p50 s", "latency p95 s")}
    formats |= {"tokens/s": "{:.0f}", "peak memory MB": "{:.0f}", "generated": "{:.0f}", "cached": "{:.0f}"}
    st.dataframe(blank(table, formats), hide_index=True, width="stretch")

    if shown:
        st.subheader("Run details")
        run_id = url_select("Run", [r.row.id for r in shown], "runs_detail", "run")
        run = next(r for r in shown if r.row.id == run_id)
        result_links(ws, run)
        if run.row.error:
            st.error(f"This run {run.row.status}: {run.row.error}")
        if run.row.status == "abandoned":
            st.warning(
                "This run was abandoned: its process ended before it finished (killed, or the machine stopped), "
                "or it was still running in the database it was merged from. What it generated is cached; run the "
                "suite again to complete it."
            )
        if run.row.record and run.row.record.arms:
            shares = thumbs_up_shares(ws, run.row.suite)  # people's votes as they are now, not as at the run
            st.dataframe(
                blank(
                    pd.DataFrame(
                        [
                            arm_row(arm, shares.get((run.row.suite, arm.blob, arm.variant)))
                            for arm in run.row.record.arms
                        ]
                    ),
                    formats,
                ),
                hide_index=True,
                width="stretch",
            )
        left, right = st.columns(2)
        with left:
            st.caption("Provenance")
            st.json({k: v for k, v in run.row.provenance.items() if k != "packages"}, expanded=1)
        with right:
            st.caption("Package versions")
            st.dataframe(
                pd.DataFrame([{"package": k, "version": v or "not installed"} for k, v in run.packages.items()]),
                hide_index=True,
            )
