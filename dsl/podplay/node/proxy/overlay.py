"""Where each endpoint's pod runs now: cluster.json's planned endpoints, moved where the
store's binding table says (pure).

cluster.json lists each service's endpoints as the plan placed them (node, IP). When the
controller moves a pod off a dead node, its binding names the new node and IP, and the
proxies route there without waiting for Ansible: for every planned endpoint whose pod has a
binding, the binding's (node, ip) replace the planned ones. Readiness is then looked up on
the binding's node, so a returning node's stale report of a pod moved away counts for
nothing. The table never adds endpoints: a pod drained from cluster.json stays drained
whatever the store says.
"""

from __future__ import annotations

import logging
from typing import Dict, Mapping, Tuple

from podplay.node.contract.errors import ContractError
from podplay.node.contract.store import Binding
from podplay.node.store import keys
from podplay.node.store.wire import KeyValue

from .state import ClusterState, routing_order

log = logging.getLogger("podplay.proxy")

PodKey = Tuple[str, str]  # (namespace, pod)
Location = Tuple[str, str]  # (node, ip)


def locations(kvs: Mapping[str, KeyValue]) -> Dict[PodKey, Location]:
    """(namespace, pod) -> (node, ip) of every readable binding among `kvs`."""
    out: Dict[PodKey, Location] = {}
    for key, kv in kvs.items():
        try:
            if keys.parse_key(key).kind != keys.BINDINGS:
                continue
            b = Binding.from_bytes(kv.value, key)
        except (ValueError, ContractError) as err:
            log.warning("store: ignoring binding %s: %s", key, err)
            continue
        out[b.key] = (b.node, b.ip)
    return out


def overlay(state: ClusterState, where: Mapping[PodKey, Location]) -> ClusterState:
    """`state` with every endpoint at its pod's bound location (the same object when none
    moves, so the proxy sees no change)."""
    services = []
    moved = False
    for service in state.services:
        endpoints = []
        for ep in service.endpoints:
            node, ip = where.get((ep.namespace, ep.pod), (ep.node, ep.ip))
            if (node, ip) != (ep.node, ep.ip):
                moved = True
                ep = ep._replace(node=node, ip=ip)
            endpoints.append(ep)
        services.append(service._replace(endpoints=tuple(endpoints)))
    if not moved:
        return state
    return routing_order(state._replace(services=tuple(services)))
