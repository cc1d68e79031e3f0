"""Case explorer: every sample of one case under each arm, extracted answers, votes, and folded-away reasoning."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st
from _workbench import arm_label, feedback_buttons, friendly_errors, page, pick_suite, require_db, show_text, workspace

from promptarena import feedback, views

page("Case explorer", "🔎")
ws = workspace()

with friendly_errors():
    require_db(ws)
    entry = pick_suite(ws, key="explorer_suite")
    if entry is None:
        st.stop()
    with ws.results() as results, ws.prompts() as store:
        ids = views.case_ids(results, entry.name)
        if not ids:
            st.info(f"No stored results for suite `{entry.name}` yet: run it with `evals run {entry.name}`.")
            st.stop()
        choices = views.arm_choices(results, entry.name, store)
        case_id = st.selectbox("Case", ids, key="explorer_case")
        labels = [arm_label(c) for c in choices]
        picked = st.multiselect("Arms", labels, default=labels[: min(len(labels), 4)], key="explorer_arms")
        chosen = [choices[labels.index(label)] for label in picked]
        samples = views.case_samples(results, chosen, case_id)
        votes: dict[tuple[str, str], feedback.Vote] = {}
        for vote in feedback.votes(results, entry.name, case_id=case_id):
            votes.setdefault((vote.blob, vote.variant), vote)  # newest first

    case = next((c for c in entry.suite.cases if c.id == case_id), None) if entry.suite else None
    if case is not None:
        left, right = st.columns(2)
        with left:
            st.caption("Variables")
            st.json(case.vars, expanded=True)
        with right:
            st.caption("Reference")
            show_text("\n".join(case.references) or "(no reference)")
    else:
        st.caption("This case is no longer in the suite file; its stored results are shown.")
    if not samples:
        st.info("None of the chosen arms has a result for this case.")
        st.stop()

    for sample in samples:
        choice = sample.choice
        with st.container(border=True):
            st.markdown(f"#### {choice.label}")
            if choice.message:
                st.caption(choice.message)
            scores = " · ".join(f"{m}: {'–' if v is None else f'{v:.3f}'}" for m, v in sample.scores.items())
            cols = st.columns(3)
            cols[0].metric("Generations", len(sample.samples))
            if sample.confidence is not None and not math.isnan(sample.confidence):
                cols[1].metric("Confidence (vote agreement)", f"{sample.confidence:.0%}")
            st.caption(f"Scores — {scores}")
            st.caption("Extracted answer")
            show_text(sample.answer)
            st.caption("Output")
            show_text(sample.output)
            if sample.reasoning and sample.reasoning.strip() != sample.output.strip():
                with st.expander("Reasoning (chain of thought)"):
                    show_text(sample.reasoning)
            if sample.votes:
                st.caption("Votes")
                st.dataframe(
                    pd.DataFrame({"answer": list(sample.votes), "votes": list(sample.votes.values())}),
                    hide_index=True,
                )
            if len(sample.samples) > 1:
                with st.expander(f"All {len(sample.samples)} samples"):
                    st.dataframe(
                        pd.DataFrame(
                            [
                                {
                                    "sample": i,
                                    "answer": answer,
                                    "text": text or "",
                                    "tokens": gen.completion_tokens if gen else None,
                                    "latency s": gen.latency_s if gen else None,
                                }
                                for i, (answer, text, gen) in enumerate(sample.samples)
                            ]
                        ),
                        hide_index=True,
                        width="stretch",
                    )
            if "judge_output" in sample.details:
                with st.expander("Judge's reply"):
                    show_text(str(sample.details["judge_output"]))
            feedback_buttons(ws, choice, case_id, sample.output, key=f"ex-{choice.blob}-{choice.variant}-{case_id}")
            last = votes.get((choice.blob, choice.variant))
            if last is not None:
                st.caption(f"Latest feedback here: {'👍' if last.thumbs_up else '👎'} at {last.created_at}")
