"""The review queue's read model and page: which outputs are left to review, in which order, what the model saw for
each, and the words that differ between two outputs (the workbench fixture, evaluated by the real engine)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from promptarena import feedback, views
from promptarena.errors import PromptArenaError
from promptarena.store import ResultsStore
from tests.support.workbench import APP, Workbench, build_workbench, point_app_at

ORDER = ["one_plus_one", "two_plus_three", "four_times_two", "ten_minus_three"]
ORDER += ["six_halves", "nine_plus_nine", "html_script", "html_img"]
SLIPS = {"two_plus_three", "ten_minus_three", "nine_plus_nine"}  # the first version's wrong sums


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    return build_workbench(tmp_path_factory.mktemp("review"))


@pytest.fixture
def bench(built: Workbench) -> Workbench:
    with ResultsStore(built.db) as results, results.write() as conn:
        conn.execute("DELETE FROM feedback")
    return built


def _arm(bench: Workbench, label: str) -> views.ArmChoice:
    with ResultsStore(bench.db) as results:
        choices = views.arm_choices(results, "math")
    first = bench.commits[0][:7]
    return next(c for c in choices if c.label == label.replace("v1", first))


def _queue(bench: Workbench, *labels: str, **how: object) -> list[views.QueueItem]:
    with ResultsStore(bench.db) as results:
        return views.review_queue(results, [_arm(bench, label) for label in labels], **how)  # type: ignore[arg-type]


def _vote(bench: Workbench, item: views.QueueItem, name: str, up: bool) -> None:
    c = item.choice
    with ResultsStore(bench.db) as results:
        feedback.record(
            results, suite=c.suite, prompt=c.prompt, blob=c.blob, variant=c.variant, case_id=item.case_id,
            output=item.output, thumbs_up=up, name=name,
        )  # fmt: skip


def test_the_queue_holds_every_output_of_the_arm_and_a_vote_takes_one_off(bench: Workbench) -> None:
    items = _queue(bench, "worktree:plain", order="suite")
    assert [i.case_id for i in items] == ORDER
    assert items[0].output == "The answer is 2." and items[0].other is None
    _vote(bench, items[0], "Alice", True)
    items = _queue(bench, "worktree:plain", order="suite")
    assert [i.case_id for i in views.pending(items)] == ORDER[1:]  # nobody has voted on these
    assert [i.case_id for i in views.pending(items, "alice")] == ORDER[1:]
    assert [i.case_id for i in views.pending(items, "bob")] == ORDER  # Bob has voted on none


def test_metric_order_puts_the_lowest_score_first(bench: Workbench) -> None:
    items = _queue(bench, "v1:plain", order="metric", metric="exact_match")
    scores = [i.scores["exact_match"] for i in items]
    assert scores == sorted(scores) and scores[0] == 0.0 and scores[-1] == 1.0
    assert {i.case_id for i in items if i.scores["exact_match"] == 0} == SLIPS | {"html_script", "html_img"}


def test_a_seed_fixes_the_random_order_so_two_reviewers_can_split_the_work(bench: Workbench) -> None:
    first = [i.case_id for i in _queue(bench, "worktree:plain", order="random", seed=1)]
    again = [i.case_id for i in _queue(bench, "worktree:plain", order="random", seed=1)]
    other = [i.case_id for i in _queue(bench, "worktree:plain", order="random", seed=2)]
    assert first == again and sorted(first) == sorted(ORDER)
    assert other != first


def test_disagreement_puts_the_cases_where_two_arms_part_first(bench: Workbench) -> None:
    items = _queue(bench, "v1:plain", "worktree:plain", order="disagreement", metric="exact_match")
    assert len(items) == 16  # each arm's output, beside the other's
    assert {i.case_id for i in items[:6]} == SLIPS
    assert all(i.disagreement == 1.0 for i in items[:6]) and all(i.disagreement == 0.0 for i in items[6:])
    slip = next(i for i in items if i.case_id == "two_plus_three" and i.choice.version == "worktree")
    assert (slip.output, slip.other_output) == ("The answer is 5.", "The answer is 6.")


def test_disagreement_counts_samples_that_split_and_a_judge_people_overrule(bench: Workbench) -> None:
    sampled = _queue(bench, "v1:self_consistency", order="disagreement", metric="exact_match")
    assert {round(i.disagreement, 3) for i in sampled if i.case_id in ORDER[:6]} == {round(1 - 2 / 3, 3)}
    items = _queue(bench, "worktree:plain", order="disagreement", metric="exact_match")
    assert items[0].disagreement == 0.0
    # exact_match passes 1+1; a person says it is wrong: judge and people disagree, so it comes first for others
    _vote(bench, next(i for i in items if i.case_id == "one_plus_one"), "Bob", False)
    items = _queue(bench, "worktree:plain", order="disagreement", metric="exact_match")
    assert (items[0].case_id, items[0].disagreement, items[0].voters) == ("one_plus_one", 1.0, {"bob"})
    assert views.pending(items, "alice")[0].case_id == "one_plus_one"


def test_an_unknown_order_is_named(bench: Workbench) -> None:
    with pytest.raises(PromptArenaError, match="unknown queue order 'loudest'"):
        _queue(bench, "worktree:plain", order="loudest")


def test_what_the_model_saw_is_the_rendered_messages_with_parameters_and_tokens(bench: Workbench) -> None:
    plain = _queue(bench, "worktree:plain", order="suite")[0]
    sampled = next(i for i in _queue(bench, "worktree:self_consistency", order="suite") if i.case_id == "one_plus_one")
    with ResultsStore(bench.db) as results:
        (sent,) = views.sent_requests(results, plain.keys)
        samples = views.sent_requests(results, sampled.keys)
    assert [(m.role, m.content) for m in sent.messages] == [("user", "Solve exactly, checking each step:\n1+1")]
    assert sent.params["max_new_tokens"] == 32 and sent.params["temperature"] == 0
    assert sent.prompt_tokens > 0 and sent.completion_tokens > 0 and sent.latency_s >= 0
    assert [s.sample_index for s in samples] == [0, 1, 2]
    assert {s.params["temperature"] for s in samples} == {0.7}


def test_the_word_diff_marks_changed_words_and_escapes_every_text() -> None:
    html = views.word_diff("<b>old</b> text\n  **kept**", "<b>new</b> text\n  **kept**")
    assert html == "<del>&lt;b&gt;old&lt;/b&gt;</del><ins>&lt;b&gt;new&lt;/b&gt;</ins> text\n  **kept**"
    assert views.word_diff("same", "same") == "same"
    assert views.word_diff("", "<script>") == "<ins>&lt;script&gt;</ins>"


def _page(bench: Workbench, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    point_app_at(monkeypatch, bench.repo.root, bench.db)
    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    at.switch_page("pages/9_Review.py")
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_shows_one_output_with_progress_and_a_vote_moves_on(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _page(bench, monkeypatch, review_order="suite")
    assert [t.value for t in at.text][0] == "Case one_plus_one · arm worktree:plain"
    assert "8 of 8 outputs left to review" in str(at.get("progress")[0].proto)
    at.button(key="queue-up").click().run()
    assert [t.value for t in at.text][0] == "Case two_plus_three · arm worktree:plain"
    assert "7 of 8 outputs left to review" in str(at.get("progress")[0].proto)
    at.button(key="queue-skip").click().run()
    assert [t.value for t in at.text][0] == "Case four_times_two · arm worktree:plain"
    at.button(key="queue-back").click().run()
    assert [t.value for t in at.text][0] == "Case two_plus_three · arm worktree:plain"


def test_the_page_shows_the_other_arm_and_the_words_that_differ(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = _arm(bench, "v1:plain")
    at = _page(bench, monkeypatch, review_other=f"{v1.label} — Add the math prompt", review_metric="exact_match")
    assert [t.value for t in at.text][0].startswith("Case two_plus_three · arm ")
    diffs = [str(e.proto) for e in at.get("html") if "<del" in str(e.proto)]
    assert len(diffs) == 1 and "answer is <del" in diffs[0]


def test_compare_shows_what_the_model_saw_and_the_words_that_differ(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_app_at(monkeypatch, bench.repo.root, bench.db)
    at = AppTest.from_file(str(APP / "Overview.py"), default_timeout=60)
    at.switch_page("pages/2_Compare.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    saw = [t for t in at.toggle if t.label == "What the model saw"]
    assert len(saw) == 16  # A and B of each of the page's 8 cases, drawn only when switched on
    assert "Solve exactly, checking each step:\n9+9" not in [c.value for c in at.code]
    for toggle in saw:
        toggle.set_value(True)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Solve exactly, checking each step:\n9+9" in [c.value for c in at.code]
    differ = [e for e in at.expander if e.label.startswith("Words that differ")]
    assert len(differ) == 1  # 9+9: the only case whose outputs differ between the two newest versions
    assert "The answer is <del" in str(differ[0].get("html")[0].proto)


def test_a_link_with_a_seed_shows_that_seeds_order(bench: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _queue(bench, "worktree:plain", order="random", seed=3)[0].case_id
    at = _page(bench, monkeypatch, review_order="random", review_seed="3")
    assert at.number_input(key="review_seed").value == 3
    assert [t.value for t in at.text][0] == f"Case {first} · arm worktree:plain"
    at.number_input(key="review_seed").set_value(4).run()
    assert at.query_params["review_seed"] in ("4", ["4"])
