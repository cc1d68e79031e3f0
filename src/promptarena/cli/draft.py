"""`evals try`: evaluate a draft of a prompt against its newest commit, without committing anything."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from promptarena.cli.common import (
    ALPHA,
    BackendPool,
    Workspace,
    backend_options,
    db_option,
    make_console,
    only_variants,
    repo_option,
    with_backend,
)


@click.command("try")
@click.argument("draft")
@click.option(
    "--suite",
    "suites",
    multiple=True,
    help="Suite to try the draft on (file or name under evals/; repeatable; default: every suite of its prompt).",
)
@click.option(
    "--cases",
    "selection",
    default="all",
    show_default=True,
    help="Which cases: all, first:N, sample:N[:SEED] (N drawn with a seed), or wrong (those the newest commit "
    "gets wrong in stored results).",
)
@click.option(
    "--variant",
    "variant_names",
    multiple=True,
    help="Try only this variant (repeatable; default: every variant the suite lists).",
)
@click.option(
    "--gate",
    is_flag=True,
    help="Exit 1 when a gated metric of the draft is significantly worse than the newest commit's.",
)
@click.option("--alpha", type=ALPHA, default=0.05, show_default=True, help="Significance level of the comparison.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@repo_option
@db_option
@backend_options
def command(
    draft: str,
    suites: tuple[str, ...],
    selection: str,
    variant_names: tuple[str, ...],
    gate: bool,
    alpha: float,
    as_json: bool,
    repo: str,
    db_path: Path | None,
    backend: str | None,
    model: str | None,
    seed: int | None,
) -> None:
    """Evaluate DRAFT (a prompt file anywhere, or NAME@draft-<blob> from the workbench) beside the newest commit.

    The draft is kept by its content under .promptarena/drafts/ as the version NAME@draft-<blob>: its results are
    cached like any version's, so trying the same text again generates nothing, and once the same text is
    committed the commit has them. Nothing is written into the repository.

    A try is not a gate: it exits 0 whatever the verdict, unless --gate asks for 1 on a significant regression of
    a gated metric. Exit codes: 0 evaluated, 1 with --gate a gated metric is worse, 2 bad input, 3 model, backend
    or database unavailable, 4 a bug in promptarena, 128 + the signal number when stopped.
    """
    from promptarena import draft as drafts
    from promptarena.errors import ConfigError
    from promptarena.gitstore import PROMPT_SUFFIX
    from promptarena.report import (
        comparison_json,
        gate_detail,
        json_text,
        print_comparison,
        print_failures,
        print_suite,
        summary_json,
    )
    from promptarena.suite import discover_suites, load_suite

    ws = Workspace(repo, db_path)
    prompts = ws.prompts
    chosen = drafts.parse_selection(selection)
    file = Path(draft)
    if file.is_file():
        text = file.read_text(encoding="utf-8")
        name = file.name.removesuffix(PROMPT_SUFFIX) if file.name.endswith(PROMPT_SUFFIX) else None
    elif "@" in draft:
        version = prompts.resolve(draft)
        text, name = version.text, version.name
    else:
        raise ConfigError(f"{draft}: no such file; give a prompt file or NAME@draft-<blob> that the workbench showed")
    paths = discover_suites(list(suites), prompts.workdir)
    loaded = [load_suite(path, prompts.workdir) for path in paths]
    if not suites:
        loaded = [s for s in loaded if s.prompt == name]
        if not loaded:
            raise ConfigError(f"{draft}: no suite under evals/ evaluates prompt {name!r}; name one with --suite")
    db = ws.db
    # Everything that can be wrong with the input fails here, before any model call or write.
    planned = []
    with ws, ws.results() as results:
        for suite in loaded:
            suite = only_variants(with_backend(suite, backend, model, seed), variant_names)
            problems = drafts.validate(prompts, suite.prompt, text, suite)
            if problems:
                raise ConfigError(problems[0].message if file.is_file() else f"{draft}: {problems[0].message}")
            for warning in drafts.warnings(prompts, suite.prompt, text, suite):
                click.echo(f"warning: {warning}", err=True)
            version = drafts.draft_version(prompts, suite.prompt, text)
            newest = drafts.newest_commit(prompts, suite.prompt)
            wrong = drafts.wrong_cases(results, suite, newest.blob) if newest and chosen.kind == "wrong" else []
            planned.append((drafts.select_cases(suite, chosen, wrong), version))
        console = make_console(as_json)
        tried = []
        with BackendPool() as backends:
            record = results.progress_writer()  # the workbench shows a background try from its database
            for suite, version in planned:
                outcome = drafts.try_draft(
                    suite, prompts, results, version, backend=backends.get(suite), progress=record, alpha=alpha
                )
                tried.append(outcome)
                if not as_json:
                    print_suite(console, outcome.result, os.path.relpath(db))
                    for comparison in outcome.comparisons:
                        print_comparison(console, comparison)
                    against = f" against {outcome.newest.label}" if outcome.newest else " (the prompt has no commit)"
                    console.print(
                        f"tried {suite.prompt}@{version.label}{against} on {len(suite.cases)} cases of {suite.name} "
                        f"({chosen}); evaluate it again with `evals run {suite.name} --rev {version.label}`",
                        highlight=False,
                    )
    failures = [g for t in tried for g in t.gates if not g.passed] if gate else []
    if as_json:
        doc = [
            {
                "suite": t.result.suite.name,
                "draft": t.draft.label,
                "blob": t.draft.blob,
                "newest": t.newest.label if t.newest else None,
                "cases": [c.id for c in t.result.suite.cases],
                "summary": summary_json(t.result),
                "comparisons": [comparison_json(c) for c in t.comparisons],
                "gates": [{"name": g.name, "passed": g.passed, "detail": gate_detail(g)} for g in t.gates],
            }
            for t in tried
        ]
        click.echo(json_text({"gated": gate, "tries": doc}))
    else:
        print_failures(console, failures)
    sys.exit(1 if failures else 0)
