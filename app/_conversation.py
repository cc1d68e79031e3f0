"""A conversation shown turn by turn: each message under its role, each of the model's answers with its turn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st
from _workbench import show_text

_AVATARS = {"system": "⚙️", "user": "user", "assistant": "assistant"}


def show_conversation(conversation: Sequence[dict[str, Any]] | None) -> bool:
    """Show the stored conversation of a case that converses (``details["conversation"]``); False when there is
    none, so the caller shows the output as it is."""
    if not conversation:
        return False
    for message in conversation:
        role = str(message.get("role", ""))
        with st.chat_message(role, avatar=_AVATARS.get(role, "❔")):
            if "turn" in message:
                scored = f" · scored, answer: {message['answer']}" if "answer" in message else ""
                st.caption(f"{role} · answer to turn {int(message['turn']) + 1}{scored}")
            else:
                st.caption(role)
            show_text(str(message.get("content", "")))
    return True
