"""The node's daemons log one `LEVEL logger: message` line per record on stderr (the journal
shows it under the unit), DEBUG only with --verbose (podplay.node.util.logs)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import logging, sys
from podplay.node.util.logs import setup_logging
setup_logging(sys.argv[1] == "verbose")
log = logging.getLogger("podplay.agent")
log.debug("looking")
log.info("pod %s started", "web")
"""


@pytest.mark.parametrize(
    ("mode", "lines"),
    [
        ("quiet", "INFO podplay.agent: pod web started\n"),
        ("verbose", "DEBUG podplay.agent: looking\nINFO podplay.agent: pod web started\n"),
    ],
)
def test_one_line_per_record_on_stderr(mode: str, lines: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    )
    assert (done.stdout, done.stderr) == ("", lines)
