"""Verification of a running cluster against its plan (pytest-testinfra), and the pytest plugin."""
