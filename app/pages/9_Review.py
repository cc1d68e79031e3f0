"""Review: the outputs of an arm (or two) that no one, or not you, has voted on yet, one at a time, by keyboard."""

from __future__ import annotations

import streamlit as st
from _workbench import (
    arm_choices,
    arm_label,
    feedback_buttons,
    friendly_errors,
    md,
    page,
    pick_suite,
    require_db,
    require_results,
    shortcuts,
    show_diff,
    show_sent,
    show_text,
    url_select,
    voter,
    workspace,
)

from promptarena import views
from promptarena.report import fmt_number

page("Review", "🗳️")
st.caption(
    "One output at a time, from the outputs nobody has voted on yet (or that you have not). A vote takes it off "
    "the queue for everyone who reviews the same way, so two reviewers split the work by picking two seeds."
)
ws = workspace()

NOBODY, NOT_ME = "nobody has voted on", "you have not voted on"
ALONE = "(none: this arm alone)"
KEYS = {"up": "u", "down": "d", "comment": "c", "skip": "n", "back": "p"}


@st.cache_data(show_spinner=False, max_entries=16)
def load_queue(
    _ws: views.Workspace, db: str, data: tuple[int, ...], chosen: tuple[views.ArmChoice, ...], order: str, metric: str,
    seed: int,
) -> list[views.QueueItem]:  # fmt: skip
    """The queue's items, read again whenever the database changes (a vote here or anywhere)."""
    with _ws.results() as results:
        return views.review_queue(results, chosen, order=order, metric=metric or None, seed=seed)


def item_id(item: views.QueueItem) -> str:
    c = item.choice
    return f"{c.blob}|{c.variant}|{c.model}|{item.case_id}"


def skip(current: str) -> None:
    st.session_state.setdefault("review_skipped", []).append(current)


def back() -> None:
    skipped = st.session_state.get("review_skipped") or []
    if skipped:
        skipped.pop()


def show_item(entry: views.SuiteEntry, item: views.QueueItem) -> None:
    """The case's variables and references, the output with its vote buttons, the other arm's output with the words
    that differ, and what the model saw."""
    choice = item.choice
    st.text(f"Case {item.case_id} · arm {choice.label}")
    scores = " · ".join(f"{m} {fmt_number(v)}" for m, v in item.scores.items())
    st.caption(f"{scores} · disagreement {item.disagreement:.2f}")
    case = next((c for c in entry.suite.cases if c.id == item.case_id), None) if entry.suite else None
    left, right = st.columns(2)
    with left:
        st.caption("Variables")
        if case is not None:
            st.json(case.vars, expanded=True)
        else:
            st.caption("This case is no longer in the suite file.")
        st.caption("Reference")
        show_text("\n".join(case.references) if case is not None and case.references else "(no reference)")
    with right:
        st.caption(f"Output · {md(choice.label)}")
        show_text(item.output)
        hints = {name: f"({KEYS[name]})" for name in ("up", "down", "comment")}
        feedback_buttons(ws, choice, item.case_id, item.output, key="queue", hints=hints)
        if item.other is not None and item.other_output is not None:
            st.caption(f"Beside it · {md(item.other.label)}")
            show_text(item.other_output)
            st.caption(f"Words that differ from {md(item.other.label)} (struck out) to {md(choice.label)} (underlined)")
            show_diff(item.other_output, item.output)
    show_sent(ws, choice, item.case_id, expanded=True)


with friendly_errors():
    require_db(ws)
    entry = pick_suite(ws, key="review_suite", resets=("review_arm", "review_other", "review_metric"))
    choices = arm_choices(ws, entry.name)
    require_results(entry.name, choices)
    labels = [arm_label(c) for c in choices]
    col_arm, col_other = st.columns(2)
    arm = url_select("Arm", labels, "review_arm", "arm", where=col_arm)
    other = url_select("Beside it (optional)", [ALONE, *labels], "review_other", "arm", where=col_other)
    col_order, col_metric, col_who, col_seed = st.columns(4)
    order = url_select("Order", list(views.ORDERS), "review_order", "order", where=col_order)
    metric = url_select("Metric", entry.metrics, "review_metric", "metric", where=col_metric) if entry.metrics else ""
    who = url_select("Outputs that", [NOBODY, NOT_ME], "review_who", "choice", where=col_who)
    linked = st.query_params.get("review_seed", "")
    if linked.isdigit() and linked != st.session_state.get("_review_seed_url"):  # a link or Back: its seed
        st.session_state["review_seed"] = int(linked)
    seed = int(col_seed.number_input("Seed", min_value=0, step=1, key="review_seed", disabled=order != "random"))
    st.session_state["_review_seed_url"] = str(seed) if seed else ""
    if seed and linked != str(seed):
        st.query_params["review_seed"] = str(seed)
    elif not seed and linked:
        del st.query_params["review_seed"]
    st.caption(f"Order: {views.ORDERS[order]}.")
    chosen = [choices[labels.index(arm)]]
    if other != ALONE and other != arm:
        chosen.append(choices[labels.index(other)])
    items = load_queue(ws, str(ws.db), ws.data_version(), tuple(chosen), order, metric, seed)
    left = views.pending(items, voter() if who == NOT_ME else None)
    skipped = st.session_state.setdefault("review_skipped", [])
    ahead = [item for item in left if item_id(item) not in skipped]
    st.progress(
        (len(items) - len(left)) / len(items) if items else 1.0,
        text=f"{len(left)} of {len(items)} outputs left to review"
        + (f" ({len(left) - len(ahead)} skipped)" if len(ahead) < len(left) else ""),
    )
    st.caption(
        f"Keys: **{KEYS['up']}** 👍 · **{KEYS['down']}** 👎 (a vote moves on) · **{KEYS['comment']}** write a comment "
        f"that goes with your vote (Esc leaves the box) · **{KEYS['skip']}** skip · **{KEYS['back']}** back to the "
        "last one skipped"
    )
    shortcuts({KEYS["up"]: "queue-up", KEYS["down"]: "queue-down", KEYS["comment"]: "queue-comment",
               KEYS["skip"]: "queue-skip", KEYS["back"]: "queue-back"})  # fmt: skip
    current = ahead[0] if ahead else None
    nav_skip, nav_back, _ = st.columns([1, 1, 4])
    nav_skip.button(
        f"Skip ({KEYS['skip']})", key="queue-skip", disabled=current is None, on_click=skip,
        args=(item_id(current) if current else "",), help="Move on without voting; it stays in the queue",
    )  # fmt: skip
    nav_back.button(
        f"Back ({KEYS['back']})", key="queue-back", disabled=not skipped, on_click=back,
        help="Back to the last output you skipped",
    )  # fmt: skip
    if current is not None:
        with st.container(border=True):
            show_item(entry, current)
    elif left:
        st.info(f"You skipped the {len(left)} outputs left: **Back** shows them again.")
    else:
        st.success(
            "Nothing left to review here: every output has a vote."
            if who == NOBODY
            else "You voted on every output here."
        )
