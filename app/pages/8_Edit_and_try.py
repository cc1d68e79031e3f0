"""Edit and try: edit a prompt, see its errors and rendered messages, try it beside the newest commit, commit it."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from _jobs import recent_jobs
from _votes import NAME
from _workbench import feedback_buttons, friendly_errors, load_entries, page, show_text, workspace

from promptarena import draft as drafts
from promptarena import jobs, views
from promptarena.gitstore import blob_sha

page("Edit and try", "✏️")
st.caption(
    "Edit a prompt, try the draft on the suite's cases beside the newest commit (in the background: you may leave "
    "the page), and save it as a commit of that file alone. Nothing is written into the repository until you save; "
    "the draft is kept under `.promptarena/drafts/` until you save or discard it."
)
ws = workspace()
if not drafts.edits_allowed():
    st.info(
        "Editing is off: this workbench listens on a network address, and this page writes and commits files. "
        "Start it with `evals ui` (it listens on 127.0.0.1) or `evals ui --allow-edits` to edit here."
    )
    st.stop()


def _editor_key(name: str) -> str:
    return f"draft_text:{name}"


def _set_draft(name: str, draft: drafts.Draft) -> None:
    """Show ``draft`` in the editor and keep it on disk (or forget it when it matches the file)."""
    st.session_state[f"_draft:{name}"] = draft
    st.session_state[_editor_key(name)] = draft.text
    if draft.edited:
        drafts.keep_draft(ws.workdir, draft)
    else:
        drafts.discard_draft(ws.workdir, name)
    st.session_state.pop(f"_conflict:{name}", None)


def _edited(name: str) -> None:
    draft: drafts.Draft = st.session_state[f"_draft:{name}"]
    _set_draft(name, drafts.Draft(name, st.session_state[_editor_key(name)], draft.disk, draft.opened))


def _open(name: str, rev: str) -> None:
    with ws.prompts() as prompts:
        _set_draft(name, drafts.open_draft(prompts, name, rev))


def _choose(name: str, text: str, disk: str | None) -> None:
    """After a conflict: the chosen text, now based on the file as it is on disk."""
    draft: drafts.Draft = st.session_state[f"_draft:{name}"]
    _set_draft(name, drafts.Draft(name, text, disk, draft.opened))


with friendly_errors():
    entries = load_entries(ws)
    with ws.prompts() as prompts:
        names = views.prompt_names(prompts)
        if not names:
            st.info("No prompts: add a `prompts/<name>.prompt` file to the repository.")
            st.stop()
        name = st.selectbox("Prompt", names, key="draft_prompt")
        if f"_draft:{name}" not in st.session_state:  # a new session (a reload, a new tab) finds the kept draft
            kept = drafts.load_draft(ws.workdir, name)
            _set_draft(name, kept or drafts.open_draft(prompts, name))
        draft: drafts.Draft = st.session_state[f"_draft:{name}"]
        if not draft.edited and draft.opened == "worktree":  # not edited here: follow the file on disk
            fresh = drafts.open_draft(prompts, name)
            if fresh.disk != draft.disk:
                _set_draft(name, fresh)
                draft = fresh
        revisions = ["worktree"] + [f"{v.label} — {v.message}" for v in prompts.log(name)]
        newest = drafts.newest_commit(prompts, name)
    suites = [e.suite for e in entries if e.suite is not None and e.suite.prompt == name]

    top = st.columns([3, 1, 1])
    picked = top[0].selectbox("Open the text of", revisions, key="draft_rev", help="Start from an older version")
    top[1].button("Open", on_click=_open, args=(name, picked.split(" — ")[0]), key="draft_open")
    top[2].button("Discard draft", on_click=_open, args=(name, "worktree"), key="draft_discard")
    if draft.edited:
        st.caption(f"Unsaved draft (started from {draft.opened}); it is kept until you save or discard it.")

    suite = None
    if suites:
        suite_names = [s.name for s in suites]
        suite = suites[suite_names.index(st.selectbox("Suite", suite_names, key="draft_suite"))]
    else:
        st.info(f"No suite under evals/ evaluates `{name}`: you can edit and save, but not try the draft.")

    edit_col, view_col = st.columns(2)
    with edit_col:
        text = st.text_area(
            "Front matter and template",
            key=_editor_key(name),
            height=420,
            on_change=_edited,
            args=(name,),
            help="The draft is checked as `evals run` checks it on every change.",
        )
    with ws.prompts() as prompts:
        problems = drafts.validate(prompts, name, text, suite)
    with view_col:
        st.caption("With line numbers")
        st.code(views.numbered(text, {p.line for p in problems if p.line}), language=None)
    for problem in problems:
        where = f"line {problem.line}: " if problem.line else ""
        st.error(f"{where}{problem.message}")

    if suite is not None and not problems:
        with ws.prompts() as prompts:
            for warning in drafts.warnings(prompts, name, text, suite):
                st.warning(warning)
        st.subheader("Messages for a case")
        case_ids = [c.id for c in suite.cases]
        case = suite.cases[case_ids.index(st.selectbox("Case", case_ids, key="draft_case"))]
        with ws.prompts() as prompts:
            messages = drafts.render_case(prompts, name, text, case)
        for message in messages:
            st.caption(message.role)
            show_text(message.content)

        st.subheader("Try the draft")
        kinds = {"first": "the first N", "sample": "N drawn with a seed", "wrong": "those the newest commit gets wrong"}
        kinds["all"] = "all"
        cols = st.columns([2, 1, 1])
        kind = cols[0].radio("Cases", list(kinds), format_func=kinds.get, key="draft_kind", horizontal=True)
        n = cols[1].number_input("N", min_value=1, value=min(10, len(suite.cases)), key="draft_n")
        seed = cols[2].number_input("Seed", min_value=0, value=0, key="draft_seed")
        variant_names = [v.name for v in suite.variants]
        variants = st.multiselect("Variants", variant_names, default=variant_names, key="draft_variants")
        selection = drafts.Selection(kind, int(n), int(seed))
        if st.button("Try the draft", type="primary", disabled=not variants, key="draft_try"):
            with ws.prompts() as prompts, ws.results() as results:
                wrong = drafts.wrong_cases(results, suite, newest.blob) if newest and kind == "wrong" else []
                drafts.select_cases(suite, selection, wrong)  # nothing to try is said here, not in a failed job
                version = drafts.draft_version(prompts, name, text)
            argv = jobs.try_argv(
                ws.workdir, ws.db, str(suite.path), f"{name}@{version.label}", str(selection), variants
            )
            jobs.launch(ws.workdir, suite.name, argv)
            st.toast(f"Trying {name}@{version.label} on {selection} cases of {suite.name} in the background.")
        recent_jobs(ws)

        blob = blob_sha(text.encode("utf-8"))
        if newest is not None and blob == newest.blob:
            st.caption(f"The draft is the text of the newest commit {newest.label}: edit it to compare.")
        elif newest is not None and ws.has_db:
            with ws.prompts() as prompts, ws.results() as results:
                compared = views.draft_comparisons(results, suite, prompts, blob, newest.blob)
                holistic = views.holistic_rows(results, suite.name, {"newest commit": newest.blob, "draft": blob})
            if compared:
                st.subheader(f"The draft beside the newest commit {newest.label}")
            for item in compared:
                st.markdown(f"**{item.draft.variant}**" + (f" on `{item.draft.model}`" if item.draft.model else ""))
                rows = views.metric_rows(item.comparison)
                st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
                shown = "" if len(item.differing) <= 10 else "; the 10 that differ most are shown"
                st.caption(f"{len(item.comparison.suite.cases)} cases tried; {len(item.differing)} differ{shown}.")
                for row in item.differing[:10]:
                    with st.container(border=True):
                        st.markdown(f"**Case** `{row.case_id}`")
                        ref_col, a_col, b_col = st.columns(3)
                        with ref_col:
                            st.caption("Reference")
                            show_text("\n".join(row.references) or "(no reference)")
                        sides = zip((a_col, b_col), (item.newest, item.draft), item.comparison.arms, strict=True)
                        for col, choice, arm in sides:
                            label = arm.arm.label
                            with col:
                                scores = ", ".join(f"{m} {v}" for m, v in row.scores[label].items())
                                st.caption(
                                    f"{'draft' if choice is item.draft else 'newest commit'} · {label} · {scores}"
                                )
                                show_text(row.outputs[label])
                                key = f"draft-fb-{label}-{row.case_id}"
                                feedback_buttons(ws, choice, row.case_id, row.outputs[label], key=key)
            if holistic:
                st.caption("Holistic dimensions")
                st.dataframe(pd.DataFrame(holistic), hide_index=True, width="stretch")

    st.subheader("Save")
    with ws.prompts() as prompts:
        state = drafts.repository_state(prompts)
    branch = None
    if state is not None:
        st.warning(state)
        if state.startswith("HEAD is detached"):
            branch = st.text_input("New branch to save on", key="draft_branch") or None
    message = st.text_input("Commit message", key="draft_message", placeholder=f"{name}: what changed and why")
    committed = newest is not None and draft.text == newest.text
    if st.button("Save and commit", disabled=committed or bool(problems), key="draft_save"):
        try:
            with ws.prompts() as prompts:
                sha = drafts.save_draft(prompts, draft, message, name=st.session_state.get(NAME), branch=branch)
        except drafts.DraftConflict as conflict:
            st.session_state[f"_conflict:{name}"] = conflict
        except drafts.SaveRefused as refused:
            st.error(str(refused))
            if refused.output:
                st.code(refused.output, language=None)
        else:
            st.session_state.pop(f"_draft:{name}", None)
            st.success(f"Committed {sha[:7]}: {message.strip().splitlines()[0]} (prompts/{name}.prompt only).")
    conflict = st.session_state.get(f"_conflict:{name}")
    if conflict is not None:
        st.error(str(conflict))
        merged = drafts.three_way(conflict.base, conflict.mine, conflict.theirs)
        st.caption("Your draft and the file on disk, merged from the text the draft was opened on")
        st.code(merged, language=None)
        cols = st.columns(3)
        choices = (("Keep my draft", conflict.mine), ("Take the file on disk", conflict.theirs or ""))
        for col, (label, chosen) in zip(cols, (*choices, ("Edit the merged text", merged)), strict=True):
            col.button(label, on_click=_choose, args=(name, chosen, conflict.theirs), key=f"draft_choose:{label}")
