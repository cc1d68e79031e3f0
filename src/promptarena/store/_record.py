"""The record of a run: one typed, versioned document per completed run, kept in the runs table and read back by
attribute. The engine builds it, the store writes and reads it, the reports render it, the workbench reads it.

A record holds what the run measured, never people's votes: they change after a run, so they are read from the
store when they are shown or gated (``promptarena.feedback``). Records written before records had a version
(version 1) are upgraded as they are read: the votes they froze into their arms' metrics are dropped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from promptarena.stats import Interval

VERSION = 2
"""The version of the record this code writes; a record without one is version 1."""

_FROZEN_VOTES = ("thumbs_up",)
"""Metrics that version 1 records froze from people's votes at run time."""

_NAN = float("nan")


class _Record(BaseModel):
    # Fields added to a later version are read from older rows with their defaults; unknown ones are kept out.
    model_config = ConfigDict(extra="ignore", ser_json_inf_nan="constants")


class ArmRecord(_Record):
    """One arm (version x variant x model) of a run: each metric's mean with its interval, and its efficiency."""

    arm: str
    version: str
    commit: str | None = None
    blob: str
    dirty: bool = False
    message: str | None = None
    variant: str
    model: str = ""
    metrics: dict[str, Interval] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict)  # metric -> cases whose scoring failed
    first_error: dict[str, str] = Field(default_factory=dict)  # metric -> the first such case and its error
    latency_p50_s: float = _NAN
    latency_p95_s: float = _NAN
    tokens_per_s: float = _NAN
    mean_output_tokens: float = _NAN
    holistic: dict[str, Any] | None = None  # the HELM dimensions as plain data (see ``holistic.holistic_json``)


class RunRecord(_Record):
    """A completed run: what it evaluated, what it generated and cached, how long it took, and its arms."""

    suite: str
    prompt: str
    run_id: str
    model: str = ""
    cases: int = 0
    generated: int = 0
    cached: int = 0
    generated_tokens: int = 0
    generation_s: float = _NAN
    load_s: float = 0.0
    wall_s: float = _NAN
    peak_memory_mb: float = _NAN
    energy_j: float | None = None  # None: the hardware has no counter this can read
    energy_sources: list[str] = Field(default_factory=list)
    arms: list[ArmRecord] = Field(default_factory=list)
    record_version: int = VERSION

    def plain(self) -> dict[str, Any]:
        """The record as plain data, in the shape `evals run --json` prints: without its version, and an arm's
        ``holistic`` only where the suite declares one."""
        doc = self.model_dump(exclude={"record_version"})
        for arm in doc["arms"]:
            if arm["holistic"] is None:
                del arm["holistic"]
        return doc


def dump_record(record: RunRecord) -> str:
    """The record as the runs table keeps it: JSON, with NaN written as Python's json writes it."""
    return record.model_dump_json()


@dataclass(frozen=True)
class Stopped:
    """Why a failed or interrupted run stopped, and what it had done by then (a rerun resumes from there)."""

    error: str
    generated: int | None = None
    cached: int | None = None
    wall_s: float | None = None


def dump_stopped(stopped: Stopped) -> str:
    """A stopped run's summary as the runs table keeps it."""
    return json.dumps({k: v for k, v in asdict(stopped).items() if v is not None}, ensure_ascii=False)


def load_record(text: str) -> tuple[RunRecord | None, Stopped | None]:
    """(record, stopped) of a stored summary: a completed run's record, or why a failed run stopped.

    A summary that is no record (written by another program) reads as an error of its run, so one odd row in a
    merged database never hides the others.
    """
    try:
        if '"record_version"' in text:  # a record of this version (or later): parsed and checked in one pass
            return RunRecord.model_validate_json(text), None
        data = json.loads(text)
        if isinstance(data, dict) and "error" in data and "arms" not in data:
            return None, Stopped(**{k: data[k] for k in ("error", "generated", "cached", "wall_s") if k in data})
        return RunRecord.model_validate(_upgrade_v1(data)), None
    except (ValueError, TypeError, AttributeError) as err:  # pydantic's ValidationError is a ValueError
        return None, Stopped(f"its stored record does not read ({type(err).__name__}); run the suite again")


def _upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 summary as a version 2 record: the votes it froze into its arms' metrics are dropped."""
    arms = [
        {**arm, "metrics": {m: iv for m, iv in (arm.get("metrics") or {}).items() if m not in _FROZEN_VOTES}}
        for arm in data.get("arms") or []
    ]
    return {**data, "arms": arms, "record_version": 2}
