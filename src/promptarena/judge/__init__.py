"""The rubric judge: a metric that asks a grader model whether an output meets a rubric.

A suite names it as ``{rubric: "The reply is polite and answers {{ question }}.", name: polite}``. The rubric
renders with the case's variables (Jinja2's sandbox, strict undefined), and a case's own ``rubric`` is added to
it. The grader is any backend (by default the suite's own ``model:``); its prompt is a prompt file,
``prompts/rubric_judge.prompt`` (the packaged default when the repository has none), which gets ``rubric``,
``output``, ``scale``, ``vars`` and ``references``. Its requests go through the run's generation cache and
batching; its verdict is read from the text, or, where the backend returns the top log-probabilities at the
verdict's token, weighed by them (G-Eval): the probability-weighted mean over the scale's tokens. A verdict that
cannot be read is that case's error, counted and shown, never a score of 0. See docs/judges.md.
"""

from promptarena.judge._metric import DEFAULT_PROMPT, GRADER_VARIABLES, rubric_metric
from promptarena.judge._verdict import PASS_FAIL, Scale, Verdict, read_verdict, scale_of, weigh

__all__ = [
    "DEFAULT_PROMPT",
    "GRADER_VARIABLES",
    "PASS_FAIL",
    "Scale",
    "Verdict",
    "read_verdict",
    "rubric_metric",
    "scale_of",
    "weigh",
]
