"""How the node's daemons (agent, proxy, network repairer, controller) log: one line per
record on stderr, which systemd puts in the journal under the unit's name."""

from __future__ import annotations

import logging
import sys


def setup_logging(verbose: bool) -> None:
    """`LEVEL logger: message` lines on stderr; DEBUG with --verbose, INFO otherwise."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
