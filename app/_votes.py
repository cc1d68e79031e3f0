"""People's votes in the workbench: who votes (a name, or this browser, kept in cookies), the thumbs under each
output with their accessible names and pressed state, and comments edited on their own."""

from __future__ import annotations

import uuid

import streamlit as st
from _browser import _js, _script, accessible, md

from promptarena import feedback
from promptarena.errors import PromptArenaError
from promptarena.feedback import Vote
from promptarena.store import ResultsStore
from promptarena.views import ArmChoice, Workspace


def voter_box() -> None:
    """The sidebar's name box and who is voting; a new tab or a reload starts with the name this browser used."""
    if NAME not in st.session_state:
        st.session_state[NAME] = _cookie(NAME_COOKIE)
    st.session_state["feedback_name"] = st.session_state.get(NAME, "")  # the widget's value is dropped off-page
    st.text_input(
        "Your name (optional, stored with feedback)",
        key="feedback_name",
        help="One vote per person per output: with your name it is yours in every browser tab. This browser "
        "remembers it (a cookie), and the votes of this browser without a name are one voter too.",
        on_change=_keep_name,
    )
    name = (st.session_state.get(NAME) or "").strip()
    st.caption(f"Voting as **{md(name)}**" if name else "Voting as this browser, without a name")
    _remember_voter()


def _cookie(name: str) -> str:
    """A cookie the browser sent when this session opened (URL-encoded by ``_remember_voter``); '' if none."""
    from urllib.parse import unquote

    try:
        value = st.context.cookies.get(name)
    except Exception:  # noqa: BLE001 - no browser behind the session (a test's AppTest): no cookies
        return ""
    return unquote(value) if isinstance(value, str) else ""


def _remember_voter() -> None:
    """Keep who votes in this browser's cookies (a year), so a reload or a new tab is the same voter: the typed name,
    and the id that stands for this browser while no name is typed."""
    wanted = {NAME_COOKIE: st.session_state.get(NAME) or "", VOTER_COOKIE: voter_id()}
    if st.session_state.get("_cookies") == wanted:
        return
    st.session_state["_cookies"] = wanted
    _script(
        "for (const [name, value] of Object.entries(" + _js(wanted) + ")) {\n"
        "  document.cookie = `${name}=${encodeURIComponent(value)}; path=/; max-age=31536000; SameSite=Lax`;\n"
        "}"
    )


def _keep_name() -> None:
    """Copy the typed name to a key no widget owns, so every page's name box starts with it."""
    st.session_state[NAME] = st.session_state["feedback_name"]


def suite_votes(ws: Workspace, suite: str) -> dict[tuple[str, str, str, str], list[Vote]]:
    """A suite's votes by (blob, variant, case, output hash), newest first, cached until the database changes:
    a page draws a vote's buttons under every output it shows, from one read of the database."""
    return _votes(ws, str(ws.db), suite, ws.data_version())


@st.cache_data(show_spinner=False, max_entries=32)
def _votes(_ws: Workspace, db: str, suite: str, data: tuple[int, ...]) -> dict[tuple[str, str, str, str], list[Vote]]:
    if not _ws.has_db:
        return {}
    grouped: dict[tuple[str, str, str, str], list[Vote]] = {}
    with _ws.results() as results:
        for vote in feedback.votes(results, suite):
            grouped.setdefault((vote.blob, vote.variant, vote.case_id, vote.output_hash), []).append(vote)
    return grouped


