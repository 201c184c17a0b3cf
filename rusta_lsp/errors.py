"""Errors every layer may raise and the CLI knows how to report."""


class UsageError(Exception):
    """Bad usage or bad input: the CLI prints it in one line and exits with code 2."""
