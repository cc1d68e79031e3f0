"""Prompt history: a prompt's commits with their scores, and the diff of any two versions side by side."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from _drops import show_drops
from _workbench import (
    forget,
    friendly_errors,
    load_entries,
    md,
    page,
    show_side_by_side,
    show_text,
    url_select,
    workspace,
)

from promptarena import views

page("Prompt history", "📜")
ws = workspace()


def subject(message: str | None, width: int = 72) -> str:
    """A commit message's first line, clipped to ``width`` characters, so that long messages leave room for scores."""
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    return first if len(first) <= width else first[: width - 1] + "…"


def version_label(v) -> str:  # noqa: ANN001 - a PromptVersion
    if v.commit is None:
        return "worktree (uncommitted edits)"
    return f"{v.label} — {subject(v.message, 60)} ({(v.date or '')[:10]})"


with friendly_errors():
    entries = load_entries(ws)
    with ws.prompts() as prompts:
        names = views.prompt_names(prompts, entries)
        if not names:
            st.info("No prompts: add a `prompts/NAME.prompt` file to the repository and commit it.")
            st.stop()
        prompt = url_select("Prompt", names, "history_prompt", "prompt", on_change=forget("diff_a", "diff_b"))
        cells: list[views.OverviewCell] = []
        if ws.has_db:
            with ws.results() as results:
                cells = views.overview(results)
        rows = views.commit_rows(prompts, prompt, cells)
        if prompt not in prompts.list_prompts():
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
                    "message": subject(r.version.message) or ("uncommitted edits" if r.version.commit is None else ""),
                    "author": r.version.author or "",
                    "date": (r.version.date or "")[:19].replace("T", " "),
                    **r.scores,
                }
                for r in rows
            ]
        )
        score_columns = [c for c in table.columns if " · " in c]
        config = {c: st.column_config.NumberColumn(c, format="%.3f") for c in score_columns}
        config["message"] = st.column_config.TextColumn("message", width="medium", help="The subject line")
        config["version"] = st.column_config.TextColumn("version", pinned=True)
        st.dataframe(table, hide_index=True, width="stretch", column_config=config)
        long = [r.version for r in rows if (r.version.message or "").strip() != subject(r.version.message)]
        if long:
            with st.expander(f"Full commit messages ({len(long)})"):
                for v in long:
                    st.caption(f"{md(v.label)} · {md(v.author)}")
                    show_text(v.message)
        if not score_columns:
            st.caption("No stored scores for this prompt yet: run a suite that uses it.")
        show_drops(ws, prompts, prompt, entries)

        st.subheader("Diff")
        versions = [r.version for r in rows]
        if len(versions) < 2:
            st.info("Only one version so far: commit an edit (or edit the file) to compare two versions.")
            show_text(versions[0].text)
            st.stop()
        labels = [version_label(v) for v in versions]
        col_a, col_b = st.columns(2)
        a = url_select("From (older)", labels, "diff_a", "version", index=1, where=col_a)
        b = url_select("To (newer)", labels, "diff_b", "version", index=0, where=col_b)
        va, vb = versions[labels.index(a)], versions[labels.index(b)]
        if va.blob == vb.blob:
            st.info("The two versions have the same text.")
        else:
            show_side_by_side(views.side_by_side(va.text, vb.text), va.label, vb.label)
            with st.expander("Unified diff"):
                st.code(prompts.diff(va, vb), language="diff")
