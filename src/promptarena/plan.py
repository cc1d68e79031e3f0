"""The planner: which arms (prompt version x variant x model) each suite evaluates, and which pairs its gate compares.

Revisions come from the command line, the suite file or the prompt's last N commits; with a baseline ref only
suites whose prompt, suite file or case file changed since the ref are planned, at the ref and now. A bad
revision, ref or variant fails here, before any work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promptarena.errors import ConfigError, did_you_mean
from promptarena.gitstore import PromptStore, PromptVersion
from promptarena.suite import Spec, Suite
from promptarena.variants import make_variant


@dataclass(frozen=True)
class Arm:
    """One arm of the experiment: a prompt version evaluated with one variant on one model.

    ``model`` is a name from the suite's `models:`, or ``""`` for a suite with one `model:` (its labels
    then stay ``version:variant``).
    """

    version: PromptVersion
    variant: Spec
    model: str = ""

    @property
    def label(self) -> str:
        base = f"{self.version.label}:{self.variant.name}"
        return f"{base}@{self.model}" if self.model else base


def model_names(suite: Suite) -> list[str]:
    """The names arms carry: the suite's `models:` in file order, or ``[""]`` for its one `model:`."""
    return list(suite.models) or [""]


def model_options(suite: Suite, name: str) -> dict[str, Any]:
    """The backend options of the model an arm names (``""``: the suite's one `model:`)."""
    return dict(suite.models[name]) if name else dict(suite.model)


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
        return [(Arm(base, v, m), Arm(current, v, m)) for v in self.suite.variants for m in model_names(self.suite)]


def select_versions(suite: Suite, prompts: PromptStore, revisions: Sequence[str] | None = None) -> list[PromptVersion]:
    """The versions a suite evaluates: revisions given on the command line, in the suite, or the last N."""
    revs = list(revisions) if revisions else (list(suite.versions) if isinstance(suite.versions, tuple) else None)
    if revs is None:
        return prompts.default_versions(suite.prompt, last=int(suite.versions))  # type: ignore[arg-type]
    seen: dict[str, PromptVersion] = {}
    for rev in revs:
        version = prompts.resolve(f"{suite.prompt}@{rev}")
        seen.setdefault(version.label, version)
    return list(seen.values())


def make_arms(suite: Suite, versions: Sequence[PromptVersion], variants: Sequence[Spec] | None = None) -> list[Arm]:
    """Versions x variants (by default the suite's own) x the suite's models, version by version."""
    specs = list(variants) if variants is not None else list(suite.variants)
    return [Arm(v, s, m) for v in versions for s in specs for m in model_names(suite)]


def plan_suite(suite: Suite, prompts: PromptStore, revisions: Sequence[str], baseline: str | None) -> SuitePlan:
    """Resolve what a suite evaluates; a bad revision or ref fails here, before any work."""
    if not baseline:
        return SuitePlan(suite, select_versions(suite, prompts, revisions or None))
    current = prompts.default_versions(suite.prompt, last=1)[0]
    base = prompts.version_at(suite.prompt, baseline)
    if base is None:
        return SuitePlan(suite, [current])  # a new prompt: thresholds only
    files = [suite.path] + ([suite.case_file] if suite.case_file else [])
    files += [path for spec in suite.metrics if spec.metric for path in spec.metric.sources]  # a scorer's code
    if base.blob == current.blob and not prompts.changed_since(baseline, files):
        return SuitePlan(suite, [], base, skipped=f"unchanged since {baseline}")
    return SuitePlan(suite, [current] if base.label == current.label else [current, base], base)


def parse_arm(spec: str) -> tuple[str, str | None]:
    """``"HEAD~1:cot"`` -> ``("HEAD~1", "cot")``; an optional ``NAME@`` prefix is dropped."""
    rev = spec.split("@", 1)[1] if "@" in spec else spec
    rev, _, variant = rev.rpartition(":") if ":" in rev else (rev, "", "")
    if not rev:
        raise ConfigError(f"arm {spec!r}: write it as REV or REV:VARIANT, for example HEAD~1:cot.")
    return rev, variant or None


def split_model(suite: Suite, spec: str) -> tuple[str, str]:
    """``"HEAD:plain@tuned"`` -> ``("HEAD:plain", "tuned")``; an arm that names no model runs on the suite's first.

    Raises:
        ConfigError: for a model the suite does not list, or any model on a suite with one `model:`.
    """
    names = list(suite.models)
    head, at, tail = spec.rpartition("@")
    if not at or (tail not in names and ":" not in head):
        return spec, names[0] if names else ""  # no model: ``REV``, ``NAME@REV``
    if tail in names:
        return head, tail
    if not names:
        raise ConfigError(f"arm {spec!r}: the suite has one model; drop '@{tail}', or list models under `models:`.")
    raise ConfigError(
        f"arm {spec!r}: the suite lists no model {tail!r}{did_you_mean(tail, names)}; its models: {', '.join(names)}."
    )


def resolve_arms(suite: Suite, prompts: PromptStore, specs: Sequence[str]) -> list[Arm]:
    """Arms written as ``REV[:VARIANT][@MODEL]``; a variant the suite does not configure runs with its defaults.

    Raises:
        ConfigError: for a bad revision, variant or model, or two specs naming the same arm.
    """
    chosen = []
    for spec in specs:
        written, model = split_model(suite, spec)
        rev, variant = parse_arm(written)
        version = prompts.resolve(f"{suite.prompt}@{rev}")
        named = next((v for v in suite.variants if v.name == (variant or "")), None)
        if named is None:
            named = (
                Spec(variant) if variant else next((v for v in suite.variants if v.name == "plain"), suite.variants[0])
            )
            make_variant(named.name, named.options)
        chosen.append(Arm(version, named, model))
    labels = [a.label for a in chosen]
    if len(set(labels)) != len(labels):
        what = "version, variant and model" if suite.models else "version and variant"
        raise ConfigError(f"the arms {', '.join(specs)} name the same {what} twice; pick distinct arms.")
    return chosen
