"""The pod manifest, `/etc/podplay/pods/<namespace>_<pod>.json`: one pod bound to a node.

Written by the controller (the planner builds `PodSpec` records, the `files apply pods`
command writes them), read by the agent. Format: ../README.md. Pure: no I/O here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from podplay.node.contract import defaults, fields
from podplay.node.contract.containers import ContainerSpec, stable_hash
from podplay.node.contract.errors import ContractError

KIND = "Pod"
RESTART_POLICIES = ("Always", "OnFailure", "Never")

_UID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

# The fields of each object, in the order `to_json` writes them.
POD_FIELDS = ("apiVersion", "kind", "name", "namespace", "uid", "labels", "owner",
              "template_hash", "ip", "hostname", "restart_policy", "termination_grace_period",
              "dns", "containers")  # fmt: skip
DNS_FIELDS = ("nameservers", "searches", "options")
OWNER_FIELDS = ("kind", "name")


@dataclass(frozen=True)
class DnsSpec:
    """The pod's resolv.conf. Its repr is part of the sandbox hash: keep name and fields."""

    nameservers: Tuple[str, ...] = ()
    searches: Tuple[str, ...] = ()
    options: Tuple[str, ...] = ()

    def to_json(self) -> Dict[str, Any]:
        return {
            "nameservers": list(self.nameservers),
            "searches": list(self.searches),
            "options": list(self.options),
        }


@dataclass(frozen=True)
class Owner:
    """What made the pod (a Deployment); informational for the node."""

    kind: str
    name: str

    def to_json(self) -> Dict[str, Any]:
        return {"kind": self.kind, "name": self.name}


@dataclass(frozen=True)
class PodSpec:
    """A pod bound to a node, as the controller planned it.

    `labels` keep the manifest's order; `file` is where it was read from (not part of the
    document: messages name it)."""

    name: str
    namespace: str
    uid: str
    ip: str
    hostname: str
    containers: Tuple[ContainerSpec, ...]
    labels: Tuple[Tuple[str, str], ...] = ()
    template_hash: str = ""
    restart_policy: str = "Always"
    grace_period: int = defaults.TERMINATION_GRACE_PERIOD
    dns: Optional[DnsSpec] = None
    file: str = ""
    owner: Optional[Owner] = None

    @classmethod
    def from_json(cls, doc: Any, where: str) -> PodSpec:
        """Read a manifest; `where` (the file name) starts every error message."""
        return _pod(doc, where)

    @property
    def key(self) -> Tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def filename(self) -> str:
        return manifest_filename(self.namespace, self.name)

    @property
    def sandbox_hash(self) -> str:
        """Hash of what the sandbox holds: a change needs a new sandbox (and so new containers)."""
        return stable_hash([self.uid, self.ip, self.hostname, self.dns])

    def container(self, name: str) -> Optional[ContainerSpec]:
        for c in self.containers:
            if c.name == name:
                return c
        return None

    def to_json(self) -> Dict[str, Any]:
        return {
            "apiVersion": defaults.API_VERSION,
            "kind": KIND,
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "labels": dict(self.labels),
            "owner": self.owner.to_json() if self.owner else None,
            "template_hash": self.template_hash,
            "ip": self.ip,
            "hostname": self.hostname,
            "restart_policy": self.restart_policy,
            "termination_grace_period": self.grace_period,
            "dns": self.dns.to_json() if self.dns else None,
            "containers": [c.to_json() for c in self.containers],
        }


def cluster_dns(namespace: str, dns_ip: str, cluster_domain: str) -> DnsSpec:
    """The resolv.conf of a pod in `namespace`: cluster DNS first, Kubernetes' search path."""
    return DnsSpec(
        nameservers=(dns_ip,),
        searches=(
            "%s.svc.%s" % (namespace, cluster_domain),
            "svc.%s" % cluster_domain,
            cluster_domain,
        ),
        options=("ndots:5",),
    )


def manifest_filename(namespace: str, name: str) -> str:
    """The file a pod is written to in the pods directory."""
    return "%s_%s.json" % (namespace, name)


def key_from_filename(filename: str) -> Optional[Tuple[str, str]]:
    """`default_web-1.json` -> ("default", "web-1"); None for files that are not manifests."""
    if not filename.endswith(".json") or filename.startswith("."):
        return None
    stem = filename[: -len(".json")]
    namespace, sep, name = stem.partition("_")
    if not sep or not namespace or not name:
        return None
    return (namespace, name)


# -- reading: each step raises ContractError naming the field path ---------------------------


