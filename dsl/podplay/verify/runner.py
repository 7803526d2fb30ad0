"""Run the plan's checks with pytest, in a process of its own (`podplay verify`).

A separate pytest process keeps the user's own pytest configuration out of the way: it runs
from the stack's directory with a pytest.ini podplay writes there, on the checks module
`podplay.verify.plan_checks`, with the plugin pointed at the program's stack.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from podplay.control.state import StackState
from podplay.verify import plan_checks

INI = "[pytest]\n# written by podplay verify\naddopts = -p no:cacheprovider\n"


def pytest_argv(
    program: Path, stack: str, ini: Path, extra: Sequence[str] = (), verbose: bool = True
) -> list[str]:
    """The pytest command line for a program's stack (pure)."""
    argv = [sys.executable, "-m", "pytest", str(Path(plan_checks.__file__).resolve())]
    argv += ["-c", str(ini), "--rootdir", str(ini.parent)]
    argv += ["--podplay-program", str(program.resolve()), "--podplay-stack", stack]
    # a failed check's own message says what is wrong; the checks' source is noise to a user
    argv += ["-v" if verbose else "-q", "-rfE", "--no-header", "--tb=short", *extra]
    return argv


def run_checks(
    program: Path, state: StackState, extra: Sequence[str] = (), verbose: bool = True
) -> int:
    """pytest's exit status: 0 when every check passed."""
    directory = state.directory / "verify"
    directory.mkdir(parents=True, exist_ok=True)
    ini = directory / "pytest.ini"
    if not ini.is_file() or ini.read_text() != INI:
        ini.write_text(INI)
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)  # ansible-inventory for testinfra's backend
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    argv = pytest_argv(program, state.directory.name, ini, extra, verbose)
    return subprocess.run(argv, cwd=directory, env=env, check=False).returncode
