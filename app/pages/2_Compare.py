"""Compare two arms: per metric the paired difference with its CI, p-value and verdict; cases by disagreement."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st
from _conversation import show_conversation
from _filters import filtered_cases, output_filters
from _workbench import (
    arm_choices,
    arm_label,
    case_heading,
    compare_pair,
    feedback_buttons,
    forget,
    friendly_errors,
    md,
    page,
    pick_loaded_suite,
    require_db,
    show_diff,
    show_sent,
    show_text,
    thumbs_up_shares,
    url_select,
    workspace,
)

from promptarena import views
from promptarena.report import fmt_detect, fmt_difference, fmt_number, interval_label, verdict_icon

page("Compare", "⚖️")
st.caption(
    "B against A on the same cases. The p-value is McNemar's exact test for pass/fail metrics and a sign-flip "
    "permutation test otherwise; the interval of B − A is that test inverted, so it excludes 0 exactly when the "
    "verdict is significant."
)
ws = workspace()

with friendly_errors():
    require_db(ws)
    suite = pick_loaded_suite(
        ws,
        "has stored runs but no loadable suite file under evals/, so its cases and metrics are unknown: restore "
        "the file to compare its arms.",
        resets=("arm_a", "arm_b", "compare_page", "compare_metric"),
    )
    choices = arm_choices(ws, suite.name)
    if len(choices) < 2:
        st.info(
            f"Suite `{suite.name}` needs at least two evaluated arms (versions or variants) to compare; "
            f"it has {len(choices)}. Run more versions with `evals run {suite.name}` or **Start a run**."
        )
        st.stop()
    labels = [arm_label(c) for c in choices]
    # by default the newest arm against the previous version of the same variant
    default_a = next(
        (i for i, c in enumerate(choices) if c.variant == choices[0].variant and c.blob != choices[0].blob), 1
    )
    col_a, col_b = st.columns(2)
    new_pair = forget("compare_page")
    a_label = url_select("A (baseline)", labels, "arm_a", "arm A", index=default_a, where=col_a, on_change=new_pair)
    b_label = url_select("B (candidate)", labels, "arm_b", "arm B", index=0, where=col_b, on_change=new_pair)
    a, b = choices[labels.index(a_label)], choices[labels.index(b_label)]
    if a == b:
        st.info("Pick two different arms.")
        st.stop()
    comparison = compare_pair(ws, suite, a, b)
    if comparison is None:
        st.info("The two arms have no case in common with the suite's current cases.")
        st.stop()
    shares = thumbs_up_shares(ws, suite.name)
    arms = comparison.arms

    st.subheader("Metrics")
    table = []
    diff_col = f"B − A [{interval_label([r.comparison for r in comparison.rows])}]"
    for row in comparison.rows:
        c = row.comparison
        table.append(
            {
                "metric": row.metric,
                "A": fmt_number(c.mean_a),
                "B": fmt_number(c.mean_b),
                diff_col: fmt_difference(c, per_cell=diff_col == "B − A [CI]"),
                "p-value": fmt_number(c.p_value, ".4f"),
                "verdict": f"{verdict_icon(c.verdict)} {c.verdict}",
                "win / tie / loss": f"{c.wins} / {c.ties} / {c.losses}",
                "test": c.test,
                "n": c.n,
                "what these cases can detect": fmt_detect(c),
            }
        )
    ia = shares.get((suite.name, a.blob, a.variant))
    ib = shares.get((suite.name, b.blob, b.variant))
    if ia or ib:
        table.append(
            {
                "metric": "👍 thumbs_up (people)",
                "A": f"{views.fmt_interval(ia)} ({ia.n} votes)" if ia else "no votes",
                "B": f"{views.fmt_interval(ib)} ({ib.n} votes)" if ib else "no votes",
                diff_col: fmt_number(ib.mean - ia.mean, "+.3f") if ia and ib else "–",
                "p-value": "–",
                "verdict": "not tested (votes are not paired)",
                "win / tie / loss": "",
                "test": "",
                "n": (ia.n if ia else 0) + (ib.n if ib else 0),
                "what these cases can detect": "",
            }
        )
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch")

    st.subheader("Cases, most disagreement first")
    where = output_filters(suite, "compare", differ_label="A ≠ B", on_change=new_pair)
    keep = filtered_cases(ws, [a, b], where)
    ids = comparison.cases.case_ids()
    listed = [comparison.cases[j] for j, case in enumerate(ids) if keep is None or case in keep]
    if keep is not None:
        st.caption(f"{len(listed)} of {len(comparison.cases)} cases pass the filters.")
    la, lb = arms[0].arm.label, arms[1].arm.label
    primary = comparison.rows[0].metric if comparison.rows else None
    cases = pd.DataFrame(
        [
            {
                "case": cr.case_id,
                "reference": " | ".join(cr.references),
                f"A answer ({la})": cr.answers[la],
                f"B answer ({lb})": cr.answers[lb],
                f"A {primary}": cr.scores[la].get(primary) if primary else None,
                f"B {primary}": cr.scores[lb].get(primary) if primary else None,
                "disagreement": views.spread(cr, primary),
                "answers differ": len(set(cr.answers.values())) > 1,
            }
            for cr in listed
        ]
    )
    st.dataframe(cases, hide_index=True, width="stretch", height=260)

    st.subheader("Outputs side by side")
    per_page = 10
    pages = max(1, math.ceil(len(listed) / per_page))
    page_no = url_select("Page", [str(n) for n in range(1, pages + 1)], "compare_page", "page", where=st.columns(6)[0])
    start = (int(page_no) - 1) * per_page
    for cr in listed[start : start + per_page]:
        with st.container(border=True):
            heading = f"**Case** {md(cr.case_id)} · disagreement {views.spread(cr, primary):.3f}"
            case_heading(heading, suite.name, cr.case_id, [a_label, b_label])
            ref_col, a_col, b_col = st.columns(3)
            with ref_col:
                st.caption("Reference")
                show_text("\n".join(cr.references) or "(no reference)")
            for col, choice, label, side in ((a_col, a, la, "A"), (b_col, b, lb, "B")):
                with col:
                    scores = ", ".join(f"{m} {fmt_number(v)}" for m, v in cr.scores[label].items())
                    st.caption(f"{side} · {md(label)} · {scores}")
                    if not show_conversation(cr.conversations.get(label)):
                        show_text(cr.outputs[label])
                    if label in cr.calls or cr.expected_calls is not None:
                        made = ", ".join(map(str, cr.calls.get(label, ()))) or "none"
                        expected = ", ".join(map(str, cr.expected_calls or ())) or "none"
                        st.caption("Function calls made / expected")
                        show_text(f"made: {made}\nexpected: {expected}")
                    show_sent(ws, choice, cr.case_id)
                    feedback_buttons(ws, choice, cr.case_id, cr.outputs[label], key=f"fb-{side}-{cr.case_id}")
            if cr.outputs[la] != cr.outputs[lb]:
                with st.expander("Words that differ from A (struck out) to B (underlined)"):
                    show_diff(cr.outputs[la], cr.outputs[lb])
    if listed:
        st.caption(f"Cases {start + 1}–{min(start + per_page, len(listed))} of {len(listed)}.")
    else:
        st.info("No case passes the filters.")
