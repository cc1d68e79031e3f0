"""The read models the workbench needs: stored suites, arms and their per-case results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from promptarena.store._db import Database


@dataclass(frozen=True)
class StoredArm:
    """An arm (version blob x variant x model) as one run stored it; ``first`` orders arms as the run wrote them."""

    blob: str
    variant: str
    version: str
    commit: str | None
    run_id: str
    started_at: str
    prompt: str
    first: int
    model: str = ""  # a name from the suite's `models:`; '' for a suite with one model


class Queries(Database):
    """Reads for the workbench, each one query under the store's error naming."""

    def stored_suites(self) -> list[tuple[str, str]]:
        """(suite, prompt) of every suite with stored runs, by name."""
        with self.read() as conn:
            return [(s, p) for s, p in conn.execute("SELECT suite, prompt FROM runs GROUP BY suite ORDER BY suite")]

    def stored_arms(self, suite: str) -> list[StoredArm]:
        """Every arm of the suite in every completed run, newest run first."""
        with self.read() as conn:
            rows = conn.execute(
                """
                SELECT r.blob, r.variant, r.version, r.commit_sha, r.run_id, runs.started_at, r.prompt, r.first, r.model
                FROM (
                    SELECT run_id, blob, variant, model, version, commit_sha, prompt, MIN(rowid) AS first
                    FROM results WHERE suite = ? AND perturbation = '' GROUP BY run_id, blob, variant, model
                ) r
                JOIN runs ON runs.id = r.run_id
                WHERE runs.status = 'completed'
                ORDER BY runs.started_at DESC, runs.rowid DESC
                """,
                (suite,),
            ).fetchall()
        return [StoredArm(*row) for row in rows]

    def arm_results(
        self, run_id: str, blob: str, variant: str, case_id: str | None = None, model: str = ""
    ) -> dict[str, dict[str, Any]]:
        """case id -> the stored result of one arm in one run (output, answer, details, keys, scores, ...)."""
        rows = self._results(run_id, blob, variant, model, case_id, perturbed=False)
        return {row.pop("case_id"): row for row in rows if row.pop("perturbation") == ""}

    def perturbed_results(
        self, run_id: str, blob: str, variant: str, case_id: str, model: str = ""
    ) -> dict[str, dict[str, Any]]:
        """perturbation or layout -> one arm's stored result for one case under it, in the order they were stored."""
        rows = self._results(run_id, blob, variant, model, case_id, perturbed=True)
        return {row.pop("perturbation"): row for row in rows if row.pop("case_id") == case_id}

    def _results(
        self, run_id: str, blob: str, variant: str, model: str, case_id: str | None, *, perturbed: bool
    ) -> list[dict[str, Any]]:
        sql = (
            "SELECT case_id, perturbation, output, answer, confidence, reasoning, details, generation_keys, scores, "
            "version, commit_sha FROM results WHERE run_id = ? AND blob = ? AND variant = ? AND model = ? AND "
            + ("perturbation != ''" if perturbed else "perturbation = ''")
        )
        args = [run_id, blob, variant, model]
        if case_id is not None:
            sql += " AND case_id = ?"
            args.append(case_id)
        with self.read() as conn:
            rows = conn.execute(sql + " ORDER BY rowid", args).fetchall()
        return [
            {
                "case_id": case,
                "perturbation": label,
                "output": output,
                "answer": answer,
                "confidence": conf,
                "reasoning": reasoning,
                "details": json.loads(details),
                "keys": json.loads(keys),
                "scores": json.loads(scores),
                "version": version,
                "commit": commit,
            }
            for case, label, output, answer, conf, reasoning, details, keys, scores, version, commit in rows
        ]

    def case_ids(self, suite: str) -> list[str]:
        """Case ids with stored results for a suite, in the order they were first stored."""
        with self.read() as conn:
            rows = conn.execute(
                "SELECT case_id FROM results WHERE suite = ? AND perturbation = '' "
                "GROUP BY case_id ORDER BY MIN(rowid)",
                (suite,),
            )
            return [r[0] for r in rows]
