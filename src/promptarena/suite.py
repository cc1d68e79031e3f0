"""Evaluation suites: `evals/*.yaml` validated at the file boundary, then frozen for the engine."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from promptarena.backends.options import check_model, check_models
from promptarena.cases import CaseModel, load_cases, reference_warnings
from promptarena.errors import ConfigError
from promptarena.hashing import file_sha256
from promptarena.promptfile import Parameters
from promptarena.types import Case
from promptarena.yamlfile import Located, read_yaml, validation_error

if TYPE_CHECKING:
    from promptarena.metrics import Metric

# --- the file format (pydantic, extra fields refused) -------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VersionsModel(_Strict):
    last: int = Field(3, ge=1, le=100)


class SensitivityModel(_Strict):
    n: int = Field(ge=2, le=50)
    formats: list[str] | None = None


Layouts = Annotated[int, Field(ge=2, le=50)]


class SuiteModel(_Strict):
    description: str = ""
    prompt: str
    cases: str | list[CaseModel] | dict[str, Any]
    metrics: list[str | dict[str, Any]] = Field(default_factory=list)
    assertions: list[Any] = Field(default_factory=list, alias="assert")
    variants: list[str | dict[str, dict[str, Any] | None]] = Field(default_factory=lambda: ["plain"])
    versions: VersionsModel | list[str] = Field(default_factory=VersionsModel)
    thresholds: dict[str, float] = Field(default_factory=dict)
    gate: list[str] | None = None
    model: dict[str, Any] = Field(default_factory=lambda: {"backend": "transformers", "model": "default"})
    models: list[dict[str, Any]] | None = Field(default=None, min_length=1)
    seed: int = 0
    parameters: Parameters = Field(default_factory=Parameters)
    perturbations: list[str] = Field(default_factory=list)
    perturbation_seed: int | None = None
    bias: bool | list[str] = False
    toxicity: str | dict[str, Any] | None = None
    sensitivity: Layouts | SensitivityModel | None = None
    score_turns: Literal["last", "every"] = "last"

    @field_validator("metrics", "variants")
    @classmethod
    def _one_key(cls, items: list[Any]) -> list[Any]:
        from promptarena.metrics import metric_factories

        for item in items:
            if isinstance(item, dict) and item and next(iter(item)) in metric_factories:
                continue  # a metric of the suite's own: its factory checks the entry
            if isinstance(item, dict) and (kinds := [key for key in item if key in metric_factories]):
                raise ValueError(f"start the entry with `{kinds[0]}:`, the kind of metric it builds, then the rest")
            if isinstance(item, dict) and (len(item) != 1 or not isinstance(next(iter(item.values())), dict | None)):
                raise ValueError("write each entry as a name or as {name: {options}}")
        return items


# --- what the engine sees ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A registered thing named in a suite, with its options (a metric or a variant).

    ``metric`` is a metric of the suite's own, built from its entry by a factory (a scorer in the repository,
    a rubric judge); ``None`` for a registered one, looked up by name.
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)
    metric: Metric | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Holistic:
    """The suite's holistic parts beyond accuracy: perturbed cases, prompt layouts, bias and toxicity.

    ``sensitivity`` is the number of layouts per case, the prompt as written included (0: none); ``formats``
    the layout changes drawn from (empty: all); ``toxicity`` the scorer and its options.
    """

    perturbations: tuple[str, ...] = ()
    perturbation_seed: int = 0
    bias: tuple[str, ...] = ()
    toxicity: Spec | None = None
    sensitivity: int = 0
    formats: tuple[str, ...] = ()

    @property
    def declared(self) -> bool:
        """Whether the suite asks for any holistic part (then reports show the holistic table)."""
        return bool(self.perturbations or self.bias or self.toxicity or self.sensitivity)


@dataclass(frozen=True)
class Suite:
    name: str
    path: Path
    description: str
    prompt: str
    cases: tuple[Case, ...]
    metrics: tuple[Spec, ...]
    variants: tuple[Spec, ...]
    versions: tuple[str, ...] | int  # explicit revisions, or "the last N"
    thresholds: dict[str, float]
    gate: tuple[str, ...]
    model: dict[str, Any]
    seed: int
    parameters: dict[str, Any]
    suite_hash: str
    cases_hash: str
    case_file: Path | None = None
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # `models:`: name -> options, in file order
    holistic: Holistic = field(default_factory=Holistic)
    cases_at: str = ""  # where the suite file sets `cases:` (`evals/qa.yaml:3`), for messages
    warnings: tuple[str, ...] = ()  # one line each: what loads but would score less than its author thinks
    score_turns: str = "last"  # "last" | "every": which answers of a conversation the metrics score

    def metric(self, name: str) -> Metric:
        """The metric this suite calls ``name``: one of its own, else the registered one."""
        from promptarena.metrics import get_metric

        own = next((s.metric for s in self.metrics if s.name == name and s.metric is not None), None)
        return own or get_metric(name)


def _specs(items: list[Any]) -> tuple[Spec, ...]:
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(Spec(item))
        else:
            ((name, options),) = item.items()
            out.append(Spec(name, dict(options or {})))
    return tuple(out)


def _assertions(
    doc: Located, items: list[Any], cases: tuple[Case, ...], root: Path, build: bool = True
) -> tuple[tuple[Case, ...], dict[str, Metric]]:
    """The cases, each with the suite's `assert:` list before its own, and the metrics that the assertions feed
    (none when there are none, or when not ``build``); every assertion is checked and built here, its errors at
    its file and line."""
    if not items and not any(c.assertions for c in cases):
        return cases, {}
    from promptarena.metrics.assertions import assertion_metrics, parse_assertions

    wheres = [f"{doc.source}:{doc.line(['assert', i])}" for i in range(len(items))]
    own = parse_assertions(items, wheres, prefix="suite ")
    located = [*zip(own, wheres, strict=True), *((a, c.meta["where"]) for c in cases for a in c.assertions)]
    if own:
        cases = tuple(replace(c, assertions=(*own, *c.assertions)) for c in cases)
    return cases, assertion_metrics(located, root) if build else {}


def _metric_specs(
    doc: Located,
    items: list[Any],
    root: Path,
    scored: dict[str, Metric],
    model: dict[str, Any],
    cases: tuple[Case, ...],
    build: bool = True,
) -> tuple[Spec, ...]:
    """The suite's metrics: registered names with options, metrics of its own built by their factories, and those
    its assertions feed (``scored``): where `metrics:` names them, else after the others. Without ``build``, the
    registered ones only (a suite read for its cases)."""
    from promptarena.metrics import FactoryContext, metric_factories
    from promptarena.metrics.assertions import METRICS

    out = []
    for i, item in enumerate(items):
        if isinstance(item, str) and item in METRICS:
            if not build:
                continue
            if item not in scored:
                raise ConfigError(
                    f"{doc.source}:{doc.line(['metrics', i])}: metrics[{i}]: {item!r} scores the `assert:` lists of "
                    "the suite and its cases, but there are none; add one (docs/suite-format.md) or remove it."
                )
            out.append(Spec(item, {}, scored[item]))
        elif isinstance(item, dict) and next(iter(item)) in metric_factories:
            if not build:
                continue
            where = f"{doc.source}:{doc.line(['metrics', i])}: metrics[{i}]"
            context = FactoryContext(root, where, model, cases)
            metric = metric_factories.get(next(iter(item)))(item, context)
            if metric.name in METRICS:
                raise ConfigError(f"{where}: {metric.name!r} names the metrics of `assert:`; give this one a name.")
            if any(s.name == metric.name for s in out):
                raise ConfigError(f"{where}: a metric named {metric.name!r} is listed already; give this one a name.")
            out.append(Spec(metric.name, {}, metric))
        else:
            out.extend(_specs([item]))
    if not any(s.name in scored for s in out):
        out.extend(Spec(name, {}, metric) for name, metric in scored.items())
    if not out and build:
        raise ConfigError(
            f"{doc.source}:{doc.line(['metrics'])}: metrics: the suite scores nothing; list its metrics "
            "(`metrics: [exact_match]`) or give its cases `assert:` lists (docs/suite-format.md)."
        )
    return tuple(out)


def load_suite(path: str | Path, root: Path | None = None, *, own_metrics: bool = True) -> Suite:
    """Read and validate a suite file; every error names the file, the line and the field.

    ``own_metrics=False`` reads it for its cases and parameters only: the metrics of its own (a scorer, a judge)
    are left out unbuilt, so none of the repository's code is loaded (bisect reads old suite files so).
    """
    path = Path(path)
    display = str(path.relative_to(root)) if root and path.is_absolute() and path.is_relative_to(root) else str(path)
    doc: Located = read_yaml(path, display)
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{display}:1: a suite is a mapping with prompt, cases and metrics; see evals/ examples.")
    try:
        model = SuiteModel.model_validate(doc.data)
    except ValidationError as err:
        fields = [f.alias or name for name, f in SuiteModel.model_fields.items()]
        known = {"": fields, "parameters": list(Parameters.model_fields), "cases[]": list(CaseModel.model_fields)}
        raise validation_error(doc, err, known) from None
    models = check_models(doc, model.models) if model.models is not None else {}
    if not models:
        check_model(doc, model.model)

    cases = load_cases(doc, model.cases, path)
    root = root or _top(path)
    checked, scored = _assertions(doc, model.assertions, cases.cases, root, build=own_metrics)
    own_model = dict(next(iter(models.values()))) if models else dict(model.model)
    metrics = _metric_specs(doc, model.metrics, root, scored, own_model, checked, build=own_metrics)
    _check_names(doc, metrics, "metrics")
    variants = _specs(model.variants)
    _check_names(doc, variants, "variants")
    if own_metrics:
        _check_thresholds(doc, metrics, model)
    gate = tuple(model.gate) if model.gate is not None else tuple(m.name for m in metrics if _own(m).higher_is_better)
    versions = model.versions.last if isinstance(model.versions, VersionsModel) else tuple(model.versions)
    return Suite(
        name=path.stem,
        path=path,
        description=model.description,
        prompt=model.prompt,
        cases=checked,
        metrics=metrics,
        variants=variants,
        versions=versions,
        thresholds=dict(model.thresholds),
        gate=gate,
        model=own_model,
        seed=model.seed,
        parameters=model.parameters.model_dump(exclude_unset=True),
        suite_hash=file_sha256(str(path)),
        case_file=cases.file,
        cases_hash=cases.hash,
        models=models,
        holistic=_holistic(doc, model),
        cases_at=cases.where,
        warnings=reference_warnings(doc, [_own(m) for m in metrics], checked),
        score_turns=model.score_turns,
    )


def _check_thresholds(doc: Located, metrics: tuple[Spec, ...], model: SuiteModel) -> None:
    """Thresholds name the suite's metrics or a feedback metric (people's votes); the gate names its metrics."""
    from promptarena.metrics import get_metric
    from promptarena.metrics import metrics as registry

    def is_feedback(name: str) -> bool:
        try:
            return name in registry and get_metric(name).source == "feedback"
        except ConfigError:  # an installed package's metric that fails to load is no vote either
            return False

    listed = {m.name for m in metrics}
    for name in [*model.thresholds, *(model.gate or [])]:
        if name in listed or (name in model.thresholds and is_feedback(name)):
            continue
        key = "thresholds" if name in model.thresholds else "gate"
        votes = ", ".join(n for n in registry if is_feedback(n))
        raise ConfigError(
            f"{doc.source}:{doc.line([key])}: {key}: {name!r} is not among this suite's metrics; "
            f"add it to metrics (thresholds also take people's votes: {votes})."
        )
    for name, value in model.thresholds.items():
        where = f"{doc.source}:{doc.line(['thresholds', name])}: thresholds.{name}"
        own = next((m for m in metrics if m.name == name), None)
        bounds = (_own(own) if own else get_metric(name)).range or (-math.inf, math.inf)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {value} is not a threshold; write a number.")
        if not bounds[0] <= value <= bounds[1]:  # one that every run fails, or passes
            share = f" (a share of 1: did you mean {value / 100:g}?)" if bounds[1] == 1 and 1 < value <= 100 else ""
            raise ConfigError(
                f"{where}: {value:g} is outside {name}'s range, {bounds[0]:g} to {bounds[1]:g}{share}; "
                "write a threshold within it."
            )


def _check_names(doc: Located, specs: tuple[Spec, ...], key: str) -> None:
    """Unknown metric or variant names fail at load, with the line and a near name."""
    from promptarena.metrics import metrics as metric_registry
    from promptarena.variants import variants as variant_registry

    registry = metric_registry if key == "metrics" else variant_registry
    for i, spec in enumerate(specs):
        if spec.metric is not None:
            continue  # built and checked by its factory
        try:
            item = registry.get(spec.name)
        except ConfigError as err:
            raise ConfigError(f"{doc.source}:{doc.line([key, i])}: {key}[{i}]: {err}") from None
        if getattr(item, "source", "prediction") == "feedback":
            raise ConfigError(
                f"{doc.source}:{doc.line([key, i])}: {key}[{i}]: {spec.name!r} is people's votes, not a score "
                "of the outputs; remove it here and set its threshold under thresholds."
            )
        validate = getattr(item, "validate_options", None)
        if validate is not None:
            try:
                validate(spec.options)
            except ConfigError as err:
                raise ConfigError(f"{doc.source}:{doc.line([key, i])}: {key}[{i}]: {err}") from None


def _registered(doc: Located, names: list[str], key: str, registry: Any) -> tuple[str, ...]:
    """Names checked against a registry, each error at its line with a near name; a repeat is refused too."""
    for i, name in enumerate(names):
        where = f"{doc.source}:{doc.line([*key.split('.'), i])}: {key}[{i}]"
        try:
            registry.get(name)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
        if name in names[:i]:
            raise ConfigError(f"{where}: {name!r} is listed twice; keep one.")
    return tuple(names)


def _holistic(doc: Located, model: SuiteModel) -> Holistic:
    """The holistic parts, every name checked against its registry (perturbations, formats, bias, toxicity)."""
    perturbations: tuple[str, ...] = ()
    if model.perturbations:
        from promptarena.perturbations import perturbations as registry

        perturbations = _registered(doc, model.perturbations, "perturbations", registry)
    bias: tuple[str, ...] = ()
    if model.bias:
        from promptarena.metrics.bias import bias_measures

        bias = _registered(doc, model.bias, "bias", bias_measures) if isinstance(model.bias, list) else ()
        bias = bias or tuple(bias_measures.names())
    toxicity = None
    if model.toxicity is not None:
        from promptarena.metrics.toxicity import check_options

        options = {"scorer": model.toxicity} if isinstance(model.toxicity, str) else dict(model.toxicity)
        toxicity = Spec(str(options.pop("scorer", "profanity_check")), options)
        try:
            check_options(toxicity.name, toxicity.options)
        except ConfigError as err:
            raise ConfigError(f"{doc.source}:{doc.line(['toxicity'])}: toxicity: {err}") from None
    sensitivity = model.sensitivity if isinstance(model.sensitivity, SensitivityModel) else None
    formats: tuple[str, ...] = ()
    if sensitivity is not None and sensitivity.formats:
        from promptarena.perturbations.formats import formats as registry

        formats = _registered(doc, sensitivity.formats, "sensitivity.formats", registry)
    return Holistic(
        perturbations=perturbations,
        perturbation_seed=model.seed if model.perturbation_seed is None else model.perturbation_seed,
        bias=bias,
        toxicity=toxicity,
        sensitivity=sensitivity.n if sensitivity else int(model.sensitivity or 0),
        formats=formats,
    )


def _own(spec: Spec) -> Metric:
    """The metric a suite's entry names: its own, or the registered one."""
    from promptarena.metrics import get_metric

    return spec.metric or get_metric(spec.name)


def _top(path: Path) -> Path:
    """The top folder of the git repository holding ``path`` (its folder's parent when there is none)."""
    for folder in path.resolve().parents:
        if (folder / ".git").exists():
            return folder
    return path.resolve().parent.parent


def discover_suites(paths: list[str] | tuple[str, ...], root: Path) -> list[Path]:
    """Suite files named on the command line, or every `evals/*.yaml` under the repository root."""
    if not paths:
        found = sorted((root / "evals").glob("*.yaml")) + sorted((root / "evals").glob("*.yml"))
        if not found:
            raise ConfigError(f"{root / 'evals'}: no suite files (*.yaml) found; write one or name it.")
        return found
    out = []
    for p in paths:
        candidate = Path(p)
        if not candidate.exists() and not candidate.suffix:
            candidate = root / "evals" / f"{p}.yaml"
        if not candidate.exists():
            raise ConfigError(f"{p}: no such suite file; give a path or a name under evals/.")
        out.append(candidate.resolve())
    return out
