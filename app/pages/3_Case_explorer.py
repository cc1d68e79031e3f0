"""Case explorer: every sample of one case under each arm, extracted answers, votes, folded-away reasoning, and
the case's perturbed inputs and outputs."""

from __future__ import annotations

import json
import math

import pandas as pd
import streamlit as st
from _conversation import show_conversation
from _filters import filtered_cases, output_filters
from _workbench import (
    arm_choices,
    arm_label,
    case_ids,
    feedback_buttons,
    forget,
    friendly_errors,
    md,
    page,
    pick_suite,
    require_db,
    require_results,
    show_sent,
    show_text,
    url_multiselect,
    url_select,
    workspace,
)

from promptarena import feedback, views
from promptarena.extract import normalize_answer
from promptarena.metrics.assertions import METRICS as ASSERTION_METRICS
from promptarena.metrics.assertions import failed_assertions
from promptarena.report import fmt_number
from promptarena.tools import case_calls, prediction_calls
from promptarena.types import Case, Prediction, ToolCall

page("Case explorer", "🔎")
ws = workspace()


def show_perturbed(ws: views.Workspace, perturbed: list[views.PerturbedSample]) -> None:
    """The case under each perturbation and prompt layout: its input, the output and its scores (folded)."""
    if not perturbed:
        return
    with st.expander(f"Perturbed inputs and outputs ({len(perturbed)})"):
        for p in perturbed:
            scores = " · ".join(f"{m} {fmt_number(v)}" for m, v in p.scores.items())
            st.markdown(f"**{md(p.label)}**")
            st.caption(f"Input · {scores}")
            show_text(p.input if isinstance(p.input, str) else json.dumps(p.input, ensure_ascii=False, indent=1))
            st.caption("Output")
            show_text(p.output)
            key = f"ex-{p.choice.blob}-{p.choice.variant}-{p.case_id}-{p.label}"
            feedback_buttons(ws, p.choice, p.case_id, p.output, key=key)


