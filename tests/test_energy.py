"""Energy from RAPL counters in a powercap folder laid out as Linux lays it out, and "not measured" without one."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from promptarena import energy
from promptarena.energy import measure_energy, rapl_zones, read_rapl
from promptarena.engine import run_suite
from promptarena.gitstore import PromptStore
from promptarena.report import fmt_energy, suite_table, summary_json
from promptarena.store import ResultsStore
from promptarena.suite import load_suite
from tests.support.repos import qa_repo

MAX_UJ = 262_143_328_850


def _zone(root: Path, name: str, label: str, uj: int) -> Path:
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "name").write_text(label + "\n")
    (zone / "energy_uj").write_text(f"{uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{MAX_UJ}\n")
    return zone


@pytest.fixture()
def powercap(tmp_path: Path) -> Path:
    """Two CPU packages, a core subzone inside the first and a platform (psys) zone: only packages count."""
    root = tmp_path / "powercap"
    _zone(root, "intel-rapl:0", "package-0", 5_000_000)
    _zone(root, "intel-rapl:0:0", "core", 1_000_000)
    _zone(root, "intel-rapl:1", "package-1", 7_000_000)
    _zone(root, "intel-rapl:2", "psys", 9_000_000)
    return root


def _set(zone: Path, uj: int) -> None:
    (zone / "energy_uj").write_text(f"{uj}\n")


def test_only_package_zones_are_counted(powercap: Path) -> None:
    assert [z.name for z in rapl_zones(powercap)] == ["intel-rapl:0", "intel-rapl:1"]
    assert sorted(read_rapl(powercap).values()) == [5_000_000, 7_000_000]  # type: ignore[union-attr]


def test_joules_are_the_counters_rise_over_the_block(powercap: Path) -> None:
    with measure_energy(powercap) as used:
        _set(powercap / "intel-rapl:0", 7_500_000)  # +2.5 J
        _set(powercap / "intel-rapl:1", 8_000_000)  # +1.0 J
        _set(powercap / "intel-rapl:0:0", 9_000_000)  # a subzone: part of package-0 already
    assert used.joules == pytest.approx(3.5) and used.sources == ("RAPL",)
    assert fmt_energy(used.joules, used.sources) == "energy: 3.5 J (RAPL)"


def test_a_counter_that_wrapped_is_unwrapped_at_its_range(powercap: Path) -> None:
    _set(powercap / "intel-rapl:0", MAX_UJ - 1_000_000)
    with measure_energy(powercap) as used:
        _set(powercap / "intel-rapl:0", 500_000)  # wrapped: 1.0 J to the top, then 0.5 J
    assert used.joules == pytest.approx(1.5)


def test_an_unreadable_counter_or_no_powercap_is_not_measured(powercap: Path, tmp_path: Path) -> None:
    counter = powercap / "intel-rapl:1" / "energy_uj"
    counter.unlink()
    counter.mkdir()  # reading it fails with an OSError, as a root-only counter does for other users
    with measure_energy(powercap) as used:
        pass
    assert used.joules is None and used.sources == ()
    with measure_energy(tmp_path / "absent") as none:
        pass
    assert none.joules is None
    assert fmt_energy(None) == "energy: not measured"


def test_a_run_reports_its_energy_or_says_not_measured(tmp_path: Path, powercap: Path, monkeypatch) -> None:
    repo = qa_repo(tmp_path / "repo")
    store = PromptStore(repo.root)
    suite = load_suite(repo.root / "evals" / "qa.yaml", repo.root)
    console = Console(width=200, record=True)
    with ResultsStore(tmp_path / "results.db") as results:
        monkeypatch.setattr(energy, "POWERCAP", tmp_path / "absent")
        unmeasured = run_suite(suite, store, results)
        assert unmeasured.energy_j is None and summary_json(unmeasured)["energy_j"] is None
        console.print(suite_table(unmeasured))
        assert "energy: not measured" in console.export_text()
        monkeypatch.setattr(energy, "POWERCAP", powercap)
        measured = run_suite(suite, store, results)
    store.close()
    assert measured.energy_j == 0.0 and summary_json(measured)["energy_sources"] == ["RAPL"]  # the fake draws none
    console.print(suite_table(measured))
    assert "energy: 0.0 J (RAPL)" in console.export_text()
