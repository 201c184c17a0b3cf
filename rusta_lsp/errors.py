"""Errors every layer may raise and the CLI knows how to report."""


class UsageError(Exception):
    """Bad usage or bad input: the CLI prints it in one line and exits with code 2."""


class MemoryUnavailable(UsageError):
    """The memory's storage cannot be reached or read (an object store that is down, a wrong
    endpoint or credentials): one line for the user; the server works on from the analysis."""


class MemoryClosed(RuntimeError):
    """A write reached a memory after it closed: its workspace stopped (the server shut down or
    the folder left the editor window) while an ingest or a save was on its way."""
