"""Helpers shared by test suites (importable as `tests.support` or, with tests/ on the path, `support`)."""
