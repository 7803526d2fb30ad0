"""The `--desired -` convention of the node's commands that the Ansible modules run.

A module sends the desired state as one JSON document on stdin and reads one JSON object
back on stdout; a failure is `{"changed": false, "failed": true, "msg": ...}` there and the
same sentence on stderr. `files apply`, `rollout step` and `store apply-table` keep it here
once, so the modules parse each of them the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict

from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import decode


def add_desired_option(parser: argparse.ArgumentParser, what: str) -> None:
    """`--desired -` (required): `what` (e.g. "the desired state") comes as JSON on stdin."""
    parser.add_argument("--desired", metavar="-", required=True, choices=["-"],
                        help="'-': read %s (JSON) on stdin" % what)  # fmt: skip


def read_desired(where: str) -> Any:
    """The JSON document on stdin; ContractError naming `where` when it is not JSON."""
    return decode(sys.stdin.buffer.read(), where)


def read_desired_object(where: str) -> Dict[str, Any]:
    """The JSON object on stdin; ContractError naming `where` when it is not one."""
    desired = read_desired(where)
    if not isinstance(desired, dict):
        raise ContractError("%s: expected a JSON object" % where)
    return desired


def print_result(result: Dict[str, Any]) -> None:
    """The command's result, the one JSON line the module reads."""
    print(json.dumps(result, sort_keys=True))


def print_failure(command: str, err: Exception) -> int:
    """A failed result on stdout, `command: err` on stderr; the exit status (1)."""
    print(json.dumps({"changed": False, "failed": True, "msg": str(err)}))
    print("%s: %s" % (command, err), file=sys.stderr)
    return 1
