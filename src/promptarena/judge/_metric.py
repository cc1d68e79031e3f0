"""The rubric metric: a suite's entry, checked against its cases when the suite is read, and the grading of a
batch of outputs through the run's scoring context."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from promptarena.errors import ConfigError
from promptarena.judge._verdict import PASS_FAIL, Scale, read_verdict, scale_of, weigh
from promptarena.metrics import FactoryContext, Metric, Score, ScoringContext
from promptarena.promptfile import PromptFile, parse_prompt
from promptarena.types import Case, Generation, GenerationRequest, GenParams, Prediction

__all__ = ["DEFAULT_PROMPT", "GRADER_VARIABLES", "rubric_metric"]

DEFAULT_PROMPT = "rubric_judge"
"""The grader prompt's name: ``prompts/rubric_judge.prompt``, else the one that ships in ``promptarena/data``."""
TOP_LOGPROBS = 20
"""Tokens whose log-probabilities are asked for at each step of a verdict weighed by them (OpenAI's most)."""
GRADER_VARIABLES = ("rubric", "output", "scale", "vars", "references")
_DEFAULT_GRADER = {"backend": "transformers", "model": "default"}


# --- the suite's entry -------------------------------------------------------------------------------------


class _Entry(BaseModel):
    """A rubric metric as a suite writes it."""

    model_config = ConfigDict(extra="forbid")

    rubric: str | None
    name: str = "rubric"
    scale: str = PASS_FAIL.name
    grader: dict[str, Any] | None = None
    prompt: str = DEFAULT_PROMPT
    logprobs: bool | None = None
    case_rubrics: bool = True

    @field_validator("scale", mode="before")
    @classmethod
    def _scale(cls, value: Any) -> str:
        scale_of(str(value))
        return str(value)

    @field_validator("name", "prompt")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", value):
            raise ValueError(f"{value!r} is not a plain name: use letters, digits, '_', '.' or '-'")
        return value


@dataclass(frozen=True)
class _Judge:
    """A built rubric metric: everything its scoring needs, fixed when the suite is read."""

    name: str
    rubric: str
    template: jinja2.Template | None
    scale: Scale
    grader: dict[str, Any]
    prompt: str
    logprobs: bool
    case_rubrics: bool
    root: Path
    where: str  # the entry's place in the suite, for messages

    def salt(self, options: Mapping[str, Any], context: ScoringContext) -> dict[str, Any]:
        """What keys its grades besides the output and the case: the grader's fingerprint, the grader prompt's
        blob, the rubric, the scale and how the verdict is read."""
        _, blob = self.grader_prompt(context)
        return {
            "grader": _fingerprint(self.grader, context),
            "prompt": blob,
            "rubric": self.rubric,
            "scale": self.scale.name,
            "logprobs": self.logprobs,
            "case_rubrics": self.case_rubrics,
        }

    def grader_prompt(self, context: ScoringContext) -> tuple[PromptFile, str]:
        """The grader prompt in the working tree, read through the prompt store, and its blob; the packaged
        default when the repository has none."""
        from promptarena.gitstore import WORKTREE

        prompts = context.prompts
        if (prompts.prompts_path / f"{self.prompt}.prompt").is_file() or self.prompt != DEFAULT_PROMPT:
            version = prompts.resolve(f"{self.prompt}@{WORKTREE}")
            return _checked(prompts.load(version)), version.blob
        return _packaged()

    def rubric_for(self, case: Case) -> str | None:
        """The case's rubric: the suite's, rendered with the case's variables, and the case's own added; ``None``
        when it has neither. A variable the case lacks is a ``ConfigError`` naming the entry and the case."""
        where, place = self.where, case.meta.get("where", "")
        parts = []
        if self.template is not None:
            try:
                parts.append(_render(self.template, case.vars))
            except _Missing as err:
                raise ConfigError(
                    f"{where}: the rubric uses the variable {err.name!r}, which case {case.id!r} ({place}) does not "
                    "have; add it to that case's vars or take it out of the rubric."
                ) from None
            except ConfigError as err:
                raise ConfigError(f"{where}: case {case.id!r}: {err}") from None
        own = case.meta.get("rubric") if self.case_rubrics else None
        if own:
            try:
                parts.append(_render(_template(str(own)), case.vars))
            except _Missing as err:
                raise ConfigError(
                    f"{place}: the rubric of case {case.id!r} uses the variable {err.name!r}, which the case does "
                    f"not have ({where}); add it to the case's vars or take it out of its rubric."
                ) from None
            except ConfigError as err:
                raise ConfigError(f"{place}: case {case.id!r}: {err}") from None
        text = "\n".join(p.strip() for p in parts if p.strip())
        return text or None

    def score(
        self,
        predictions: Sequence[Prediction],
        cases: Sequence[Case],
        options: Mapping[str, Any],
        context: ScoringContext,
    ) -> list[Score]:
        """Grade every (output, case) pair in one batch of requests to the grader, through the cache."""
        prompt, _ = self.grader_prompt(context)
        params = prompt.parameters
        params = GenParams(
            max_new_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            stop=params.stop,
            top_logprobs=TOP_LOGPROBS if self.logprobs else 0,
        )
        out = [Score(None)] * len(predictions)
        todo: list[tuple[int, GenerationRequest]] = []
        for i, (prediction, case) in enumerate(zip(predictions, cases, strict=True)):
            rubric = self.rubric_for(case)
            if rubric is not None:  # no rubric for this case: not applicable
                messages = prompt.render(_grader_vars(rubric, prediction.output, self.scale, case), case.id)
                todo.append((i, GenerationRequest(messages, params)))
        if todo:
            graded = context.generate(self.grader, [request for _, request in todo])
            for (i, _), generation in zip(todo, graded, strict=True):
                out[i] = self.grade(generation)
        return out

    def grade(self, generation: Generation) -> Score:
        """The score a grader's generation gives: weighed by its log-probabilities when it has them, else read."""
        verdict = read_verdict(generation.text, self.scale)
        if verdict is None:
            return Score(None, error=f"the grader's verdict could not be read: {_clip(generation.text)!r}")
        value = None
        if self.logprobs and generation.logprobs:
            value = weigh(generation.logprobs, generation.text, verdict, self.scale)
        return Score(self.scale.value(verdict.label) if value is None else value, verdict.reason)