def _pod(doc: Any, f: str) -> PodSpec:
    if not isinstance(doc, dict):
        raise ContractError("%s: expected a JSON object, got %s" % (f, fields.kind(doc)))
    api = doc.get("apiVersion", defaults.API_VERSION)
    if api != defaults.API_VERSION or doc.get("kind", KIND) != KIND:
        raise ContractError(
            "%s: apiVersion/kind: expected %s Pod, got %s %s"
            % (f, defaults.API_VERSION, doc.get("apiVersion"), doc.get("kind"))
        )
    fields.only(doc, POD_FIELDS, f)
    name = fields.dns_label(doc, "name", f)
    namespace = fields.dns_label(doc, "namespace", f)
    uid = fields.string(doc, "uid", f)
    if not _UID.match(uid):
        raise ContractError(
            "%s: uid: %r may hold only letters, digits, '_', '.' and '-'" % (f, uid)
        )
    ip = fields.string(doc, "ip", f)
    try:
        ipaddress.IPv4Address(ip)
    except ValueError:
        raise ContractError("%s: ip: %r is not an IPv4 address" % (f, ip)) from None
    return PodSpec(
        name=name,
        namespace=namespace,
        uid=uid,
        ip=ip,
        hostname=_hostname(doc, name, f),
        restart_policy=_restart_policy(doc, f),
        grace_period=_grace_period(doc, f),
        containers=_containers(doc.get("containers"), f),
        labels=_labels(doc.get("labels"), f),
        template_hash=fields.optional(doc, "template_hash", f, str) or "",
        dns=_dns(doc.get("dns"), f),
        file=f,
        owner=_owner(doc.get("owner"), f),
    )


def _hostname(doc: Dict[str, Any], name: str, f: str) -> str:
    hostname = fields.optional(doc, "hostname", f, str) or name
    if not fields.DNS_LABEL.match(hostname) or len(hostname) > 63:
        raise ContractError(
            "%s: hostname: %r is not a DNS label (lowercase letters, digits, '-')" % (f, hostname)
        )
    return hostname


def _restart_policy(doc: Dict[str, Any], f: str) -> str:
    policy = fields.optional(doc, "restart_policy", f, str) or "Always"
    if policy not in RESTART_POLICIES:
        raise ContractError(
            "%s: restart_policy: %r is not one of %s" % (f, policy, ", ".join(RESTART_POLICIES))
        )
    return policy


def _grace_period(doc: Dict[str, Any], f: str) -> int:
    grace = fields.optional(doc, "termination_grace_period", f, int)
    grace = defaults.TERMINATION_GRACE_PERIOD if grace is None else grace
    if not 0 <= grace <= fields.MAX_SECONDS:
        raise ContractError(
            "%s: termination_grace_period: must be 0 to %d seconds, got %d"
            % (f, fields.MAX_SECONDS, grace)
        )
    return grace


def _containers(raw: Any, f: str) -> Tuple[ContainerSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise ContractError("%s: containers: expected a non-empty list" % f)
    containers = tuple(
        ContainerSpec.from_json(c, "%s: containers[%d]" % (f, i)) for i, c in enumerate(raw)
    )
    seen = set()
    for i, c in enumerate(containers):
        if c.name in seen:
            raise ContractError(
                "%s: containers[%d].name: %r is used twice in this pod" % (f, i, c.name)
            )
        seen.add(c.name)
    return containers


def _labels(raw: Any, f: str) -> Tuple[Tuple[str, str], ...]:
    labels = raw or {}
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise ContractError("%s: labels: expected an object of strings" % f)
    return fields.string_pairs(labels)


def _dns(raw: Any, f: str) -> Optional[DnsSpec]:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ContractError("%s: dns: expected an object or null" % f)
    fields.only(raw, DNS_FIELDS, f + ": dns", ".")
    out = {}
    for field in DNS_FIELDS:
        v = raw.get(field) or []
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise ContractError("%s: dns.%s: expected a list of strings" % (f, field))
        out[field] = tuple(v)
    for ns in out["nameservers"]:
        try:
            ipaddress.ip_address(ns)
        except ValueError:
            raise ContractError("%s: dns.nameservers: %r is not an IP address" % (f, ns)) from None
    return DnsSpec(**out)


def _owner(raw: Any, f: str) -> Optional[Owner]:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ContractError("%s: owner: expected an object or null, got %s" % (f, fields.kind(raw)))
    where = f + ": owner"
    fields.only(raw, OWNER_FIELDS, where, ".")
    return Owner(fields.string(raw, "kind", where, "."), fields.string(raw, "name", where, "."))
