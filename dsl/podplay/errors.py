"""Errors meant for people: the CLI prints the message alone (no traceback) and exits.

Every layer raises these for problems a user can fix; anything else is a bug and keeps its
traceback. Exit status 2 is bad input (the program, a flag, a name), 1 is the environment
(no Docker engine, a host that does not answer).
"""

from __future__ import annotations


class PodplayError(Exception):
    """A problem the user can fix; `str(err)` is the whole message."""

    exit_code = 1


class UserInputError(PodplayError):
    """Bad input: a program, a flag or a name. Nothing on any host was touched."""

    exit_code = 2


class EnvironmentProblem(PodplayError):
    """The machine or a host is not in a state podplay can work with."""

    exit_code = 1
