"""This repository's own scorers, named by evals/one_line_summary.yaml (docs/scorers.md shows how to write one)."""

import re

import promptarena

# A greeting, or the first or second person: the output speaks as the sender or to them, where the prompt asks for
# the news itself ("Do not reply to the sender").
_REPLY = re.compile(
    r"^\s*(hi|hello|dear|thanks|thank you|sure|okay|ok|great|noted|got it)\b|\b(I|I'll|I will|we'll|let me|you|your)\b",
    re.IGNORECASE,
)


@promptarena.metric(kind="binary", description="One line of at most `max_words` words, as the prompt asks.")
def one_line(output, options):
    lines = [line for line in output.strip().splitlines() if line.strip()]
    words = len(output.split())
    if len(lines) > 1:
        return False, f"{len(lines)} lines"
    if words > options["max_words"]:
        return False, f"{words} words"
    return True


@promptarena.metric(kind="binary", description="States the news instead of speaking as the sender or to them.")
def not_a_reply(answer):
    found = _REPLY.search(answer)
    if found:
        return False, f"speaks as the sender or to them: {found.group(0).strip()!r}"
    return True
