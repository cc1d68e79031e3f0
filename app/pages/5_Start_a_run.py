"""Start a run: choose a suite, versions and variants, run them with the suite's backend and watch the progress."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from _workbench import friendly_errors, load_entries, page, pick_suite, workspace

from promptarena import views
from promptarena.engine import run_suite
from promptarena.plan import select_versions

page("Start a run", "▶️")
st.caption(
    "Evaluates the chosen versions x variants on the suite's cases with the suite's model. Cached generations "
    "are reused, so only what is new is generated. The other pages show the results as soon as it finishes."
)
ws = workspace()

with friendly_errors():
    entry = pick_suite(ws, load_entries(ws), key="run_suite")
    if entry is None:
        st.stop()
    if entry.suite is None:
        st.warning(f"Suite `{entry.name}` has no loadable suite file under evals/, so it cannot be run.")
        st.stop()
    suite = entry.suite
    with ws.prompts() as store:
        available = views.diff_versions(store, suite.prompt)
        if not available:
            st.error(f"Prompt `{suite.prompt}` has no version: add prompts/{suite.prompt}.prompt and commit it.")
            st.stop()
        defaults = {v.label for v in select_versions(suite, store)}
    labels = [f"{v.label} — {v.message}" if v.message else v.label for v in available]
    default_labels = [lab for lab, v in zip(labels, available, strict=True) if v.label in defaults]
    picked = st.multiselect("Versions", labels, default=default_labels, key="run_versions")
    variant_names = [v.name for v in suite.variants]
    variants = st.multiselect("Variants", variant_names, default=variant_names, key="run_variants")
    st.caption(f"Model: `{suite.model.get('backend', 'transformers')}` · {len(suite.cases)} cases · seed {suite.seed}")

    if st.button("Start run", type="primary", disabled=not picked or not variants, key="run_start"):
        chosen = [available[labels.index(lab)] for lab in picked]
        specs = [v for v in suite.variants if v.name in variants]
        bar = st.progress(0.0, text="starting")

        def progress(phase: str, done: int, total: int) -> None:
            bar.progress(done / total if total else 1.0, text=f"{phase}: {done}/{total}")

        with ws.prompts() as store, ws.results() as results:
            outcome = run_suite(suite, store, results, versions=chosen, variants=specs, progress=progress)
        bar.progress(1.0, text="done")
        st.success(
            f"Run {outcome.run_id} completed: {outcome.generated} generated, {outcome.cached} from the cache, "
            f"{outcome.wall_s:.1f} s. Open **Overview** or **Compare** to see it."
        )
        st.dataframe(
            pd.DataFrame(
                [
                    {"arm": arm.arm.label, **{m: views.fmt_interval(iv) for m, iv in arm.summary.items()}}
                    for arm in outcome.arms
                ]
            ),
            hide_index=True,
            width="stretch",
        )
