"""Helpers shared by the workbench pages: where the data is, safe text, feedback buttons, friendly errors,
selections kept in the URL, and the data loads cached between clicks.

Model output is only ever drawn with ``st.code`` or inside dataframes, both of which show text literally;
nothing here passes model text to markdown or HTML. Each selection is kept in the URL's query parameter named
by the widget's key and written with ``st.query_params`` (each change a new browser history entry), so a
copied link reproduces a view and the browser's Back steps through the selections. (Streamlit's own
``bind="query-params"`` replaces the history entry instead, so Back would leave the page.)
"""

from __future__ import annotations

import contextlib
import html
import math
import re
import uuid
from collections.abc import Callable, Iterator, Sequence

import pandas as pd
import streamlit as st
from _jobs import sidebar_runs

from promptarena import feedback, views
from promptarena.compare import Comparison, compare_arms
from promptarena.errors import PromptArenaError
from promptarena.feedback import Vote
from promptarena.stats import Interval
from promptarena.store import ResultsStore
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
        if NAME not in st.session_state:  # a new tab or a reload: the name this browser voted under last
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
    sidebar_runs(ws)
    return ws


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


def require_db(ws: Workspace) -> None:
    """Stop with a helpful message when there is no results database yet."""
    if not ws.has_db:
        st.info(
            f"No results yet: the database {ws.db} does not exist. Evaluate a suite with `evals run` "
            "in the repository, or start one on the **Start a run** page."
        )
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
) -> SuiteEntry | None:
    """A suite selector, kept in the URL, over suite files and suites with stored runs; None (with a message) when
    there are none. Choosing another suite forgets the selections named in ``resets`` (arms, case)."""
    if entries is None:
        entries = load_entries(ws)
    if not entries:
        st.info("No suites: add an `evals/*.yaml` file to the repository, then run it.")
        return None
    names = [e.name for e in entries]
    name = url_select("Suite", names, key, "suite", on_change=forget(*resets))
    entry = entries[names.index(name)]
    if entry.error:
        st.warning(f"The suite file does not load: {entry.error}")
    return entry


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
    with _ws.results() as results, _ws.prompts() as store:
        return views.arm_choices(results, suite, store)


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
    with _ws.results() as results, _ws.prompts() as store:
        narrowed, loaded = views.load_arms(results, _suite, [_a, _b], store)
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


def md(text: str | None) -> str:
    """Author-written text (a description, a commit message, a case id, a label) to put inside Markdown: every ASCII
    punctuation mark backslash-escaped, so it shows as written (no heading, rule, emphasis, link, emoji or formula)."""
    return _PUNCTUATION.sub(r"\\\g<0>", " ".join((text or "").split()))


_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")


def show_text(text: str | None, key: str | None = None) -> None:
    """Model or prompt text, shown literally (never as markdown or HTML)."""
    st.code(text if text is not None else "", language=None, wrap_lines=True)


def show_sent(ws: Workspace, choice: ArmChoice, case_id: str, *, expanded: bool = False) -> None:
    """What the model saw for one arm's output of a case: the rendered messages as sent (system, few-shot turns,
    user), the generation parameters, and each generation's tokens and latency, folded under the output."""
    sent = _sent(ws, str(ws.db), choice, case_id)
    if not sent:
        st.caption("What the model saw: its generations are no longer stored.")
        return
    with st.expander("What the model saw", expanded=expanded):
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


def show_diff(a: str, b: str) -> None:
    """The words of ``b`` that differ from ``a``: removed struck out in red, added underlined in green, as text."""
    marked = (
        views.word_diff(a, b)
        .replace("<del>", '<del style="background: rgba(230, 60, 60, 0.22)">')
        .replace("<ins>", '<ins style="background: rgba(40, 180, 80, 0.22)">')
    )
    _escaped_html(f'<div style="{_MONO}">{marked}</div>')


# translucent tints over the theme's own background, so the theme's text colour stays readable, light or dark
_TINTS = {
    "replace": "rgba(230, 180, 0, 0.22)",
    "delete": "rgba(230, 60, 60, 0.22)",
    "insert": "rgba(40, 180, 80, 0.22)",
}
_MONO = "white-space: pre-wrap; font-family: monospace; font-size: 0.85rem; line-height: 1.5"


def show_side_by_side(rows: Sequence[views.DiffRow], left: str, right: str) -> None:
    """Two versions' lines side by side, changed lines tinted, every character shown as written (``---``, ``# x``,
    ``**x**``, leading spaces): a table of escaped text, never Markdown."""
    cell = f'style="{_MONO}; vertical-align: top; padding: 0 0.5rem; border-bottom: 1px solid rgba(128,128,128,0.2)"'
    number = 'style="vertical-align: top; padding: 0 0.4rem; opacity: 0.6; font-size: 0.8rem; text-align: right"'
    lines = [
        f"<tr><th {number}>#</th><th {cell}>{html.escape(left)}</th><th {number}>#</th>"
        f"<th {cell}>{html.escape(right)}</th></tr>"
    ]
    for row in rows:
        tint = _TINTS.get(row.tag)
        shade = f' style="background-color: {tint}"' if tint else ""
        lines.append(
            f"<tr{shade}><td {number}>{row.left_no or ''}</td><td {cell}>{html.escape(row.left)}</td>"
            f"<td {number}>{row.right_no or ''}</td><td {cell}>{html.escape(row.right)}</td></tr>"
        )
    _escaped_html(f'<table style="width: 100%; border-collapse: collapse">{"".join(lines)}</table>')


