"""Read models for the Streamlit workbench: plain data built from the results store, the prompt store and suites.

The pages in ``app/`` call these functions and only draw what they return, so that every figure the UI shows
is testable without a browser. Arms are read back from the stored per-case results of the latest completed
run that holds them: viewing a page never needs the model, never generates and never records a run.
Nothing here imports streamlit or torch, and nothing here writes SQL: the results store answers.
"""

from promptarena.views._agreement import Disagreement, agreement_rows, disagreements, raters
from promptarena.views._arms import ArmChoice, CaseSample, arm_choices, case_ids, case_samples, load_arms, spread
from promptarena.views._draft import (
    DraftComparison,
    draft_comparisons,
    holistic_rows,
    metric_rows,
    numbered,
    under_commits,
)
from promptarena.views._drops import Drop, score_drops  # noqa: F401 - public, as views.score_drops
from promptarena.views._history import (
    THUMBS_UP,
    CommitRow,
    DiffRow,
    HistoryPoint,
    OverviewCell,
    commit_rows,
    diff_versions,
    fmt_interval,
    metric_history,
    overview,
    side_by_side,
)
from promptarena.views._holistic import DIMENSIONS, PerturbedSample, holistic_cells, perturbed_samples
from promptarena.views._review import (
    ORDERS,
    QueueItem,
    SentRequest,
    case_sent,
    pending,
    review_queue,
    sent_requests,
    word_diff,
)
from promptarena.views._runs import RunView, run_views
from promptarena.views._search import ScoreGrid, failing_range, filter_cases, score_grid
from promptarena.views._workspace import SuiteEntry, Workspace, prompt_names, suite_entries

__all__ = [
    "DIMENSIONS",
    "ORDERS",
    "THUMBS_UP",
    "ArmChoice",
    "CaseSample",
    "CommitRow",
    "Disagreement",
    "DiffRow",
    "DraftComparison",
    "HistoryPoint",
    "OverviewCell",
    "PerturbedSample",
    "QueueItem",
    "RunView",
    "ScoreGrid",
    "SentRequest",
    "SuiteEntry",
    "Workspace",
    "agreement_rows",
    "arm_choices",
    "case_ids",
    "case_samples",
    "case_sent",
    "commit_rows",
    "diff_versions",
    "disagreements",
    "draft_comparisons",
    "failing_range",
    "filter_cases",
    "fmt_interval",
    "holistic_cells",
    "holistic_rows",
    "load_arms",
    "metric_history",
    "metric_rows",
    "numbered",
    "overview",
    "pending",
    "perturbed_samples",
    "prompt_names",
    "raters",
    "review_queue",
    "run_views",
    "score_grid",
    "sent_requests",
    "side_by_side",
    "spread",
    "suite_entries",
    "under_commits",
    "word_diff",
]
