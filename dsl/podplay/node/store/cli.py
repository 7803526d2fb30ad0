"""`podplay-node.pyz store ...`: the cluster's store from a node, for operators and tests.

    store health [--wait SECONDS] [--quorum] [--json]   each member: healthy? leader?
    store get PREFIX [--json]                            keys under PREFIX, "key<TAB>value"
    store put KEY VALUE                                  write one key
    store del KEY [--prefix]                             delete a key (or a prefix)
    store apply-table --desired - [--check] [--diff]     the binding table (Ansible's
                                                         module store_table; see table.py)

Endpoints and certificates come from `--config` (default /etc/podplay/store.json). `health`
exits 0 when every member is healthy; with `--quorum`, when a majority is and, on a member,
this node's own member is (what the `control_plane` role waits for: a dead node elsewhere
must not block a converge). Exit 1 otherwise, 2 on a bad config. `apply-table` prints one
JSON object (the module's result; `{"failed": true, "msg": ...}` and exit 1 when the
desired table is wrong or the store cannot take it), as `files apply` does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Dict, List

from podplay.node.contract import defaults
from podplay.node.contract.errors import ContractError
from podplay.node.contract.store_config import StoreConfig
from podplay.node.util.desired import add_desired_option, print_failure, print_result, read_desired

from .client import Store, StoreError
from .table import apply_table, clear_table


def member_health(store: Store, cfg: StoreConfig) -> List[Dict[str, Any]]:
    """Per member of store.json: healthy, why not, and whether it leads."""
    rows = []
    for member in cfg.members:
        healthy, reason = store.health(member.endpoint)
        leader = False
        if healthy:
            try:
                status = store.status(member.endpoint)
                header = status.get("header") or {}
                leader = bool(status.get("leader")) and status.get("leader") == header.get(
                    "member_id"
                )
            except StoreError as err:
                healthy, reason = False, str(err)
        rows.append(
            {
                "name": member.name,
                "endpoint": member.endpoint,
                "healthy": healthy,
                "leader": leader,
                "reason": reason,
            }
        )
    return rows


def good_enough(rows: List[Dict[str, Any]], cfg: StoreConfig, quorum: bool) -> bool:
    """Every member healthy; or, with `quorum`, a majority and this node's own member."""
    healthy = {r["name"] for r in rows if r["healthy"]}
    if not quorum:
        return len(healthy) == len(rows)
    own_ok = not cfg.is_member or cfg.node in healthy
    return own_ok and len(healthy) > len(rows) // 2


def _health(store: Store, cfg: StoreConfig, args: argparse.Namespace) -> int:
    deadline = time.monotonic() + max(0.0, args.wait)
    while True:
        rows = member_health(store, cfg)
        ok = good_enough(rows, cfg, args.quorum)
        if ok or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if args.json:
        print(json.dumps({"healthy": ok, "members": rows}, sort_keys=True))
    else:
        for r in rows:
            state = "healthy" if r["healthy"] else "unhealthy: %s" % (r["reason"] or "no answer")
            print(
                "%s\t%s\t%s%s"
                % (r["name"], r["endpoint"], state, "\tleader" if r["leader"] else "")
            )
    return 0 if ok else 1


def _get(store: Store, args: argparse.Namespace) -> int:
    found = store.get_prefix(args.prefix)
    if args.json:
        kvs = [
            {
                "key": kv.key,
                "value": kv.value.decode("utf-8", "replace"),
                "create_revision": kv.create_revision,
                "mod_revision": kv.mod_revision,
                "lease": kv.lease,
            }
            for kv in found.kvs
        ]
        print(json.dumps({"revision": found.revision, "kvs": kvs}, sort_keys=True))
    else:
        for kv in found.kvs:
            print("%s\t%s" % (kv.key, kv.value.decode("utf-8", "replace")))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="podplay-node store")
    p.add_argument(
        "--config", default=defaults.STORE_JSON, help="store.json (endpoints, certificates)"
    )
    sub = p.add_subparsers(dest="command", required=True)
    health = sub.add_parser("health", help="is every member healthy, who leads")
    health.add_argument("--wait", type=float, default=0.0, metavar="SECONDS")
    health.add_argument("--quorum", action="store_true", help="a majority (and this node's own)")
    health.add_argument("--json", action="store_true")
    get = sub.add_parser("get", help="keys under a prefix")
    get.add_argument("prefix")
    get.add_argument("--json", action="store_true")
    put = sub.add_parser("put", help="write a key")
    put.add_argument("key")
    put.add_argument("value")
    delete = sub.add_parser("del", help="delete a key")
    delete.add_argument("key")
    delete.add_argument("--prefix", action="store_true", help="every key under KEY")
    table = sub.add_parser("apply-table", help="write the binding table (JSON on stdin)")
    add_desired_option(table, "the desired table")
    table.add_argument("--check", action="store_true", help="report, write nothing")
    table.add_argument("--diff", action="store_true", help="list the table before and after")
    clear = sub.add_parser("clear-table", help="delete the binding table and the app's keys")
    clear.add_argument("--check", action="store_true", help="report, delete nothing")
    return p


def _apply_table(store: Store, args: argparse.Namespace) -> int:
    try:
        desired = read_desired("desired table on stdin")
        result = apply_table(store, desired, args.check, args.diff)
    except (ContractError, StoreError) as err:
        return print_failure("store apply-table", err)
    print_result(result)
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        cfg = StoreConfig.load(args.config)
    except ContractError as err:
        if args.command == "apply-table":
            print(json.dumps({"changed": False, "failed": True, "msg": str(err)}))
        print("store: %s" % err, file=sys.stderr)
        return 2
    store = Store.from_config(cfg)
    if args.command == "apply-table":
        return _apply_table(store, args)
    try:
        if args.command == "clear-table":
            print(json.dumps(clear_table(store, cfg.cluster, args.check), sort_keys=True))
            return 0
        if args.command == "health":
            return _health(store, cfg, args)
        if args.command == "get":
            return _get(store, args)
        if args.command == "put":
            print(store.put(args.key, args.value))
            return 0
        print(store.delete(args.key, prefix=args.prefix))
        return 0
    except StoreError as err:
        print("store %s: %s" % (args.command, err), file=sys.stderr)
        return 1
