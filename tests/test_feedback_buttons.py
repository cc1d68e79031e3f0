"""The thumbs up/down buttons through Streamlit's AppTest: one vote per person per output, a pressed state, a
second click that withdraws, comments beside the outputs, and a name that stays from page to page."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from promptarena import feedback
from promptarena.store import ResultsStore
from tests.support.workbench import APP, Workbench, ok


def explorer() -> tuple[AppTest, str]:
    """The case explorer on its first case with one arm, and the key prefix of that arm's buttons."""
    at = ok(AppTest.from_file(str(APP / "pages" / "3_Case_explorer.py"), default_timeout=60).run())
    at.multiselect(key="explorer_arms").set_value(at.multiselect(key="explorer_arms").options[:1]).run()
    (up,) = [b.key for b in ok(at).button if b.key.endswith("-up")]
    return at, up.removesuffix("-up")


def votes(bench: Workbench) -> list[feedback.Vote]:
    with ResultsStore(bench.db) as results:
        return feedback.votes(results, "math")


def pressed(at: AppTest, key: str) -> list[str]:
    return [side for side in ("up", "down") if at.button(key=f"{key}-{side}").proto.type == "primary"]


def latest(at: AppTest) -> list[str]:
    return [c.value.split(" at ")[0] for c in at.caption if c.value.startswith("Latest feedback here")]


def tally(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("Votes on this output")]


def test_a_second_click_on_the_same_thumb_withdraws_the_vote(bench: Workbench) -> None:
    at, key = explorer()
    assert pressed(at, key) == [] and latest(at) == []
    ok(at.button(key=f"{key}-up").click().run())
    (vote,) = votes(bench)
    assert vote.thumbs_up and vote.voter.startswith("anonymous:") and vote.name is None
    assert pressed(at, key) == ["up"] and tally(at) == ["Votes on this output: 👍 1 · 👎 0"]
    assert latest(at) == ["Latest feedback here: 👍"]  # shown by the same rerun that stored the vote
    ok(at.button(key=f"{key}-up").click().run())
    assert votes(bench) == [] and pressed(at, key) == [] and latest(at) == [] and tally(at) == []


def test_the_other_thumb_changes_the_vote_and_the_comment_shows_beside_the_output(bench: Workbench) -> None:
    at, key = explorer()
    at.sidebar.text_input(key="feedback_name").input("Alice").run()
    at.text_input(key=f"{key}-comment").input("too long").run()
    ok(at.button(key=f"{key}-up").click().run())
    assert at.text_input(key=f"{key}-comment").value == "too long"  # the box holds your comment, to edit
    assert "💬 Alice: too long" in [t.value for t in at.text]
    ok(at.button(key=f"{key}-down").click().run())
    (vote,) = votes(bench)
    assert (vote.voter, vote.thumbs_up, vote.comment, vote.name) == ("alice", False, "too long", "Alice")
    assert pressed(at, key) == ["down"] and latest(at) == ["Latest feedback here: 👎"]
    assert tally(at) == ["Votes on this output: 👍 0 · 👎 1"]


def test_two_people_in_one_browser_tab_are_two_votes(bench: Workbench) -> None:
    at, key = explorer()
    ok(at.button(key=f"{key}-up").click().run())
    at.sidebar.text_input(key="feedback_name").input("Bob").run()
    assert pressed(at, key) == []  # Bob has not voted yet; the anonymous vote is someone else's
    ok(at.button(key=f"{key}-up").click().run())
    assert pressed(at, key) == ["up"] and tally(at) == ["Votes on this output: 👍 2 · 👎 0"]
    assert sorted(v.voter.split(":")[0] for v in votes(bench)) == ["anonymous", "bob"]


def test_each_button_says_which_output_it_votes_on(bench: Workbench) -> None:
    at, key = explorer()
    case = at.selectbox(key="explorer_case").value
    arm = at.multiselect(key="explorer_arms").value[0].split(" — ")[0]
    assert at.button(key=f"{key}-up").help == f"thumbs up for output of arm {arm}, case {case}"
    assert at.button(key=f"{key}-down").help == f"thumbs down for output of arm {arm}, case {case}"


def test_the_name_stays_from_page_to_page(bench: Workbench) -> None:
    at = ok(AppTest.from_file(str(APP / "Overview.py"), default_timeout=60).run())
    at.sidebar.text_input(key="feedback_name").input("Grace").run()
    for path in ("pages/2_Compare.py", "pages/3_Case_explorer.py", "Overview.py"):
        at.switch_page(path).run()
        assert ok(at).sidebar.text_input(key="feedback_name").value == "Grace", path


def test_a_click_on_your_pressed_thumb_with_a_new_comment_keeps_the_vote_and_saves_the_comment(
    bench: Workbench,
) -> None:
    at, key = explorer()
    ok(at.button(key=f"{key}-up").click().run())
    at.text_input(key=f"{key}-comment").input("clear and short").run()
    ok(at.button(key=f"{key}-up").click().run())
    (vote,) = votes(bench)
    assert (vote.thumbs_up, vote.comment) == (True, "clear and short")
    assert pressed(at, key) == ["up"] and at.text_input(key=f"{key}-comment").value == "clear and short"
    ok(at.button(key=f"{key}-up").click().run())  # the same comment: the click withdraws, as before
    assert votes(bench) == []


def test_a_comment_is_edited_and_deleted_on_its_own(bench: Workbench) -> None:
    at, key = explorer()
    at.text_input(key=f"{key}-comment").input("first thought").run()
    ok(at.button(key=f"{key}-down").click().run())
    assert [(v.thumbs_up, v.comment) for v in votes(bench)] == [(False, "first thought")]
    at.text_input(key=f"{key}-comment").input("second thought").run()
    ok(at.button(key=f"{key}-save").click().run())
    assert [(v.thumbs_up, v.comment) for v in votes(bench)] == [(False, "second thought")]
    assert "💬 anonymous: second thought" in [t.value for t in at.text]
    ok(at.button(key=f"{key}-delete").click().run())
    assert [(v.thumbs_up, v.comment) for v in votes(bench)] == [(False, None)]
    assert pressed(at, key) == ["down"] and at.text_input(key=f"{key}-comment").value == ""
    assert not [t for t in at.text if t.value.startswith("💬")]
