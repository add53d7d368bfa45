"""Fuzzing harness and atheris targets for every sitewatch parser (see fuzz/harness.py)."""
