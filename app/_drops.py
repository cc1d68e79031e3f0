"""The prompt history's "dropped here" marks: where a stored score fell significantly below the commit before it."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from promptarena import report, views
from promptarena.gitstore import PromptStore


def show_drops(ws: views.Workspace, prompts: PromptStore, prompt: str, entries: list[views.SuiteEntry]) -> None:
    """A table marking, per suite, variant and gated metric, the first commit whose stored score dropped.

    Stored runs only, nothing is generated; `evals bisect` finds the commit among those never evaluated.
    """
    if not ws.has_db:
        return
    with ws.results() as results:
        drops = views.score_drops(results, prompts, prompt, entries)
    if not drops:
        return
    st.subheader("Where a score dropped")
    table = pd.DataFrame(
        [
            {
                "": "⚠ dropped here",
                "version": d.version,
                "message": d.message or "",
                "suite": d.suite,
                "variant": d.series,
                "metric": d.metric,
                "before → after": f"{d.comparison.mean_a:.2f} ({d.before}) → {d.comparison.mean_b:.2f}",
                "p": report.fmt_p(d.comparison.p_value),
            }
            for d in drops
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(
        "Each marked commit is significantly worse (paired per case) than the stored version before it. Commits "
        "without stored runs in between: `evals bisect SUITE --good OLDER --bad MARKED` finds the first bad one."
    )