def _escaped_html(markup: str) -> None:
    """Draw markup built here from escaped text: the one place, with the shortcuts' script, that draws HTML."""
    st.html(markup)


def shortcuts(keys: dict[str, str]) -> None:
    """Keyboard shortcuts on this page: a key pressed outside a text box clicks the button (or focuses the text box)
    whose widget key it names; Escape leaves a text box. One listener on the page, the map replaced on each run."""
    _script(
        f"window.__promptarenaKeys = {_js(keys)};\n"
        "if (!window.__promptarenaKeysOn) {\n"
        "  window.__promptarenaKeysOn = true;\n"
        "  document.addEventListener('keydown', (e) => {\n"
        "    const t = e.target;\n"
        "    if (t && t.matches && t.matches('input, textarea, select, [contenteditable]')) {\n"
        "      if (e.key === 'Escape') t.blur();\n"
        "      return;\n"
        "    }\n"
        "    if (e.ctrlKey || e.altKey || e.metaKey || e.repeat) return;\n"
        "    const key = (window.__promptarenaKeys || {})[e.key];\n"
        "    if (!key) return;\n"
        "    const el = [...document.querySelectorAll(\n"
        "      `.st-key-${key} button, .st-key-${key} input, .st-key-${key} textarea`)].find((e) => e.offsetParent);\n"
        "    if (!el || el.disabled) return;\n"
        "    e.preventDefault();\n"
        "    if (el.tagName === 'BUTTON') el.click(); else el.focus();\n"
        "  });\n"
        "}"
    )


def _js(value: object) -> str:
    """A value as a JavaScript literal that cannot end the script it sits in (``</script>`` in a typed name)."""
    import json

    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _script(code: str) -> None:
    """Run a script of this module's own (never one built from stored or typed text but as JSON) in the page."""
    st.html(f"<script>\n{code}\n</script>", unsafe_allow_javascript=True)


def arm_label(choice: ArmChoice) -> str:
    """``abc1234:cot — commit message`` for selectors."""
    message = f" — {choice.message}" if choice.message else ""
    return f"{choice.label}{message}"


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


def accessible(buttons: dict[str, tuple[str, bool]]) -> None:
    """Give buttons (by widget key) an accessible name and an ``aria-pressed`` state, which Streamlit's own button
    lacks (its name is its label, its pressed look colour only), and keep the keyboard's focus on a button of these
    across the rerun its click starts (Streamlit's redraw leaves it on the page's body)."""
    css = {_css_key(key): value for key, value in buttons.items()}
    with st.sidebar:  # an element with nothing to show: at the sidebar's foot rather than between outputs
        _script(
            f"Object.assign(window.__promptarenaA11y = window.__promptarenaA11y || {{}}, {_js(css)});\n"
            "if (!window.__promptarenaA11yOn) {\n"
            "  window.__promptarenaA11yOn = true;\n"
            "  const all = (key) => [...document.querySelectorAll(`.st-key-${key} button`)];\n"
            "  const apply = () => {\n"
            "    for (const [key, [name, pressed]] of Object.entries(window.__promptarenaA11y)) {\n"
            "      for (const b of all(key)) {\n"
            "        if (b.getAttribute('aria-label') !== name) b.setAttribute('aria-label', name);\n"
            "        const state = String(pressed);\n"
            "        if (b.getAttribute('aria-pressed') !== state) b.setAttribute('aria-pressed', state);\n"
            "      }\n"
            "    }\n"
            "    const key = window.__promptarenaFocus, active = document.activeElement;\n"
            "    if (key && (!active || active === document.body)) {\n"
            "      const b = all(key).find((el) => el.offsetParent !== null);\n"
            "      if (b) b.focus();\n"
            "    }\n"
            "  };\n"
            "  const keyOf = (el) => {\n"
            "    const host = el && el.closest && el.closest('[class*=\"st-key-\"]');\n"
            "    const cls = host && [...host.classList].find((c) => c.startsWith('st-key-'));\n"
            "    return cls && cls.slice(7) in window.__promptarenaA11y ? cls.slice(7) : null;\n"
            "  };\n"
            "  document.addEventListener('focusin', (e) => {\n"
            "    if (e.target !== document.body) window.__promptarenaFocus = keyOf(e.target);\n"
            "  });\n"
            "  new MutationObserver(apply).observe(document.body, {subtree: true, childList: true, attributes: true,\n"
            "    attributeFilter: ['class', 'disabled']});\n"
            "  apply();\n"
            "}"
        )


def _css_key(key: str) -> str:
    """A widget key as Streamlit writes it into the class ``st-key-...`` of the widget's element."""
    return re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


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
