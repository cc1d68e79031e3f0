"""Reports for CI test views: JUnit XML with one test case per gate."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from promptarena.report._files import write_report
from promptarena.report.gates import gate_detail, gate_line

if TYPE_CHECKING:
    from promptarena.gate import SuiteOutcome


def write_junit(path: Path, outcomes: Sequence[SuiteOutcome]) -> None:
    """One test suite per evaluation suite, one test case per gate (a skipped suite is one skipped case)."""
    from xml.etree import ElementTree as ET  # only a run that writes JUnit pays for loading it

    root = ET.Element("testsuites", name="promptarena")
    for outcome in outcomes:
        failures = len(outcome.failures)
        wall = f"{outcome.result.wall_s:.3f}" if outcome.result else "0"
        ts = ET.SubElement(
            root, "testsuite", name=outcome.suite.name, tests=str(max(1, len(outcome.gates))), failures=str(failures)
        )
        ts.set("time", wall)
        if outcome.skipped or not outcome.gates:
            case = ET.SubElement(ts, "testcase", classname=outcome.suite.name, name="evaluate")
            if outcome.skipped:
                ET.SubElement(case, "skipped", message=outcome.skipped)
        for gate in outcome.gates:
            case = ET.SubElement(ts, "testcase", classname=outcome.suite.name, name=gate.name)
            if not gate.passed:
                ET.SubElement(case, "failure", message=gate_detail(gate)).text = gate_line(gate)
            else:
                ET.SubElement(case, "system-out").text = gate_detail(gate)
    write_report(path, ET.tostring(root, encoding="utf-8", xml_declaration=True))
