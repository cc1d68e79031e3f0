"""Builders shared by the tests: real git repositories, prompt repositories and suites, old-schema databases, the
workbench and its pages, votes, docs' files, a clock that sleeps at once, generation requests, ways to run `evals`,
and local servers.
Fixtures live in tests/conftest.py; test modules import from here."""
