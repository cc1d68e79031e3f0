"""Helpers shared by the workbench pages: where the data is, safe text, feedback buttons, friendly errors.

Model output is only ever drawn with ``st.code`` or inside dataframes, both of which show text literally;
nothing here passes model text to markdown or HTML.
"""

from __future__ import annotations

import contextlib
import uuid
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
        st.session_state["feedback_name"] = st.session_state.get(NAME, "")  # the widget's value is dropped off-page
        st.text_input(
            "Your name (optional, stored with feedback)",
            key="feedback_name",
            help="One vote per person per output: with your name it is yours in every browser tab.",
            on_change=_keep_name,
        )
    sidebar_runs(ws)
    return ws


def _keep_name() -> None:
    """Copy the typed name to a key no widget owns, so every page's name box starts with it."""
    st.session_state[NAME] = st.session_state["feedback_name"]


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
    """Thumbs up/down on one output, one vote per person: the person's vote shows pressed, a second click on it
    withdraws it, the other thumb changes it; the optional comment goes with the vote, comments are listed below."""
    with ws.results() as results:
        here = feedback.votes(results, choice.suite, choice.blob, choice.variant, case_id, output=output)
    mine = next((v for v in here if v.voter == voter()), None)
    cols = st.columns([1, 1, 4])
    for col, up in ((cols[0], True), (cols[1], False)):
        col.button(
            THUMB[up],
            key=f"{key}-{'up' if up else 'down'}",
            help=f"{'thumbs up' if up else 'thumbs down'} for output of arm {choice.label}, case {case_id}",
            type="primary" if mine is not None and mine.thumbs_up == up else "secondary",
            on_click=_vote,
            args=(ws, choice, case_id, output, up, key),
        )
    cols[2].text_input("Comment", key=f"{key}-comment", placeholder="optional comment", label_visibility="collapsed")
    if here:
        ups = sum(v.thumbs_up for v in here)
        st.caption(f"Votes on this output: {THUMB[True]} {ups} · {THUMB[False]} {len(here) - ups}")
    for vote in here:
        if vote.comment:
            st.text(f"💬 {vote.name or 'anonymous'}: {vote.comment}")


NAME = "_feedback_name"
THUMB = {True: "👍", False: "👎"}
SAID = {"cast": "saved", "changed": "changed", "withdrawn": "withdrawn"}


def voter() -> str:
    """Who votes: the name in the sidebar, else an id of this browser session.

    The id lives in ``st.session_state``: it holds across the pages of one browser tab, and a reload or a new tab
    is a new session; a name is the same person everywhere.
    """
    anonymous = st.session_state.setdefault("_voter", f"{feedback.ANONYMOUS}:{uuid.uuid4().hex[:16]}")
    return feedback.voter_id(st.session_state.get(NAME)) or anonymous


def _vote(ws: Workspace, choice: ArmChoice, case_id: str, output: str, up: bool, key: str) -> None:
    """Cast, change or withdraw this person's vote before the page is drawn again, so it shows the new state."""
    try:
        with ws.results() as results:
            outcome = feedback.record(
                results,
                suite=choice.suite,
                prompt=choice.prompt,
                blob=choice.blob,
                variant=choice.variant,
                case_id=case_id,
                output=output,
                thumbs_up=up,
                comment=st.session_state.get(f"{key}-comment"),
                name=st.session_state.get(NAME),
                voter=voter(),
            )
    except PromptArenaError as err:
        st.error(str(err))
        return
    st.session_state[f"{key}-comment"] = ""
    st.toast(f"Vote {SAID[outcome]}: " + ("thumbs up" if up else "thumbs down"))
