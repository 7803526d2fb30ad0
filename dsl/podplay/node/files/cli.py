"""`podplay-node.pyz files apply {agent|proxy|pods|store} --desired - [--check] [--diff]`.

Reads the desired state as JSON on stdin, validates it with the node contract before
anything is written, writes what differs (nothing with --check) and prints one JSON object:
`{"changed": bool, ..., "diff": [...]}` (diff only with --diff). On bad input or a failed
write it prints `{"changed": false, "failed": true, "msg": "..."}`, the same sentence on
stderr, and exits 1.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any, Dict, List, Optional

from podplay.node.contract.errors import ContractError
from podplay.node.files.changes import ApplyError
from podplay.node.util.bundle import bundle_path
from podplay.node.util.desired import (
    add_desired_option,
    print_failure,
    print_result,
    read_desired_object,
)

# kind -> (module, function, whether it writes a unit naming the bundle). Only the kind asked
# for is imported: one module call writes one role's files, and the others' imports (the
# store's, the proxy's subprocess and uplink lookup) are start time it never uses.
KINDS = {
    "agent": ("podplay.node.files.agent", "apply_agent", True),
    "proxy": ("podplay.node.files.proxy", "apply_proxy", True),
    "pods": ("podplay.node.files.pods", "apply_pods", False),
    "store": ("podplay.node.files.store", "apply_store", True),
}


def apply_kind(kind: str, desired: Dict[str, Any], check: bool, diff: bool) -> Dict[str, Any]:
    """`files apply <kind>`: the kind's writer, imported now."""
    module, function, names_bundle = KINDS[kind]
    apply = getattr(importlib.import_module(module), function)
    if names_bundle:
        return apply(desired, bundle_path(), check, diff)
    return apply(desired, check, diff)


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
        result = apply_kind(args.kind, desired, args.check, args.diff)
    except (ContractError, ApplyError, OSError) as err:
        return print_failure("files apply %s" % args.kind, err)
    print_result(result)
    return 0
