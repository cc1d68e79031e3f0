"""Builders shared by the tests: real git repositories, prompt repositories and suites, the workbench fixture,
ways to run `evals`, and local servers. Fixtures live in tests/conftest.py; test modules import from here."""