def rubric_metric(entry: Mapping[str, Any], context: FactoryContext) -> Metric:
    """Build a suite's rubric metric from its entry, checked against the suite's cases before anything runs.

    Raises:
        ConfigError: naming the entry's place (and the case, or the grader prompt's file and line).
    """
    where = context.where
    try:
        spec = _Entry.model_validate(dict(entry))
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            from promptarena.errors import did_you_mean

            known = ", ".join(_Entry.model_fields)
            hint = did_you_mean(loc, _Entry.model_fields)
            raise ConfigError(f"{where}: {loc}: a rubric metric has no such key{hint}; it takes: {known}.") from None
        raise ConfigError(f"{where}: {loc}: {str(first['msg']).removeprefix('Value error, ')}.") from None
    grader = dict(spec.grader) if spec.grader is not None else dict(context.model or _DEFAULT_GRADER)
    _check_grader(grader, where)
    scale = scale_of(spec.scale)
    logprobs = spec.logprobs if spec.logprobs is not None else scale is not PASS_FAIL
    rubric = (spec.rubric or "").strip()
    if not rubric and not spec.case_rubrics:
        raise ConfigError(f"{where}: rubric: write the rubric, or let the cases bring theirs (case_rubrics: true).")
    try:
        template = _template(rubric) if rubric else None
    except ConfigError as err:
        raise ConfigError(f"{where}: rubric: {err}") from None
    judge = _Judge(
        spec.name, rubric, template, scale, grader, spec.prompt, logprobs, spec.case_rubrics, context.root, where
    )
    _check_cases(judge, context.cases)
    return Metric(
        name=spec.name,
        description=f"Rubric judge ({scale.name}): " + _clip(rubric or "each case's own rubric", 80),
        score=judge.score,
        kind="binary" if scale is PASS_FAIL and not logprobs else "continuous",
        higher_is_better=True,
        range=(0.0, 1.0),
        needs_context=True,
        cache_salt=judge.salt,
        sources=(_prompt_path(judge),),  # `--baseline` grades again when the team's grader prompt changed
    )


# --- helpers -----------------------------------------------------------------------------------------------


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


