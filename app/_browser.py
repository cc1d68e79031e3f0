"""What the workbench draws beyond Streamlit's own elements: text escaped for Markdown, escaped HTML (the word
diff, the side-by-side prompt diff), and the page's scripts (keyboard shortcuts, buttons' accessible names).

Every text in the HTML here is escaped, and every script is this module's own, with values passed as JSON.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import streamlit as st

from promptarena import views


def md(text: str | None) -> str:
    """Author-written text (a description, a commit message, a case id, a label) to put inside Markdown: every ASCII
    punctuation mark backslash-escaped, so it shows as written (no heading, rule, emphasis, link, emoji or formula)."""
    return _PUNCTUATION.sub(r"\\\g<0>", " ".join((text or "").split()))


_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")


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
