"""`podplay-node.pyz files apply {agent|proxy|pods|store} --desired - [--check] [--diff]`.

Reads the desired state as JSON on stdin, validates it with the node contract before
anything is written, writes what differs (nothing with --check) and prints one JSON object:
`{"changed": bool, ..., "diff": [...]}` (diff only with --diff). On bad input or a failed
write it prints `{"changed": false, "failed": true, "msg": "..."}`, the same sentence on
stderr, and exits 1.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, Dict, List, Optional

from podplay.node.contract.errors import ContractError
from podplay.node.files.agent import apply_agent
from podplay.node.files.changes import ApplyError
from podplay.node.files.pods import apply_pods
from podplay.node.files.proxy import apply_proxy
from podplay.node.files.store import apply_store
from podplay.node.util.bundle import bundle_path
from podplay.node.util.desired import (
    add_desired_option,
    print_failure,
    print_result,
    read_desired_object,
)

KINDS: Dict[str, Callable[[Dict[str, Any], bool, bool], Dict[str, Any]]] = {
    "agent": lambda desired, check, diff: apply_agent(desired, bundle_path(), check, diff),
    "proxy": lambda desired, check, diff: apply_proxy(desired, bundle_path(), check, diff),
    "pods": apply_pods,
    "store": lambda desired, check, diff: apply_store(desired, bundle_path(), check, diff),
}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="podplay-node files")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("apply", help="write the files of a role from its desired state")
    cmd.add_argument("kind", choices=sorted(KINDS))
    add_desired_option(cmd, "the desired state")
    cmd.add_argument("--check", action="store_true", help="report, change nothing")
    cmd.add_argument("--diff", action="store_true", help="include the texts before and after")
    args = parser.parse_args(argv)
    try:
        desired = read_desired_object("desired state on stdin")
        result = KINDS[args.kind](desired, args.check, args.diff)
    except (ContractError, ApplyError, OSError) as err:
        return print_failure("files apply %s" % args.kind, err)
    print_result(result)
    return 0