@functools.lru_cache(maxsize=1024)
def _template(text: str) -> jinja2.Template:
    """A rubric compiled once (a case's own rubric is compiled for each batch it is graded in otherwise)."""
    try:
        return _environment().from_string(text)
    except jinja2.TemplateSyntaxError as err:
        raise ConfigError(f"the rubric is not a valid template ({err.message}); fix its {{{{ }}}}.") from None


class _Missing(Exception):
    """A rubric reads a variable that the case does not have."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _render(template: jinja2.Template, variables: Mapping[str, Any]) -> str:
    try:
        return template.render(dict(variables))
    except jinja2.UndefinedError as err:
        found = re.search(r"'([^']+)' is undefined", str(err.message))
        raise _Missing(found.group(1) if found else str(err.message)) from None
    except (jinja2.exceptions.SecurityError, TypeError, ValueError, ArithmeticError, LookupError) as err:
        raise ConfigError(f"the rubric could not be rendered: {err}") from None


def _check_cases(judge: _Judge, cases: Sequence[Case]) -> None:
    """Render every case's rubric and grader prompt now, so that a missing variable stops the run before it starts."""
    prompt = _load_prompt(judge)
    for case in cases:
        rubric = judge.rubric_for(case)
        if rubric is not None:
            try:
                prompt.render(_grader_vars(rubric, "", judge.scale, case), case.id)
            except ConfigError as err:
                raise ConfigError(f"{judge.where}: {err}") from None


def _prompt_path(judge: _Judge) -> Path:
    """Where the team's grader prompt is, whether or not it is there (the packaged default stands in for it)."""
    return judge.root / "prompts" / f"{judge.prompt}.prompt"


def _load_prompt(judge: _Judge) -> PromptFile:
    """The grader prompt as the working tree has it (or the packaged default), parsed and checked."""
    path = _prompt_path(judge)
    if path.is_file():
        return _checked(parse_prompt(path.read_text(encoding="utf-8"), judge.prompt, f"prompts/{path.name}"))
    if judge.prompt == DEFAULT_PROMPT:
        return _packaged()[0]
    raise ConfigError(
        f"{judge.where}: prompt: there is no grader prompt prompts/{judge.prompt}.prompt; write it (docs/judges.md "
        "shows the default to start from), or leave `prompt:` out for the default."
    )


def _packaged() -> tuple[PromptFile, str]:
    """The default grader prompt that ships in the package, and its git blob sha."""
    from promptarena.gitstore import blob_sha

    data = resources.files("promptarena.data").joinpath(f"{DEFAULT_PROMPT}.prompt").read_bytes()
    source = f"promptarena/data/{DEFAULT_PROMPT}.prompt"
    return _checked(parse_prompt(data.decode("utf-8"), DEFAULT_PROMPT, source)), blob_sha(data)


def _checked(prompt: PromptFile) -> PromptFile:
    """A grader prompt declares only the variables a grader prompt gets."""
    extra = [name for name in prompt.variables if name not in GRADER_VARIABLES]
    if extra:
        raise ConfigError(
            f"{prompt.source}: the grader prompt declares {', '.join(map(repr, extra))}, which a grader prompt does "
            f"not get; it gets {', '.join(GRADER_VARIABLES)} (the case's variables as vars.NAME)."
        )
    return prompt


def _grader_vars(rubric: str, output: str, scale: Scale, case: Case) -> dict[str, Any]:
    return {
        "rubric": rubric,
        "output": output,
        "scale": scale.name,
        "vars": dict(case.vars),
        "references": list(case.references),
    }


def _check_grader(grader: dict[str, Any], where: str) -> None:
    """The grader's options are a backend's, as in a suite's ``model:``."""
    from promptarena.backends.options import validate_options

    rest = dict(grader)
    try:
        validate_options(str(rest.pop("backend", "transformers")), rest)
    except ConfigError as err:
        raise ConfigError(f"{where}: grader: {err}") from None


def _fingerprint(grader: Mapping[str, Any], context: ScoringContext) -> str:
    """The grader's fingerprint, from the run's context (the backend that will answer), without loading it."""
    if context.fingerprint is not None:
        return context.fingerprint(grader)
    from promptarena.backends import get_backend

    rest = dict(grader)
    return get_backend(str(rest.pop("backend", "transformers")), **rest).fingerprint


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
