"""Helpers shared by the workbench pages: where the data is, safe text, feedback buttons, friendly errors.

Model output is only ever drawn with ``st.code`` or inside dataframes, both of which show text literally;
nothing here passes model text to markdown or HTML.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import streamlit as st
from _jobs import sidebar_runs

from promptarena import feedback
from promptarena.errors import PromptArenaError
from promptarena.views import ArmChoice, SuiteEntry, Workspace, suite_entries


def page(title: str, icon: str) -> None:
    """Page config and title, shared by every page."""
    st.set_page_config(page_title=f"{title} · promptarena", page_icon=icon, layout="wide")
    st.title(f"{icon} {title}")


def workspace() -> Workspace:
    """The repository and database from ``evals ui`` (environment), or stop the page with the reason."""
    try:
        ws = Workspace.from_env()
    except PromptArenaError as err:
        st.error(f"Cannot open the prompt repository: {err}")
        st.stop()
    with st.sidebar:
        st.caption("Repository")
        st.code(str(ws.repo), language=None, wrap_lines=True)
        st.caption("Results database")
        st.code(str(ws.db), language=None, wrap_lines=True)
        name = st.text_input(
            "Your name (optional, stored with feedback)", key="feedback_name", help="Saved with each thumbs up/down."
        )
        st.session_state["_feedback_name"] = name
    sidebar_runs(ws)
    return ws


def require_db(ws: Workspace) -> None:
    """Stop with a helpful message when there is no results database yet."""
    if not ws.has_db:
        st.info(
            f"No results yet: the database {ws.db} does not exist. Evaluate a suite with `evals run` "
            "in the repository, or start one on the **Start a run** page."
        )
        st.stop()


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Show configuration and database problems as one message instead of a traceback."""
    try:
        yield
    except PromptArenaError as err:
        st.error(str(err))


def pick_suite(ws: Workspace, entries: list[SuiteEntry] | None = None, key: str = "suite") -> SuiteEntry | None:
    """A suite selector over suite files and suites with stored runs; None (with a message) when there are none."""
    if entries is None:
        entries = load_entries(ws)
    if not entries:
        st.info("No suites: add an `evals/*.yaml` file to the repository, then run it.")
        return None
    names = [e.name for e in entries]
    name = st.selectbox("Suite", names, key=key)
    entry = entries[names.index(name)]
    if entry.error:
        st.warning(f"The suite file does not load: {entry.error}")
    return entry


def load_entries(ws: Workspace) -> list[SuiteEntry]:
    """Suite files and suites with stored runs (without creating the database)."""
    if not ws.has_db:
        return suite_entries(ws.workdir, None)
    with ws.results() as results:
        return suite_entries(ws.workdir, results)


def show_text(text: str | None, key: str | None = None) -> None:
    """Model or prompt text, shown literally (never as markdown or HTML)."""
    st.code(text if text is not None else "", language=None, wrap_lines=True)


def arm_label(choice: ArmChoice) -> str:
    """``abc1234:cot — commit message`` for selectors."""
    message = f" — {choice.message}" if choice.message else ""
    return f"{choice.label}{message}"


def feedback_buttons(ws: Workspace, choice: ArmChoice, case_id: str, output: str, key: str) -> None:
    """Thumbs up/down and an optional comment on one output, stored at once with the optional name."""
    cols = st.columns([1, 1, 4])
    comment = cols[2].text_input(
        "Comment", key=f"{key}-comment", placeholder="optional comment", label_visibility="collapsed"
    )
    for col, up, label in ((cols[0], True, "👍"), (cols[1], False, "👎")):
        if col.button(label, key=f"{key}-{'up' if up else 'down'}", help="Good output" if up else "Bad output"):
            with ws.results() as results:
                feedback.record(
                    results,
                    suite=choice.suite,
                    prompt=choice.prompt,
                    blob=choice.blob,
                    variant=choice.variant,
                    case_id=case_id,
                    output=output,
                    thumbs_up=up,
                    comment=comment,
                    name=st.session_state.get("_feedback_name") or None,
                )
            st.toast("Feedback saved: " + ("thumbs up" if up else "thumbs down"))
