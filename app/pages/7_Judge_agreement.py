"""Judge agreement: how far each pass/fail metric (a rubric judge, a scorer, exact match) agrees with people's
👍/👎 on the same outputs, or with another judge, per arm; and the outputs on which they disagree, with the judge's
reason beside the votes."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from _workbench import (
    THUMB,
    arm_choices,
    arm_label,
    case_heading,
    feedback_buttons,
    forget,
    friendly_errors,
    page,
    pick_suite,
    require_db,
    show_text,
    url_select,
    workspace,
)

from promptarena import views
from promptarena.agreement import PEOPLE, ArmAgreement
from promptarena.report import agreement_note, fmt_confidence, fmt_kappa, fmt_number, rater_name

page("Judge agreement", "🧑‍⚖️")
st.caption(
    "A judge nobody has checked against people is a guess with a number on it. Each row pairs the judge's verdict "
    "on an arm's outputs (its latest completed run) with people's: the majority of the votes cast on that very "
    "output (an even split is left out, as a tie). Cohen's κ is the agreement beyond chance, with its asymptotic "
    "95% interval; ✓✗ counts outputs the judge passed and B failed."
)
ws = workspace()
PEOPLE_LABEL = "people (👍/👎)"


def load_rows(choices: list[views.ArmChoice], a: str, b: str) -> list[tuple[views.ArmChoice, ArmAgreement]]:
    """Each arm's agreement of ``a`` and ``b``, cached until the database changes (a run, a vote)."""
    keys = tuple((c.suite, c.run_id, c.blob, c.variant, c.model) for c in choices)
    return _rows(ws, choices, str(ws.db), keys, a, b, ws.data_version())


@st.cache_data(show_spinner=False, max_entries=32)
def _rows(
    _ws: views.Workspace,
    _choices: list[views.ArmChoice],
    db: str,
    keys: tuple[tuple[str, ...], ...],
    a: str,
    b: str,
    data: tuple[int, ...],
) -> list[tuple[views.ArmChoice, ArmAgreement]]:
    with _ws.results() as results:
        return views.agreement_rows(results, _choices, a, b)


def table(rows: list[tuple[views.ArmChoice, ArmAgreement]]) -> pd.DataFrame:
    """One row per arm: outputs both judged, raw agreement, kappa with its interval, the confusion counts, why not."""
    level = fmt_confidence(rows[0][1].agreement.confidence) if rows else "95%"
    return pd.DataFrame(
        [
            {
                "arm": arm_label(choice),
                "outputs": r.agreement.n,
                "agree": fmt_number(r.agreement.observed, ".2f"),
                f"κ [{level} CI]": fmt_kappa(r.agreement),
                "✓✓": r.agreement.both_pass,
                "✓✗": r.agreement.only_a,
                "✗✓": r.agreement.only_b,
                "✗✗": r.agreement.both_fail,
                "ties": r.ties,
                "note": agreement_note(r.agreement, r.a, r.b, r.ties) or "",
            }
            for choice, r in rows
        ]
    )


def verdict(passed: bool, score: float | None) -> str:
    return ("✓ pass" if passed else "✗ fail") + (f" (score {fmt_number(score, '.2f')})" if score is not None else "")


def show_disagreement(choice: views.ArmChoice, d: views.Disagreement, a: str, b: str) -> None:
    """One output: the case, each side's verdict with its reason (the judge's words, or the votes), the output."""
    with st.container(border=True):
        case_heading(f"**Case** `{d.case_id.replace('`', '')}`", choice.suite, d.case_id, arm_label(choice))
        columns = st.columns(2)
        for column, rater, passed, score, reason in (
            (columns[0], a, d.a_passed, d.a_score, d.a_reason),
            (columns[1], b, d.b_passed, d.b_score, d.b_reason),
        ):
            with column:
                st.caption(f"{rater_name(rater)}: {verdict(passed, score)}")
                if rater == PEOPLE:
                    votes = pd.DataFrame(
                        [
                            {"voter": v.name or "anonymous", "vote": THUMB[v.thumbs_up], "comment": v.comment or ""}
                            for v in d.votes
                        ]
                    )
                    st.dataframe(votes, hide_index=True, width="stretch")
                else:
                    show_text(reason or "(no reason given)")
        st.caption("Output")
        show_text(d.output)
        feedback_buttons(ws, choice, d.case_id, d.output, key=f"agree-{choice.blob}-{choice.variant}-{d.case_id}")


with friendly_errors():
    require_db(ws)
    entry = pick_suite(ws, key="agree_suite", resets=("agree_judge", "agree_against", "agree_arm"))
    choices = arm_choices(ws, entry.name)
    if not choices:
        st.info(f"No completed runs of suite `{entry.name}` yet: run it with `evals run {entry.name}`.")
        st.stop()
    with ws.results() as results:
        judges = views.raters(results, entry.suite, choices)
    if not judges:
        st.info(
            f"Suite `{entry.name}` has no pass/fail metric to check against people: add one (a rubric judge on a "
            'pass/fail scale, a scorer declared `kind="binary"`, exact_match, ...) to its metrics.'
        )
        st.stop()
    left, right = st.columns(2)
    judge = url_select("Judge (A)", judges, "agree_judge", "judge", where=left, on_change=forget("agree_against"))
    others = [PEOPLE_LABEL, *(j for j in judges if j != judge)]
    picked = url_select("Checked against (B)", others, "agree_against", "rater", where=right)
    against = PEOPLE if picked == PEOPLE_LABEL else picked

    rows = load_rows(choices, judge, against)
    st.subheader(f"{judge} against {rater_name(against)}, per arm")
    st.dataframe(table(rows), hide_index=True, width="stretch")
    if against == PEOPLE and not any(r.voted for _, r in rows):
        st.info(
            "Nobody has voted on these outputs yet: vote 👍/👎 under an output here, in **Compare** or in the "
            "**Case explorer**, and the agreement fills in."
        )

    labels = [arm_label(c) for c in choices]
    voted = next((i for i, (_, r) in enumerate(rows) if r.agreement.n), 0)
    label = url_select("Arm", labels, "agree_arm", "arm", index=voted)
    choice = choices[labels.index(label)]
    with ws.results() as results:
        found = views.disagreements(results, choice, judge, against)
    st.subheader(f"Outputs where {judge} and {rater_name(against)} disagree ({len(found)})")
    if not found:
        st.caption("None on this arm's latest run.")
    for item in found:
        show_disagreement(choice, item, judge, against)
