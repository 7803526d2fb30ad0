"""Run a user's program file inside a fresh stack and return what it declared.

Nothing touches a host here: the program only constructs resources. Mistakes in the program
become `ProgramError`s pointing at its lines; an exception from the user's own code is shown
with its traceback trimmed to the user's files (podplay's frames are noise to them).
"""

from __future__ import annotations

import builtins
import linecache
import os
import sys
import traceback
from pathlib import Path

from podplay.dsl.diagnostics import Diagnostic, Location, ProgramError, is_internal
from podplay.dsl.kubernetes import MANIFEST_SUFFIXES, load_manifest
from podplay.dsl.stack import Stack
from podplay.dsl.validate import validate
from podplay.errors import PodplayError, UserInputError


class UserCodeError(UserInputError):
    """The program raised an exception of its own; the message is a trimmed traceback."""


def evaluate(path: str | Path, display: str | None = None) -> Stack:
    """Execute the program at `path` and return its validated stack.

    `display` is how messages name the file (default: `path` as given). A `.yaml`/`.yml`
    file is a Kubernetes manifest (`podplay.dsl.kubernetes`), not a Python program.
    """
    path = Path(path)
    shown = display or str(path)
    if path.suffix in MANIFEST_SUFFIXES:
        return load_manifest(path, shown)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise UserInputError(f"cannot read program {shown}: {reason}") from None
    try:
        code = compile(source, shown, "exec", dont_inherit=True)
    except SyntaxError as err:
        line = (err.text or "").rstrip("\n")
        pointer = f"\n    {line.strip()}" if line.strip() else ""
        raise ProgramError.one(
            Location(shown, err.lineno), None, f"syntax error: {err.msg}{pointer}"
        ) from None
    linecache.cache[shown] = (len(source), None, source.splitlines(True), shown)

    program_dir = path.resolve().parent
    stack = Stack(program=shown, base_dir=program_dir)
    scope = {"__name__": "__main__", "__file__": str(path), "__builtins__": builtins}
    sys.path.insert(0, str(program_dir))
    try:
        with stack:
            exec(code, scope)
    except PodplayError:
        raise
    except SystemExit as err:
        if err.code not in (None, 0):
            raise ProgramError.one(
                Location(shown), None, f"the program exited with status {err.code}"
            ) from None
    except Exception as err:
        raise UserCodeError(_trimmed(err, shown, program_dir)) from None
    finally:
        _remove_once(sys.path, str(program_dir))
    validate(stack)
    return stack


def _remove_once(items: list[str], value: str) -> None:
    if value in items:
        items.remove(value)


def _is_user_frame(filename: str, shown: str, program_dir: Path) -> bool:
    if filename == shown:
        return True
    if is_internal(filename) or not os.path.isabs(filename):
        return False
    return Path(filename).is_relative_to(program_dir) and "site-packages" not in filename


def _trimmed(err: BaseException, shown: str, program_dir: Path) -> str:
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if _is_user_frame(f.filename, shown, program_dir)
    ]
    summary = "".join(traceback.format_exception_only(type(err), err)).strip()
    where = Location(frames[-1].filename, frames[-1].lineno) if frames else Location(shown)
    head = str(Diagnostic(where, None, f"the program raised {summary}"))
    body = "".join(traceback.format_list(frames)).rstrip()
    return f"{head}\nTraceback (most recent call last, trimmed to your program):\n{body}\n{summary}"
