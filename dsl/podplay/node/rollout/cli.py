"""`podplay-node.pyz rollout step --desired - [--check] [--diff]`.

stdin: `{"node": "node1", "table"?: <store apply-table's desired>, "pods"?: <files apply
pods' desired>, "proxy"?: <files apply proxy's desired>, "wait"?: <WaitSpec>, "then"?:
{"proxy", "wait"}}`. Writes the binding table into the store (every node of a stage gets
the same one: a compare-and-swap write, the first writer changes the store, the others
find it done; a failed write fails the step at once, before any wait), then the pods and
cluster.json that differ (the same writers as `store apply-table` and `files apply`;
nothing with --check), then waits on this node
(not in check mode); `then`, once that wait is over: cluster.json as `then.proxy` says and
a second wait (the next stage's drain, in this call: a task fewer; not in check mode),
whose settle also covers the first wait's drain (one settle, not two in a row).
Prints one JSON object: `changed`, `table`, `pods` and `proxy` (those writers' results),
`waited` (seconds), `warnings`, and `diff` with --diff. Bad input, or a wait that times
out: `{"failed": true, "msg": ...}` and exit status 1 (files already written stay written:
the next `podplay up` carries on from the step that failed).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional

from podplay.node.contract.errors import ContractError
from podplay.node.contract.rollout import WaitSpec
from podplay.node.contract.store_config import StoreConfig
from podplay.node.files.changes import ApplyError
from podplay.node.files.pods import apply_pods
from podplay.node.files.proxy import apply_proxy
from podplay.node.rollout.look import local_look
from podplay.node.rollout.wait import Look, Outcome, settle_since, wait
from podplay.node.store.client import Store, StoreError
from podplay.node.store.table import apply_table
from podplay.node.util.bundle import bundle_path
from podplay.node.util.desired import (
    add_desired_option,
    print_failure,
    print_result,
    read_desired_object,
)


def step(desired: Dict[str, Any], check: bool, diff: bool, look: Look) -> Dict[str, Any]:
    """Write this node's part of the step, then wait for it (see the module docstring)."""
    node = desired.get("node")
    if not isinstance(node, str) or not node:
        raise ContractError("node: a non-empty string is required")
    spec = WaitSpec.from_json(desired["wait"]) if desired.get("wait") is not None else WaitSpec()
    result: Dict[str, Any] = {"changed": False, "waited": 0.0, "warnings": []}
    diffs: List[Any] = []
    if desired.get("table") is not None:
        result["table"] = write_table(desired["table"], check, diff)
    if desired.get("pods") is not None:
        result["pods"] = apply_pods(desired["pods"], check, diff)
    if desired.get("proxy") is not None:
        result["proxy"] = apply_proxy(desired["proxy"], bundle_path(), check, diff)
    for part in ("table", "pods", "proxy"):
        if part in result:
            result["changed"] = result["changed"] or bool(result[part].get("changed"))
            found = result[part].pop("diff", None) or []
            diffs += [found] if isinstance(found, dict) else list(found)
    if diff:
        result["diff"] = diffs
    if check:
        return result
    then = desired.get("then")
    first = wait(spec, node, look, settle=then is None) if not spec.empty else None
    if first is not None:
        _waited(result, first)
    if then is not None and not result.get("failed"):
        drained = apply_proxy(then["proxy"], bundle_path(), False, False)
        result["changed"] = result["changed"] or bool(drained.get("changed"))
        _waited(result, wait(WaitSpec.from_json(then["wait"]), node, look))
        if first is not None and first.unrouted_at is not None and not result.get("failed"):
            started = look.clock()  # the first drain's settle, mostly over by now
            settle_since(first.unrouted_at, spec.settle, look)
            result["waited"] = round(result["waited"] + look.clock() - started, 3)
    return result


def _waited(result: Dict[str, Any], outcome: Outcome) -> None:
    """Add a wait's seconds, warnings and failure to the step's result."""
    result["waited"] = round(result["waited"] + outcome.waited, 3)
    result["warnings"] += outcome.warnings
    if not outcome.ok:
        result.update(failed=True, msg=outcome.msg)


def write_table(table: Any, check: bool, diff: bool) -> Dict[str, Any]:
    """The binding table into the store, as `store apply-table` writes it."""
    try:
        return apply_table(Store.from_config(StoreConfig.load()), table, check, diff)
    except (ContractError, StoreError) as err:
        raise ApplyError("the binding table: %s" % err) from None


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="podplay-node rollout")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("step", help="write this node's part of a rollout step, then wait")
    add_desired_option(cmd, "the step")
    cmd.add_argument("--check", action="store_true", help="report, change nothing, no wait")
    cmd.add_argument("--diff", action="store_true", help="include the texts before and after")
    args = parser.parse_args(argv)
    try:
        desired = read_desired_object("rollout step on stdin")
        result = step(desired, args.check, args.diff, local_look())
    except (ContractError, ApplyError, OSError) as err:
        return print_failure("rollout step", err)
    print_result(result)
    if result.get("failed"):
        print("rollout step: %s" % result["msg"], file=sys.stderr)
        return 1
    return 0
