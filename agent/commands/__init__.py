"""Implementations of the `alliance` subcommands (cli.py only parses and dispatches)."""
