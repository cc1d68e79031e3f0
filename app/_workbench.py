"""Helpers shared by the workbench pages: where the data is, safe text, friendly errors, selections kept in the
URL, and the data loads cached between clicks (votes live in ``_votes``, HTML and scripts in ``_browser``).

Model output is only ever drawn with ``st.code`` or inside dataframes, both of which show text literally;
nothing here passes model text to markdown or HTML. Each selection is kept in the URL's query parameter named
by the widget's key and written with ``st.query_params`` (each change a new browser history entry), so a
copied link reproduces a view and the browser's Back steps through the selections. (Streamlit's own
``bind="query-params"`` replaces the history entry instead, so Back would leave the page.)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence

import pandas as pd
import streamlit as st
from _browser import md, shortcuts, show_diff, show_side_by_side  # noqa: F401 - the pages' helpers
from _jobs import sidebar_runs
from _votes import THUMB, feedback_buttons, suite_votes, voter, voter_box  # noqa: F401 - the pages' helpers

from promptarena import feedback, views
from promptarena.compare import Comparison, compare_arms
from promptarena.errors import PromptArenaError
from promptarena.stats import Interval
from promptarena.suite import Suite
from promptarena.views import ArmChoice, SuiteEntry, Workspace, suite_entries


def page(title: str, icon: str) -> None:
    """Page config and title, shared by every page; a page reached from another one (the sidebar) without a
    selection in its address shows the selections it had when this tab last left it."""
    st.set_page_config(page_title=f"{title} · promptarena", page_icon=icon, layout="wide")
    st.title(f"{icon} {title}")
    arrived = st.session_state.get(_PAGE) != title
    st.session_state[_PAGE] = title
    kept = st.session_state.setdefault(_KEPT, {}).get(title)
    if arrived and kept and not st.query_params:
        st.query_params.from_dict(kept)


_PAGE, _KEPT = "_page", "_kept_selections"  # the page drawn last in this tab; each page's last address


def explorer_query(suite: str, case_id: str, arms: str | Sequence[str]) -> dict[str, str | list[str]]:
    """The Case explorer's address for one case of a suite under ``arms`` (a link's or a switch's query)."""
    shown = arms if isinstance(arms, str) else list(arms)
    return {"explorer_suite": suite, "explorer_case": case_id, "explorer_arms": shown}


def case_heading(heading: str, suite: str, case_id: str, arms: str | Sequence[str]) -> None:
    """A case's heading (Markdown) beside a link that opens the case, under ``arms``, in the Case explorer."""
    head, link = st.columns([3, 1])
    head.markdown(heading)
    query = explorer_query(suite, case_id, arms)
    link.page_link("pages/3_Case_explorer.py", label="Open in the Case explorer", icon="🔎", query_params=query)


def _keep_selections() -> None:
    """Remember this page's address (its selections) for the next visit from the sidebar."""
    if _PAGE in st.session_state:
        kept = {key: st.query_params.get_all(key) for key in st.query_params}
        st.session_state.setdefault(_KEPT, {})[st.session_state[_PAGE]] = kept


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
        voter_box()
    sidebar_runs(ws)
    return ws


def require_db(ws: Workspace) -> None:
    """Stop with a helpful message when there is no results database yet."""
    if not ws.has_db:
        st.info(
            f"No results yet: the database {ws.db} does not exist. Evaluate a suite with `evals run` "
            "in the repository, or start one on the **Start a run** page."
        )
        st.stop()


def require_results(suite: str, found: Sequence[object]) -> None:
    """Stop with how to fill the page when ``found`` (the suite's stored arms or cases) is empty."""
    if not found:
        st.info(f"No stored results for suite `{suite}` yet: run it with `evals run {suite}`.")
        st.stop()


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Show configuration and database problems as one message instead of a traceback."""
    try:
        yield
    except PromptArenaError as err:
        st.error(str(err))


def pick_suite(
    ws: Workspace, entries: list[SuiteEntry] | None = None, key: str = "suite", resets: Sequence[str] = ()
) -> SuiteEntry:
    """A suite selector, kept in the URL, over suite files and suites with stored runs; stops the page (with a
    message) when there are none. Choosing another suite forgets the selections named in ``resets`` (arms, case)."""
    if entries is None:
        entries = load_entries(ws)
    if not entries:
        st.info("No suites: add an `evals/*.yaml` file to the repository, then run it.")
        st.stop()
    names = [e.name for e in entries]
    name = url_select("Suite", names, key, "suite", on_change=forget(*resets))
    entry = entries[names.index(name)]
    if entry.error:
        st.warning(f"The suite file does not load: {entry.error}")
    return entry


def pick_loaded_suite(
    ws: Workspace,
    unloadable: str,
    entries: list[SuiteEntry] | None = None,
    key: str = "suite",
    resets: Sequence[str] = (),
) -> Suite:
    """``pick_suite`` for a page that needs the suite file: stops the page with a warning, "Suite `name` "
    followed by ``unloadable``, when its file does not load."""
    entry = pick_suite(ws, entries, key=key, resets=resets)
    if entry.suite is None:
        st.warning(f"Suite `{entry.name}` {unloadable}")
        st.stop()
    return entry.suite


def url_select(
    label: str, options: Sequence[str], key: str, what: str, *, index: int = 0, where=st, on_change=None
) -> str:  # noqa: ANN001 - a container and a callback
    """A selectbox kept in the URL's ``key`` parameter: a link or Back sets it, a change is a new history entry."""
    _from_url(key, options, what, [options[index]], many=False)
    value = where.selectbox(label, options, key=key, on_change=on_change)
    _to_url(key, [value], [options[index]])
    return value


