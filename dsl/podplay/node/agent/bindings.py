"""The pods the store binds to this node: the second source of wanted pods, next to the
manifest files (`sources.ManifestDir`).

The store's binding table (`bindings/<ns>/<pod>`, written by Ansible from the plan and by the
controller when it moves a pod off a dead node) says where every pod runs. Once the agent has
read it since it started AND the table is complete (`table` exists), the pods bound here are
what it runs, whatever the files say: a pod moved to another node is stopped here even when
this node's files still list it (they were written before the move). Until then, and with no
store at all, the files rule (as before the control plane existed). Pure: a mirror's view in,
manifests out; each binding's manifest is parsed by the same contract parser as a file.
"""

from __future__ import annotations

import logging
from typing import Dict, List, Mapping, Optional, Tuple

from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import canonical_text
from podplay.node.contract.pods import manifest_filename
from podplay.node.contract.store import Binding
from podplay.node.store import keys
from podplay.node.store.wire import KeyValue

from .manifest import Manifest, parse_manifest

log = logging.getLogger("podplay.agent")

PodKey = Tuple[str, str]
MOVED_AWAY = "PodMovedAway"


class BoundPods:
    """This node's bindings as the store last said them."""

    def __init__(self, node: str, pod_cidr: Optional[str]) -> None:
        self.node = node
        self.pod_cidr = pod_cidr
        self.active = False  # synced since start and the table is complete
        self.pods: Dict[PodKey, Manifest] = {}
        self.elsewhere: Dict[PodKey, Binding] = {}  # pods bound to other nodes
        self._parsed: Dict[str, Tuple[int, Optional[Binding], Optional[Manifest]]] = {}

    def update(self, kvs: Mapping[str, KeyValue], synced: bool) -> None:
        """Take a mirror's keys (bindings and the table)."""
        pods: Dict[PodKey, Manifest] = {}
        elsewhere: Dict[PodKey, Binding] = {}
        table = False
        parsed = {}
        for key, kv in kvs.items():
            kind = _kind(key)
            if kind == keys.TABLE:
                table = True
            if kind != keys.BINDINGS:
                continue
            entry = self._parsed.get(key)
            if entry is None or entry[0] != kv.mod_revision:
                entry = self._parse(kv)
            parsed[key] = entry
            _, binding, manifest = entry
            if binding is None:
                continue
            if manifest is not None:
                pods[binding.key] = manifest
            else:
                elsewhere[binding.key] = binding
        self._parsed = parsed
        self.pods, self.elsewhere = pods, elsewhere
        self.active = synced and table

    def _parse(self, kv: KeyValue) -> Tuple[int, Optional[Binding], Optional[Manifest]]:
        try:
            binding = Binding.from_bytes(kv.value, kv.key)
        except ContractError as err:
            log.warning("store: ignoring an unreadable binding: %s", err)
            return (kv.mod_revision, None, None)
        if binding.node != self.node:
            return (kv.mod_revision, binding, None)
        name = manifest_filename(binding.namespace, binding.name)
        text = canonical_text(binding.manifest).encode("utf-8")
        return (kv.mod_revision, binding, parse_manifest(name, text, self.pod_cidr))

    def moved_away(self, wanted_before: Mapping[PodKey, Manifest]) -> List[Tuple[PodKey, str]]:
        """Pods wanted here before that the store now binds to another node, with a sentence
        saying where (for the event)."""
        out = []
        for key in sorted(wanted_before):
            if key in self.pods or key not in self.elsewhere:
                continue
            b = self.elsewhere[key]
            why = " by the controller (%s)" % b.reason if b.reason else ""
            out.append(
                (
                    key,
                    "pod %s/%s is bound to %s now (moved%s); removed here"
                    % (key[0], key[1], b.node, why),
                )
            )
        return out


def _kind(key: str) -> str:
    try:
        return keys.parse_key(key).kind
    except ValueError:
        return ""
