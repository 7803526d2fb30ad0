"""`files apply proxy`: cluster.json, the podplay-proxy unit and keepalived.conf.

Desired state on stdin: `{"state": <cluster.json, defaults left out>, "node": "node1",
"address": "172.30.5.11", "lb": {"advert_int": 0.5, "interface": "eth0"}}` (`lb` optional).
keepalived.conf holds one VRRP instance per LoadBalancer IP; with none it is removed.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Dict, List, Optional

from podplay.node.contract import defaults, fields, keepalived
from podplay.node.contract.cluster import ClusterState
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import canonical_text
from podplay.node.files import changes, units
from podplay.node.files.changes import ApplyError
from podplay.node.util.bundle import sha256_file
from podplay.node.util.uplink import interface_holding

WHERE = "proxy"  # how messages name the desired state of `files apply proxy`


def cluster_state(desired: Dict[str, Any]) -> ClusterState:
    """The service table and nodes, checked by the parser the running proxy uses."""
    try:
        return ClusterState.from_json(desired.get("state"))
    except ContractError as err:
        raise ContractError("invalid service table: %s" % err) from None


def keepalived_conf(
    state: ClusterState, desired: Dict[str, Any], interface: Optional[str]
) -> Optional[str]:
    """keepalived.conf's text, or None when the cluster has no LoadBalancer IP."""
    ips = keepalived.lb_ips(state.services)
    if not ips:
        return None
    node = fields.string(desired, "node", WHERE)
    address = fields.string(desired, "address", WHERE)
    if not interface:
        raise ApplyError("no interface holds node address %s" % address)
    advert_int = _lb(desired).get("advert_int", keepalived.DEFAULT_ADVERT_INT)
    if isinstance(advert_int, bool) or not isinstance(advert_int, (int, float)) or advert_int <= 0:
        raise ContractError("lb.advert_int: expected a number of seconds > 0, got %r" % advert_int)
    try:
        return keepalived.keepalived_text(
            state.cluster, node, address, interface, state.nodes, ips, advert_int
        )
    except ValueError as err:
        raise ApplyError(str(err)) from None


PATHS = {
    "cluster": defaults.CLUSTER_JSON,
    "unit": defaults.PROXY_UNIT,
    "keepalived": defaults.KEEPALIVED_CONF,
}


def proxy_files(
    state: ClusterState,
    desired: Dict[str, Any],
    bundle: str,
    interface: Optional[str],
    paths: Dict[str, str] = PATHS,
) -> List[changes.Wanted]:
    """cluster.json, the unit and keepalived.conf (text None: removed), at `paths`."""
    return [
        changes.Wanted(paths["cluster"], canonical_text(state.to_json())),
        changes.Wanted(paths["unit"], units.proxy_unit(bundle, sha256_file(bundle))),
        changes.Wanted(paths["keepalived"], keepalived_conf(state, desired, interface)),
    ]


def apply_proxy(desired: Dict[str, Any], bundle: str, check: bool, diff: bool) -> Dict[str, Any]:
    state = cluster_state(desired)
    ips = keepalived.lb_ips(state.services)
    interface = None
    if ips:
        interface = _lb(desired).get("interface") or interface_holding(
            fields.string(desired, "address", WHERE)
        )
    cluster, unit, conf = proxy_files(state, desired, bundle, interface)
    made = changes.converge([cluster, unit, conf], check)
    done = changes.changed_paths(made)
    result: Dict[str, Any] = {
        "changed": bool(done),
        "cluster_changed": cluster.path in done,
        "unit_changed": unit.path in done,
        "keepalived_changed": conf.path in done,
        "keepalived_wanted": bool(ips),
        "keepalived_installed": keepalived_installed(),
        "lb_ips": ips,
    }
    if diff and made:
        result["diff"] = changes.diffs(made)
    return result


def keepalived_installed() -> bool:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return shutil.which("keepalived", path=path) is not None


def _lb(desired: Dict[str, Any]) -> Dict[str, Any]:
    lb = desired.get("lb") or {}
    if not isinstance(lb, dict):
        raise ContractError("lb: expected an object {advert_int, interface}, got %r" % (lb,))
    return lb