def url_multiselect(label: str, options: Sequence[str], key: str, what: str, *, default: Sequence[str]) -> list[str]:
    """A multiselect kept in the URL's ``key`` parameter (one value per choice), as ``url_select``."""
    _from_url(key, options, what, list(default), many=True)
    values = st.multiselect(label, options, key=key)
    _to_url(key, values, list(default))
    return values


def _from_url(key: str, options: Sequence[str], what: str, default: list[str], *, many: bool) -> None:
    """Before the widget: take its value from the URL when the URL changed (a link opened, Back, Forward) or the
    widget is new; say so when the URL asks for values that are not here any more (the widget shows its default).

    The value is always one the script set in ``st.session_state`` (the default included, never a widget's own
    ``index``): only such a value is sent to the browser, so a selector whose options changed (another suite) or
    whose value was dropped shows what the page shows, instead of the browser's stale choice, which the next click
    anywhere would send back.
    """
    wanted = st.query_params.get_all(key)
    if wanted != st.session_state.get(_SYNCED + key) or key not in st.session_state:
        st.session_state[_SYNCED + key] = wanted
        valid = [value for value in wanted if value in options]
        gone = [value for value in wanted if value not in options]
        if gone:
            names = ", ".join(f"`{value.replace('`', '')[:80]}`" for value in gone)
            st.info(
                f"The link's {what} {names} is not here any more (renamed, deleted or not run); showing the default."
            )
        st.session_state[key] = (valid if many else valid[0]) if valid else (default if many else default[0])
        return
    current = st.session_state[key]
    if many:
        kept = [value for value in current if value in options]
        if kept != current:
            st.session_state[key] = kept
    elif current not in options:
        st.session_state[key] = default[0]


def _to_url(key: str, values: list[str], default: list[str]) -> None:
    """After the widget: write its value to the URL (a new history entry), or drop the parameter at the default.

    A URL that already means this value (a link that spells out a default) is left as it is: rewriting it would
    add a history entry, and Back would land on the same view instead of the page the link came from.
    """
    current = st.query_params.get_all(key)
    if values == (current or default):
        st.session_state[_SYNCED + key] = current
        _keep_selections()
        return
    written = [] if values == default else values
    st.session_state[_SYNCED + key] = written
    if written:
        st.query_params[key] = written
    else:
        del st.query_params[key]
    _keep_selections()


_SYNCED = "_url:"  # the URL value each selection was last read from or written to


def forget(*keys: str) -> Callable[[], None]:
    """An ``on_change`` callback that drops the selections ``keys`` and their URL parameters (stale once the
    suite changes), so that the widgets show their defaults."""

    def drop() -> None:
        for key in keys:
            st.session_state.pop(key, None)
            st.session_state[_SYNCED + key] = []
            if key in st.query_params:
                del st.query_params[key]

    return drop


def load_entries(ws: Workspace) -> list[SuiteEntry]:
    """Suite files and suites with stored runs (without creating the database), cached until either changes."""
    return _entries(ws, str(ws.repo), str(ws.db), ws.suites_version(), ws.data_version())


@st.cache_resource(show_spinner=False, max_entries=16)  # shared, not copied: the pages only read suites
def _entries(_ws: Workspace, repo: str, db: str, suites: tuple[int, ...], data: tuple[int, ...]) -> list[SuiteEntry]:
    if not _ws.has_db:
        return suite_entries(_ws.workdir, None)
    with _ws.results() as results:
        return suite_entries(_ws.workdir, results)


def arm_choices(ws: Workspace, suite: str) -> list[ArmChoice]:
    """The suite's arms with stored results, cached until the database changes (a run, a vote)."""
    return _choices(ws, str(ws.repo), str(ws.db), suite, ws.data_version())


@st.cache_data(show_spinner=False, max_entries=32)
def _choices(_ws: Workspace, repo: str, db: str, suite: str, data: tuple[int, ...]) -> list[ArmChoice]:
    with _ws.results() as results, _ws.prompts() as prompts:
        return views.arm_choices(results, suite, prompts)


def thumbs_up_shares(ws: Workspace, suite: str) -> dict[tuple[str, str, str], Interval]:
    """People's share of thumbs-up per arm of a suite, cached until the database changes (a vote)."""
    return _shares(ws, str(ws.db), suite, ws.data_version())


@st.cache_data(show_spinner=False, max_entries=32)
def _shares(_ws: Workspace, db: str, suite: str, data: tuple[int, ...]) -> dict[tuple[str, str, str], Interval]:
    with _ws.results() as results:
        return feedback.thumbs_up_shares(results, suite)