def feedback_buttons(
    ws: Workspace, choice: ArmChoice, case_id: str, output: str, key: str, hints: dict[str, str] | None = None
) -> None:
    """Thumbs up/down on one output, one vote per person: the person's vote shows pressed (``aria-pressed``), a
    second click on it withdraws it, the other thumb changes it. The comment box holds your comment: typed before a
    vote it goes with the vote; with a vote, **Save comment** (or a click on your pressed thumb with a new comment)
    edits it and **Delete comment** removes it, the vote kept. ``hints`` (``up``, ``down``, ``comment``) adds each
    one's keyboard shortcut to its label."""
    digest = feedback.output_hash(output)
    here = suite_votes(ws, choice.suite).get((choice.blob, choice.variant, case_id, digest), [])
    mine = next((v for v in here if v.voter == voter()), None)
    box = f"{key}-comment"
    shown = (choice.blob, choice.variant, case_id, digest, voter(), mine.comment if mine else None)
    if st.session_state.get(f"{key}-shown") != shown:  # another output, or your stored comment changed
        st.session_state[f"{key}-shown"] = shown
        st.session_state[box] = (mine.comment or "") if mine else ""
    what = f"output of arm {choice.label}, case {case_id}"
    cols = st.columns([1, 1, 4])
    names: dict[str, tuple[str, bool]] = {}
    for col, up in ((cols[0], True), (cols[1], False)):
        side = "up" if up else "down"
        pressed = mine is not None and mine.thumbs_up == up
        col.button(
            THUMB[up] + (f" {hints[side]}" if hints else ""),
            key=f"{key}-{side}",
            help=f"thumbs {side} for {what}",
            type="primary" if pressed else "secondary",
            on_click=_vote,
            args=(ws, choice, case_id, output, up, key),
        )
        names[f"{key}-{side}"] = (f"Thumbs {side} for {what}" + (": your vote" if pressed else ""), pressed)
    placeholder = ("your comment" if mine else "optional comment") + (f" {hints['comment']}" if hints else "")
    cols[2].text_input(f"Comment on {what}", key=box, placeholder=placeholder, label_visibility="collapsed")
    if mine is not None:
        save, delete, _ = st.columns([1, 1, 2])
        save.button("Save comment", key=f"{key}-save", on_click=_comment, args=(ws, choice, case_id, output, key))
        if mine.comment:
            delete.button(
                "Delete comment", key=f"{key}-delete", on_click=_comment, args=(ws, choice, case_id, output, key, True)
            )
    accessible(names)
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
    """Who votes: the name in the sidebar, else an id of this browser.

    The id is kept in a cookie (as the name is): it holds across the pages, tabs and reloads of one browser; a
    name is the same person in every browser.
    """
    return feedback.voter_id(st.session_state.get(NAME)) or voter_id()


def voter_id() -> str:
    """The id that stands for this browser while no name is typed: from its cookie, else a new one."""
    if "_voter" not in st.session_state:
        kept = _cookie(VOTER_COOKIE)
        fresh = f"{feedback.ANONYMOUS}:{uuid.uuid4().hex[:16]}"
        st.session_state["_voter"] = kept if kept.startswith(f"{feedback.ANONYMOUS}:") else fresh
    return st.session_state["_voter"]


NAME_COOKIE, VOTER_COOKIE = "promptarena_name", "promptarena_voter"


def _vote(ws: Workspace, choice: ArmChoice, case_id: str, output: str, up: bool, key: str) -> None:
    """Cast, change or withdraw this person's vote before the page is drawn again, so it shows the new state; a
    click on your pressed thumb with a new comment in the box saves the comment instead of withdrawing the vote."""
    typed = (st.session_state.get(f"{key}-comment") or "").strip()
    try:
        with ws.results() as results:
            mine = next(
                (v for v in feedback.votes(results, choice.suite, choice.blob, choice.variant, case_id, output)
                 if v.voter == voter()),
                None,
            )  # fmt: skip
            if mine is not None and mine.thumbs_up == up and typed and typed != (mine.comment or ""):
                _save_comment(results, choice, case_id, output, typed)
                return
            outcome = feedback.record(
                results,
                suite=choice.suite,
                prompt=choice.prompt,
                blob=choice.blob,
                variant=choice.variant,
                case_id=case_id,
                output=output,
                thumbs_up=up,
                comment=typed,
                name=st.session_state.get(NAME),
                voter=voter(),
            )
    except PromptArenaError as err:
        st.error(str(err))
        return
    st.toast(f"Vote {SAID[outcome]}: " + ("thumbs up" if up else "thumbs down"))


def _comment(ws: Workspace, choice: ArmChoice, case_id: str, output: str, key: str, delete: bool = False) -> None:
    """Save the comment box as this person's comment on their vote (an empty box, or ``delete``, removes it)."""
    typed = "" if delete else (st.session_state.get(f"{key}-comment") or "")
    try:
        with ws.results() as results:
            _save_comment(results, choice, case_id, output, typed)
    except PromptArenaError as err:
        st.error(str(err))


def _save_comment(results: ResultsStore, choice: ArmChoice, case_id: str, output: str, typed: str) -> None:
    """Write this person's comment, and say what happened."""
    where = dict(suite=choice.suite, blob=choice.blob, variant=choice.variant, case_id=case_id, output=output)
    if feedback.comment(results, **where, voter=voter(), comment=typed):
        st.toast("Comment saved" if typed.strip() else "Comment deleted")
    else:
        st.toast("Vote first: a comment goes with your vote")
