"""Shared links in a real browser: a copied URL reproduces the view, Back steps through the selections, and a case
in Compare opens in the Case explorer with the same suite and arms."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from tests.support.browser import open_page, settle

pytestmark = pytest.mark.browser


def chosen(page, label: str) -> str:  # noqa: ANN001 - a Playwright page
    """The value a selectbox shows."""
    return page.get_by_role("combobox", name=label, exact=True).first.input_value()


def query(page) -> dict[str, list[str]]:  # noqa: ANN001
    return parse_qs(urlparse(page.url).query)


def pick(page, label: str, option: str) -> None:  # noqa: ANN001
    page.get_by_label(label, exact=True).first.click()
    page.get_by_role("option", name=option, exact=True).first.click()
    page.wait_for_function(f"() => location.search.includes({urlencode({'x': option})[2:]!r})", timeout=30_000)
    settle(page)


def test_a_shared_explorer_link_shows_the_same_case_and_arms(server, page) -> None:  # noqa: ANN001
    url, bench = server
    open_page(page, f"{url}/Case_explorer", "Extracted answer")
    page.get_by_label("Arms", exact=True).first.click()
    first = bench.commits[0][:7]  # arms that are not shown by default
    arms = [o.strip() for o in page.get_by_role("option").all_inner_texts() if o.startswith(f"{first}:")][:2]
    assert len(arms) == 2
    page.keyboard.press("Escape")
    link = f"{url}/Case_explorer?" + urlencode(
        {"explorer_suite": "math", "explorer_case": "nine_plus_nine", "explorer_arms": arms}, doseq=True
    )
    open_page(page, link, "Extracted answer")
    assert chosen(page, "Case") == "nine_plus_nine"
    headings = page.locator("h4").all_inner_texts()
    assert [h.strip() for h in headings] == [a.split(" — ")[0] for a in arms]
    assert query(page)["explorer_case"] == ["nine_plus_nine"]


def test_back_returns_to_the_previous_selection(server, page) -> None:  # noqa: ANN001
    url, _ = server
    open_page(page, f"{url}/Case_explorer", "Extracted answer")
    pick(page, "Case", "two_plus_three")
    pick(page, "Case", "six_halves")
    assert query(page)["explorer_case"] == ["six_halves"]
    page.go_back()
    page.wait_for_function("() => location.search.includes('two_plus_three')", timeout=30_000)
    settle(page)
    page.wait_for_function(
        """() => [...document.querySelectorAll('input[role="combobox"]')].some(e => e.value === 'two_plus_three')""",
        timeout=30_000,
    )
    assert chosen(page, "Case") == "two_plus_three"


def test_a_compare_case_opens_in_the_case_explorer(server, page) -> None:  # noqa: ANN001
    url, _ = server
    open_page(page, f"{url}/Compare", "Outputs side by side")
    a, b = chosen(page, "A (baseline)"), chosen(page, "B (candidate)")
    link = page.get_by_role("link", name="Open in the Case explorer").first
    (case,) = parse_qs(urlparse(link.get_attribute("href")).query)["explorer_case"]
    link.click()
    page.wait_for_url("**/Case_explorer?**", timeout=30_000)
    settle(page)
    page.get_by_text("Extracted answer").first.wait_for(timeout=30_000)
    assert chosen(page, "Case") == case
    assert [h.strip() for h in page.locator("h4").all_inner_texts()] == [a.split(" — ")[0], b.split(" — ")[0]]
    assert query(page)["explorer_arms"] == [a, b]
    page.go_back()
    page.wait_for_url("**/Compare**", timeout=30_000)
    settle(page)
    assert chosen(page, "B (candidate)") == b