def show_failed_assertions(details: dict) -> None:
    """The assertions of the case that this output failed, and why (or how checking them failed)."""
    failed = failed_assertions(details)
    if failed:
        st.caption(f"Failed assertions ({len(failed)})")
        rows = [
            {"assertion": f["assertion"], "type": f["type"], "why": f.get("reason") or f"error: {f['error']}"}
            for f in failed
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def show_assertions(case: Case) -> None:
    """The checks the case's answers must pass: its suite's `assert:` list, then its own."""
    if case.assertions:
        st.caption("Assertions")
        rows = [
            {
                "assertion": a.label,
                "type": a.type,
                "check": json.dumps({k: v for k, v in a.entry.items() if k != "type"}, ensure_ascii=False),
                "weight": a.weight,
            }
            for a in case.assertions
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def show_reasons(sample: views.CaseSample) -> None:
    """Why each metric scored the case so (a scorer's or a judge's reason), and how scoring failed where it did;
    the assertion metrics' reasons are the failed assertions, shown apart."""
    reasons, errors = sample.details.get("reasons") or {}, sample.details.get("errors") or {}
    reasons = {m: r for m, r in reasons.items() if m not in ASSERTION_METRICS}  # shown as failed assertions
    if not reasons and not errors:
        return
    rows = [
        {"metric": m, "score": fmt_number(sample.scores.get(m)), "why": errors.get(m) or reasons.get(m) or ""}
        for m in dict.fromkeys([*reasons, *errors])
    ]
    if errors:
        st.caption(f"Scoring failed here on {', '.join(errors)}: the case is not counted in that mean.")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def show_calls(sample: views.CaseSample, case: Case | None) -> None:
    """The function calls made beside those the case expects, as calls (function and arguments), one row per
    expected call with the call made to the same function beside it; nothing when no tools were offered."""
    generations = tuple(g for _, _, g in sample.samples if g is not None)
    expected = case_calls(case) if case is not None else None
    if expected is None and all(g.tool_calls is None for g in generations):
        return
    made = list(prediction_calls(Prediction(sample.output, sample.answer, generations)))
    rows = []
    for want in expected or ():
        hit = next((i for i, got in enumerate(made) if got.name == want.name), None)
        got = made.pop(hit) if hit is not None else None
        rows.append({"expected": _call_text(want), "made": _call_text(got)})
    rows += [{"expected": "", "made": _call_text(got)} for got in made]
    st.caption("Function calls")
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    else:
        st.caption("none expected, none made")


def _call_text(call: ToolCall | None) -> str:
    return "" if call is None else str(call)


def vote_table(sample: views.CaseSample) -> pd.DataFrame:
    """Self-consistency's vote: each answer as the first sample that gave it wrote it, its votes, and that sample's
    output (the vote itself counts answers normalised: case, spacing and punctuation aside)."""
    rows = []
    for key, count in sample.votes.items():
        first = next(((a, text) for a, text, _ in sample.samples if normalize_answer(a) == key), (key, None))
        rows.append({"answer": first[0], "votes": count, "output": first[1] or ""})
    return pd.DataFrame(rows)


def show_sample(
    ws: views.Workspace,
    sample: views.CaseSample,
    last: feedback.Vote | None,
    perturbed: list[views.PerturbedSample],
    case: Case | None = None,
) -> None:
    """One arm's answer to the case: scores, answer, output, votes, samples, reasoning and perturbed runs (folded)."""
    choice = sample.choice
    st.markdown(f"#### {md(choice.label)}")
    if choice.message:
        st.caption(md(choice.message))
    scores = " · ".join(f"{m} {fmt_number(v)}" for m, v in sample.scores.items())
    confidence = ""
    if sample.confidence is not None and not math.isnan(sample.confidence):
        confidence = f" · confidence {sample.confidence:.0%}"
    st.caption(f"{scores} · {len(sample.samples)} generation(s){confidence}")
    show_reasons(sample)
    st.caption("Extracted answer")
    show_text(sample.answer)
    if not show_conversation(sample.details.get("conversation")):
        st.caption("Output")
        show_text(sample.output)
    show_sent(ws, choice, sample.case_id)
    show_calls(sample, case)
    show_failed_assertions(sample.details)
    if sample.reasoning and sample.reasoning.strip() != sample.output.strip():
        with st.expander("Reasoning (chain of thought)"):
            show_text(sample.reasoning)
    if sample.votes:
        st.caption("Votes")
        st.dataframe(vote_table(sample), hide_index=True, width="stretch")
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
    feedback_buttons(ws, choice, sample.case_id, sample.output, key=f"ex-{choice.label}-{choice.blob}-{sample.case_id}")
    if last is not None:
        st.caption(f"Latest feedback here: {'👍' if last.thumbs_up else '👎'} at {last.created_at}")
    show_perturbed(ws, perturbed)


with friendly_errors():
    require_db(ws)
    entry = pick_suite(ws, key="explorer_suite", resets=("explorer_case", "explorer_arms", "explorer_metric"))
    ids = case_ids(ws, entry.name)
    require_results(entry.name, ids)
    choices = arm_choices(ws, entry.name)
    labels = [arm_label(c) for c in choices]
    case_slot = st.container()  # the case selector goes above the arms and filters that narrow its cases
    picked = url_multiselect("Arms", labels, "explorer_arms", "arm", default=labels[: min(len(labels), 3)])
    chosen = [choices[labels.index(label)] for label in picked]
    keep = filtered_cases(ws, chosen, output_filters(entry.suite, "explorer"))
    if keep is not None:
        listed = [i for i in ids if i in keep]
        case_slot.caption(f"{len(listed)} of {len(ids)} cases pass the filters.")
        current = st.session_state.get("explorer_case") or next(iter(st.query_params.get_all("explorer_case")), None)
        if current in ids and current not in keep:
            forget("explorer_case")()
        if not listed:
            st.info("No case passes the filters.")
            st.stop()
        ids = listed
    case_id = url_select("Case", ids, "explorer_case", "case", where=case_slot)
    with ws.results() as results:
        samples = views.case_samples(results, chosen, case_id)
        perturbed = {(c.blob, c.variant): views.perturbed_samples(results, c, case_id) for c in chosen}
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
        show_assertions(case)
    else:
        st.caption("This case is no longer in the suite file; its stored results are shown.")
    if not samples:
        st.info("None of the chosen arms has a result for this case.")
        st.stop()

    per_row = 3
    for row_start in range(0, len(samples), per_row):
        columns = st.columns(per_row)
        for column, sample in zip(columns, samples[row_start : row_start + per_row], strict=False):
            with column, st.container(border=True):
                arm = (sample.choice.blob, sample.choice.variant)
                show_sample(ws, sample, votes.get(arm), perturbed.get(arm, []), case)
