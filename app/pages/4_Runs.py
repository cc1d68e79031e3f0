"""Runs: every run with its provenance (commits, model, seeds, packages) and efficiency (latency, tokens/s, memory)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from _workbench import friendly_errors, page, require_db, workspace

from promptarena import views

page("Runs", "🧾")
st.caption(
    "Latency p50 is the median over arms of each arm's median per-case latency; p95 is the worst arm's p95; "
    "tokens/s is the median generation speed. Peak memory appears when the run recorded it. "
    "A run marked running whose process is gone from this machine shows as abandoned."
)
ws = workspace()

with friendly_errors():
    require_db(ws)
    with ws.results() as results:
        runs = views.run_views(results, limit=500)
    if not runs:
        st.info("No runs yet: run `evals run` in the repository, or use **Start a run**.")
        st.stop()
    suites = sorted({r.suite for r in runs})
    chosen = st.multiselect("Suites", suites, default=suites, key="runs_suites")
    shown = [r for r in runs if r.suite in chosen]
    table = pd.DataFrame(
        [
            {
                "run": r.id,
                "suite": r.suite,
                "status": r.status,
                "started": r.started_at.replace("T", " ")[:19],
                "versions": ", ".join(r.commits),
                "generated": r.generated,
                "cached": r.cached,
                "wall s": r.wall_s,
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
    config = {c: st.column_config.NumberColumn(c, format="%.3f") for c in ("wall s", "latency p50 s", "latency p95 s")}
    config["tokens/s"] = st.column_config.NumberColumn("tokens/s", format="%.0f")
    config["peak memory MB"] = st.column_config.NumberColumn("peak memory MB", format="%.0f")
    st.dataframe(table, hide_index=True, width="stretch", column_config=config)

    if shown:
        st.subheader("Run details")
        run_id = st.selectbox("Run", [r.id for r in shown], key="runs_detail")
        run = next(r for r in shown if r.id == run_id)
        if run.error:
            st.error(f"This run {run.status}: {run.error}")
        if run.status == "abandoned":
            st.warning(
                "This run was abandoned: its process ended before it finished (killed, or the machine stopped). "
                "What it generated is cached; run the suite again to complete it."
            )
        if run.arms:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "arm": arm.get("arm"),
                            "message": arm.get("message") or ("uncommitted edits" if arm.get("dirty") else ""),
                            "latency p50 s": arm.get("latency_p50_s"),
                            "latency p95 s": arm.get("latency_p95_s"),
                            "tokens/s": arm.get("tokens_per_s"),
                            **{m: (iv or {}).get("mean") for m, iv in (arm.get("metrics") or {}).items()},
                        }
                        for arm in run.arms
                    ]
                ),
                hide_index=True,
                width="stretch",
                column_config=config,
            )
        left, right = st.columns(2)
        with left:
            st.caption("Provenance")
            st.json({k: v for k, v in run.provenance.items() if k != "packages"}, expanded=1)
        with right:
            st.caption("Package versions")
            st.dataframe(
                pd.DataFrame([{"package": k, "version": v or "not installed"} for k, v in run.packages.items()]),
                hide_index=True,
            )
