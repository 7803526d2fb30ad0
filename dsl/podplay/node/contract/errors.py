"""The one error of the node contract."""

from __future__ import annotations


class ContractError(ValueError):
    """A document does not have the shape the node README promises.

    The message is one sentence that names the file (or input) and the field path, so the
    agent can report it as a pod's reason, a module as its failure and a daemon in its log.
    """
