"""Pod manifests as the agent takes them: a spec to run, or an `InvalidPod` to report.

The format and its parsing are the node contract's (podplay.node.contract.pods); what is
the agent's own is here: a manifest it cannot use becomes an `InvalidPod` with a reason and
the contract's one-sentence message, never an exception (one bad file must not stop the
other pods), and the admission rule that a pod's IP must be a usable address of this node's
pod CIDR. Pure: bytes in, spec out (no I/O here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union

# The records are the contract's; the agent's modules import them from here.
from podplay.node.contract import addresses
from podplay.node.contract.containers import ContainerSpec, ProbeSpec
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import decode
from podplay.node.contract.pods import DnsSpec, PodSpec, key_from_filename

__all__ = [
    "INVALID_MANIFEST",
    "IP_OUTSIDE_CIDR",
    "SANDBOX",
    "ContainerSpec",
    "DnsSpec",
    "InvalidPod",
    "Manifest",
    "PodSpec",
    "ProbeSpec",
    "key_from_filename",
    "parse_manifest",
]

SANDBOX = "POD"  # io.podplay.container value of the pause (sandbox) container

# Failure reasons reported in PodStatus.reason (CamelCase, as Kubernetes does).
INVALID_MANIFEST = "InvalidManifest"
IP_OUTSIDE_CIDR = "IPOutsidePodCIDR"


@dataclass(frozen=True)
class InvalidPod:
    """A manifest the agent cannot run: reported as a Failed pod with this reason."""

    namespace: str
    name: str
    reason: str
    message: str
    file: str = ""
    uid: str = ""
    ip: Optional[str] = None
    labels: Tuple[Tuple[str, str], ...] = ()

    @property
    def key(self) -> Tuple[str, str]:
        return (self.namespace, self.name)


Manifest = Union[PodSpec, InvalidPod]


def parse_manifest(filename: str, data: bytes, pod_cidr: Optional[str] = None) -> Manifest:
    """Parse one manifest file's bytes. Never raises: problems become an `InvalidPod`."""
    key = key_from_filename(filename) or ("", filename)
    try:
        doc = decode(data, filename)
    except ContractError as err:
        return InvalidPod(key[0], key[1], INVALID_MANIFEST, str(err), file=filename)
    try:
        spec = _pod(doc, filename)
        ns, name = spec.key
        if spec.key != key:
            why = "%s: holds pod %s/%s, but the file must be named %s_%s.json" % (
                filename,
                ns,
                name,
                ns,
                name,
            )
            return _invalid(key, doc, INVALID_MANIFEST, why, filename)
        problem = None if pod_cidr is None else _ip_problem(spec.ip, pod_cidr)
    except ContractError as err:
        return _invalid(key, doc, INVALID_MANIFEST, str(err), filename)
    except Exception as err:  # untrusted input: never raise into the agent
        # a shape the contract does not foresee: still one Failed pod, never an exception
        # that stops the other pods
        why = "%s: cannot be read (%s: %s)" % (filename, type(err).__name__, err)
        return _invalid(key, doc, INVALID_MANIFEST, why, filename)
    if problem is not None:
        return _invalid(key, doc, IP_OUTSIDE_CIDR, "%s: ip: %s" % (filename, problem), filename)
    return spec


def _pod(doc: Any, filename: str) -> PodSpec:
    return PodSpec.from_json(doc, filename)


_WHY = {
    addresses.OUTSIDE: "outside this node's pod CIDR %s",
    addresses.RESERVED: "a reserved address of this node's pod CIDR %s",
    addresses.GATEWAY: "the gateway of this node's pod CIDR %s",
}


def _ip_problem(ip: str, pod_cidr: str) -> Optional[str]:
    """Why `ip` cannot be a pod's address on a node with `pod_cidr` (None when it can)."""
    kind = addresses.problem(pod_cidr, ip)
    if kind is None:
        return None
    return "%s is %s; pods here need an address from %s other than %s" % (
        ip,
        _WHY[kind] % pod_cidr,
        pod_cidr,
        addresses.gateway(pod_cidr),
    )


def _invalid(key: Tuple[str, str], doc: Any, reason: str, message: str, file: str) -> InvalidPod:
    """An InvalidPod keeping what the document says about uid, IP and labels (for reporting)."""
    labels: Tuple[Tuple[str, str], ...] = ()
    uid, ip = "", None
    if isinstance(doc, dict):
        raw = doc.get("labels")
        if isinstance(raw, dict):
            labels = tuple(
                (k, v) for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)
            )
        uid = doc.get("uid") if isinstance(doc.get("uid"), str) else ""
        ip = doc.get("ip") if isinstance(doc.get("ip"), str) else None
    return InvalidPod(key[0], key[1], reason, message, file=file, uid=uid, ip=ip, labels=labels)
