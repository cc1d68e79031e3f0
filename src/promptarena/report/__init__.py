"""Reports of evaluation results: terminal tables, JSON documents, JUnit XML and Markdown, on one set of formatters.

Everything a command prints is drawn here (gates in ``gates``; `evals bisect`, `prompts`, `runs` and `db` in their
modules of that name); the workbench (``app/``) formats with the same functions, so a number reads the same
everywhere.
"""

from promptarena.report._format import (
    MISSING,
    agreement_note,
    clip,
    fmt_confidence,
    fmt_detect,
    fmt_difference,
    fmt_energy,
    fmt_fixed,
    fmt_interval,
    fmt_kappa,
    fmt_number,
    fmt_p,
    interval_label,
    json_text,
    rater_name,
    verdict_icon,
    verdict_markup,
)
from promptarena.report.gates import gate_detail, gate_line, print_failures, print_outcome, print_verdict
from promptarena.report.json import agreement_json, comparison_json, outcome_json, run_json, summary_json
from promptarena.report.junit import write_junit
from promptarena.report.markdown import write_markdown
from promptarena.report.terminal import (
    agreement_table,
    comparison_table,
    holistic_table,
    print_agreement,
    print_comparison,
    print_suite,
    suite_table,
    summary_confidence,
)

__all__ = [
    "MISSING",
    "agreement_json",
    "agreement_note",
    "agreement_table",
    "clip",
    "comparison_json",
    "comparison_table",
    "fmt_confidence",
    "fmt_detect",
    "fmt_difference",
    "fmt_energy",
    "fmt_fixed",
    "fmt_interval",
    "fmt_kappa",
    "fmt_number",
    "fmt_p",
    "gate_detail",
    "gate_line",
    "holistic_table",
    "interval_label",
    "json_text",
    "outcome_json",
    "print_agreement",
    "print_comparison",
    "print_failures",
    "print_outcome",
    "print_suite",
    "print_verdict",
    "rater_name",
    "run_json",
    "suite_table",
    "summary_confidence",
    "summary_json",
    "verdict_icon",
    "verdict_markup",
    "write_junit",
    "write_markdown",
]
