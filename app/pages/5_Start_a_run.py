"""Start a run: choose a suite, versions and variants, and run them in the background with the suite's backend."""

from __future__ import annotations

import streamlit as st
from _jobs import recent_jobs
from _workbench import friendly_errors, load_entries, page, pick_loaded_suite, workspace

from promptarena import jobs, views
from promptarena.plan import select_versions

page("Start a run", "▶️")
st.caption(
    "Evaluates the chosen versions x variants on the suite's cases with the suite's model, in the background: "
    "you may leave this page, the sidebar shows the progress. Cached generations are reused, so only what is new "
    "is generated. The other pages show the results as soon as it finishes."
)
ws = workspace()

with friendly_errors():
    suite = pick_loaded_suite(
        ws, "has no loadable suite file under evals/, so it cannot be run.", load_entries(ws), key="run_suite"
    )
    with ws.prompts() as prompts:
        available = views.diff_versions(prompts, suite.prompt)
        if not available:
            st.error(f"Prompt `{suite.prompt}` has no version: add prompts/{suite.prompt}.prompt and commit it.")
            st.stop()
        defaults = {v.label for v in select_versions(suite, prompts)}
    labels = [f"{v.label} — {v.message}" if v.message else v.label for v in available]
    default_labels = [lab for lab, v in zip(labels, available, strict=True) if v.label in defaults]
    if st.session_state.get("_run_suite_shown") != suite.name:  # another suite: its defaults, not a stale choice
        for key in ("run_versions", "run_variants"):
            st.session_state.pop(key, None)
        st.session_state["_run_suite_shown"] = suite.name
    picked = st.multiselect("Versions", labels, default=default_labels, key="run_versions")
    variant_names = [v.name for v in suite.variants]
    variants = st.multiselect("Variants", variant_names, default=variant_names, key="run_variants")
    st.caption(f"Model: `{suite.model.get('backend', 'transformers')}` · {len(suite.cases)} cases · seed {suite.seed}")

    missing = [what for what, chosen in (("version", picked), ("variant", variants)) if not chosen]
    if missing:
        st.info(f"Pick at least one {' and one '.join(missing)} to start a run.")
    if st.button("Start run", type="primary", disabled=bool(missing), key="run_start"):
        chosen = [available[labels.index(lab)] for lab in picked]
        revisions = [v.commit or v.label for v in chosen]
        jobs.start(ws.workdir, ws.db, str(suite.path), revisions, variants)
        st.toast(f"Started a run of {suite.name} in the background.")

recent_jobs(ws)
