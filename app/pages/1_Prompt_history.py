"""Prompt history: a prompt's commits with their scores, and the diff of any two versions side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from _drops import show_drops
from _workbench import friendly_errors, load_entries, page, show_text, workspace

from promptarena import feedback, views

page("Prompt history", "📜")
ws = workspace()

_COLORS = {"replace": "#fff5b1", "delete": "#ffdce0", "insert": "#dcffe4"}


def diff_frame(rows: list[views.DiffRow], left: str, right: str) -> pd.io.formats.style.Styler:
    """The aligned lines as a table, changed lines tinted (text cells only, never HTML)."""
    frame = pd.DataFrame(
        {
            "#": [r.left_no for r in rows],
            left: [r.left for r in rows],
            "# ": [r.right_no for r in rows],
            right: [r.right for r in rows],
        }
    )
    tags = [r.tag for r in rows]

    def tint(row: pd.Series) -> list[str]:
        color = _COLORS.get(tags[row.name])
        return [f"background-color: {color}" if color else ""] * len(row)

    return frame.style.apply(tint, axis=1).format(na_rep="", precision=0)


def version_label(v) -> str:  # noqa: ANN001 - a PromptVersion
    if v.commit is None:
        return "worktree (uncommitted edits)"
    return f"{v.label} — {v.message or ''} ({(v.date or '')[:10]})"


with friendly_errors():
    entries = load_entries(ws)
    with ws.prompts() as store:
        names = views.prompt_names(store, entries)
        if not names:
            st.info("No prompts: add a `prompts/NAME.prompt` file to the repository and commit it.")
            st.stop()
        prompt = st.selectbox("Prompt", names, key="history_prompt")
        cells: list[views.OverviewCell] = []
        if ws.has_db:
            with ws.results() as results:
                cells = views.with_feedback(views.overview(results), feedback.thumbs_up_shares(results))
        rows = views.commit_rows(store, prompt, cells)
        if prompt not in store.list_prompts():
            st.warning(
                f"`{prompt}` is not in the worktree or at HEAD any more (deleted or renamed); its history is shown."
            )
        if not rows:
            st.info(f"`{prompt}` has no committed versions and no file in the worktree.")
            st.stop()

        st.subheader("Commits")
        table = pd.DataFrame(
            [
                {
                    "version": r.version.label,
                    "message": r.version.message or ("uncommitted edits" if r.version.commit is None else ""),
                    "author": r.version.author or "",
                    "date": (r.version.date or "")[:19].replace("T", " "),
                    **r.scores,
                }
                for r in rows
            ]
        )
        score_columns = [c for c in table.columns if " · " in c]
        config = {c: st.column_config.NumberColumn(c, format="%.3f") for c in score_columns}
        st.dataframe(table, hide_index=True, width="stretch", column_config=config)
        if not score_columns:
            st.caption("No stored scores for this prompt yet: run a suite that uses it.")
        show_drops(ws, store, prompt, entries)

        st.subheader("Diff")
        versions = [r.version for r in rows]
        if len(versions) < 2:
            st.info("Only one version so far: commit an edit (or edit the file) to compare two versions.")
            show_text(versions[0].text)
            st.stop()
        labels = [version_label(v) for v in versions]
        col_a, col_b = st.columns(2)
        a = col_a.selectbox("From (older)", labels, index=1, key="diff_a")
        b = col_b.selectbox("To (newer)", labels, index=0, key="diff_b")
        va, vb = versions[labels.index(a)], versions[labels.index(b)]
        if va.blob == vb.blob:
            st.info("The two versions have the same text.")
        else:
            side = views.side_by_side(va.text, vb.text)
            numbers = {c: st.column_config.NumberColumn(c, width="small") for c in ("#", "# ")}
            st.dataframe(
                diff_frame(side, va.label, vb.label),
                hide_index=True,
                width="stretch",
                height=min(35 * (len(side) + 1) + 3, 640),
                column_config=numbers,
            )
            with st.expander("Unified diff"):
                st.code(store.diff(va, vb), language="diff")