def case_ids(ws: Workspace, suite: str) -> list[str]:
    """Case ids with stored results for a suite, cached until the database changes."""
    return _case_ids(ws, str(ws.db), suite, ws.data_version())


@st.cache_data(show_spinner=False, max_entries=32)
def _case_ids(_ws: Workspace, db: str, suite: str, data: tuple[int, ...]) -> list[str]:
    with _ws.results() as results:
        return views.case_ids(results, suite)


def compare_pair(ws: Workspace, suite: Suite, a: ArmChoice, b: ArmChoice) -> Comparison | None:
    """B against A on the cases both have (None when they share none), cached per pair of arms: an arm's
    completed run never changes, so only another pair or another suite file recomputes it. Read it, never change it."""
    return _comparison(ws, suite, a, b, str(ws.repo), str(ws.db), ws.suites_version(), _arm_key(a), _arm_key(b))


def _arm_key(choice: ArmChoice) -> tuple[str, ...]:
    return (choice.suite, choice.run_id, choice.blob, choice.variant, choice.model)


@st.cache_resource(show_spinner=False, max_entries=32)  # shared, not copied: unpickling it costs more than a click
def _comparison(
    _ws: Workspace,
    _suite: Suite,
    _a: ArmChoice,
    _b: ArmChoice,
    repo: str,
    db: str,
    suites: tuple[int, ...],
    *arms: tuple[str, ...],
) -> Comparison | None:
    with _ws.results() as results, _ws.prompts() as prompts:
        narrowed, loaded = views.load_arms(results, _suite, [_a, _b], prompts)
    return compare_arms(narrowed, loaded) if narrowed.cases else None


def _axis() -> object:
    """A chart's value axis: at most three decimals, no trailing zeros, and no ticks finer than that (a metric
    equal on every commit otherwise reads "0.000000" at each tick)."""
    import altair as alt

    return alt.Axis(format=".3~f", tickMinStep=0.001)


AXIS = _axis()


def blank(frame: pd.DataFrame, formats: dict[str, str] | None = None, rest: str = "{:.3f}") -> pd.DataFrame:
    """A table whose missing values show as empty cells, numbers in ``formats`` formatted and other fractional
    columns with ``rest``. The cells become text: ``st.dataframe`` ignores a Styler's ``na_rep`` (showing "None")
    and the precision of columns it does not format (showing "0.750000")."""
    out = frame.copy()
    for column in out.columns:
        fmt = (formats or {}).get(column)
        numbers = all(value is None or isinstance(value, float) for value in out[column])
        if fmt is None and (out[column].dtype.kind == "f" or out[column].dtype.kind == "O" and numbers):
            fmt = rest
        if fmt is not None:
            out[column] = [_cell(value, fmt) for value in out[column]]
    return out


def _cell(value: object, fmt: str) -> str:
    """One number as ``fmt`` writes it; empty when missing (None or NaN)."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "" if missing else fmt.format(value)


def show_text(text: str | None, key: str | None = None) -> None:
    """Model or prompt text, shown literally (never as markdown or HTML)."""
    st.code(text if text is not None else "", language=None, wrap_lines=True)


def show_sent(ws: Workspace, choice: ArmChoice, case_id: str, *, expanded: bool = False) -> None:
    """What the model saw for one arm's output of a case: the rendered messages as sent (system, few-shot turns,
    user), the generation parameters, and each generation's tokens and latency. Unless ``expanded``, behind a
    toggle under the output, drawn only once switched on: a page of outputs then sends none of it."""
    key = f"sent-{choice.run_id}-{choice.blob}-{choice.variant}-{choice.model}-{case_id}"
    if not expanded and not st.toggle("What the model saw", key=key):
        return
    sent = _sent(ws, str(ws.db), choice, case_id)
    if not sent:
        st.caption("What the model saw: its generations are no longer stored.")
        return
    with st.container(border=True):
        st.caption("What the model saw")
        first = sent[0]
        for message in first.messages:
            st.caption(message.role)
            show_text(message.content)
        if any(s.messages != first.messages for s in sent[1:]):
            st.caption("Later generations were sent other messages (a variant's later rounds); the first is shown.")
        st.caption("Parameters: " + ", ".join(f"{k}={v!r}" for k, v in first.params.items()))
        rows = [
            {
                "sample": s.sample_index,
                "seed": s.seed,
                "prompt tokens": s.prompt_tokens,
                "output tokens": s.completion_tokens,
                "latency s": s.latency_s,
                "finish": s.finish_reason,
            }
            for s in sent
        ]
        st.dataframe(blank(pd.DataFrame(rows), {"latency s": "{:.2f}"}), hide_index=True, width="stretch")


@st.cache_data(show_spinner=False, max_entries=256)  # a run's stored output and its generations never change
def _sent(_ws: Workspace, db: str, choice: ArmChoice, case_id: str) -> list[views.SentRequest]:
    with _ws.results() as results:
        return views.case_sent(results, choice, case_id)


def arm_label(choice: ArmChoice) -> str:
    """``abc1234:cot — commit message`` for selectors."""
    message = f" — {choice.message}" if choice.message else ""
    return f"{choice.label}{message}"
