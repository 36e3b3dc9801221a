"""Helpers shared by the tests, loaded as a pytest plugin (tests/conftest.py): no test module imports another."""
