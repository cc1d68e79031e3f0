"""The planner: which arms (prompt version x variant) each suite evaluates, and which pairs its gate compares.

Revisions come from the command line, the suite file or the prompt's last N commits; with a baseline ref only
suites whose prompt, suite file or case file changed since the ref are planned, at the ref and now. A bad
revision, ref or variant fails here, before any work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from promptarena.errors import ConfigError
from promptarena.gitstore import PromptStore, PromptVersion
from promptarena.suite import Spec, Suite
from promptarena.types import Case
from promptarena.variants import make_variant


@dataclass(frozen=True)
class Arm:
    """One arm of the experiment: a prompt version evaluated with one variant."""

    version: PromptVersion
    variant: Spec

    @property
    def label(self) -> str:
        return f"{self.version.label}:{self.variant.name}"


@dataclass
class SuitePlan:
    """What one suite evaluates: its versions (newest first), the baseline version, or why it is skipped."""

    suite: Suite
    versions: list[PromptVersion]
    baseline: PromptVersion | None = None
    skipped: str | None = None

    @property
    def arms(self) -> list[Arm]:
        """Every version with every variant of the suite."""
        return make_arms(self.suite, self.versions)

    @property
    def baseline_pairs(self) -> list[tuple[Arm, Arm]]:
        """(baseline arm, current arm) per variant, when the prompt differs from the baseline's."""
        if self.baseline is None or len(self.versions) != 2:
            return []
        current, base = self.versions
        return [(Arm(base, v), Arm(current, v)) for v in self.suite.variants]


def select_versions(suite: Suite, store: PromptStore, revisions: Sequence[str] | None = None) -> list[PromptVersion]:
    """The versions a suite evaluates: revisions given on the command line, in the suite, or the last N."""
    revs = list(revisions) if revisions else (list(suite.versions) if isinstance(suite.versions, tuple) else None)
    if revs is None:
        return store.default_versions(suite.prompt, last=int(suite.versions))  # type: ignore[arg-type]
    seen: dict[str, PromptVersion] = {}
    for rev in revs:
        version = store.resolve(f"{suite.prompt}@{rev}")
        seen.setdefault(version.label, version)
    return list(seen.values())


def make_arms(suite: Suite, versions: Sequence[PromptVersion], variants: Sequence[Spec] | None = None) -> list[Arm]:
    """Versions x variants (by default the suite's own), version by version."""
    specs = list(variants) if variants is not None else list(suite.variants)
    return [Arm(v, s) for v in versions for s in specs]


def plan_suite(suite: Suite, store: PromptStore, revisions: Sequence[str], baseline: str | None) -> SuitePlan:
    """Resolve what a suite evaluates; a bad revision or ref fails here, before any work."""
    if not baseline:
        return SuitePlan(suite, select_versions(suite, store, revisions or None))
    current = store.default_versions(suite.prompt, last=1)[0]
    base = store.version_at(suite.prompt, baseline)
    if base is None:
        return SuitePlan(suite, [current])  # a new prompt: thresholds only
    files = [suite.path] + ([suite.case_file] if suite.case_file else [])
    if base.blob == current.blob and not store.changed_since(baseline, files):
        return SuitePlan(suite, [], base, skipped=f"unchanged since {baseline}")
    return SuitePlan(suite, [current] if base.label == current.label else [current, base], base)


def parse_arm(spec: str) -> tuple[str, str | None]:
    """``"HEAD~1:cot"`` -> ``("HEAD~1", "cot")``; an optional ``NAME@`` prefix is dropped."""
    rev = spec.split("@", 1)[1] if "@" in spec else spec
    rev, _, variant = rev.rpartition(":") if ":" in rev else (rev, "", "")
    if not rev:
        raise ConfigError(f"arm {spec!r}: write it as REV or REV:VARIANT, for example HEAD~1:cot.")
    return rev, variant or None


def resolve_arms(suite: Suite, store: PromptStore, specs: Sequence[str]) -> list[Arm]:
    """Arms written as ``REV[:VARIANT]``; a variant the suite does not configure runs with its defaults.

    Raises:
        ConfigError: for a bad revision or variant, or two specs naming the same arm.
    """
    chosen = []
    for spec in specs:
        rev, variant = parse_arm(spec)
        version = store.resolve(f"{suite.prompt}@{rev}")
        named = next((v for v in suite.variants if v.name == (variant or "")), None)
        if named is None:
            named = (
                Spec(variant) if variant else next((v for v in suite.variants if v.name == "plain"), suite.variants[0])
            )
            make_variant(named.name, named.options)
        chosen.append(Arm(version, named))
    labels = [a.label for a in chosen]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"the arms {', '.join(specs)} name the same version and variant twice; pick distinct arms.")
    return chosen


def perturbed_cases(suite: Suite) -> list[tuple[str, Case]]:
    """Every case under each of the suite's perturbations, as (perturbation name, perturbed case), in suite order.

    A fairness counterfactual rewrites the references together with the variables, so that a person is
    named the same way in both; a robustness perturbation leaves the references as written.
    """
    from promptarena.perturbations import get_perturbation, perturb_vars

    out = []
    seed = suite.holistic.perturbation_seed
    for name in suite.holistic.perturbations:
        perturbation = get_perturbation(name)
        for case in suite.cases:
            if perturbation.kind == "fairness":
                both = perturb_vars({"vars": case.vars, "refs": list(case.references)}, perturbation, seed, case.id)
                out.append((name, replace(case, vars=both["vars"], references=tuple(both["refs"]))))
            else:
                out.append((name, replace(case, vars=perturb_vars(case.vars, perturbation, seed, case.id))))
    return out
