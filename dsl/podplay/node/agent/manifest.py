"""Pod manifests: `/etc/podplay/pods/<namespace>_<pod>.json` parsed into frozen specs.

A manifest the agent cannot use becomes an `InvalidPod` with a reason and a one-sentence
message naming the field, never an exception: one bad file must not stop the other pods.
Format: dsl/podplay/node/README.md. Pure: bytes in, spec out (no I/O here).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

API_VERSION = "podplay/v1"
RESTART_POLICIES = ("Always", "OnFailure", "Never")
PROBE_TYPES = ("http", "tcp", "exec")
SANDBOX = "POD"  # io.podplay.container value of the pause (sandbox) container
DEFAULT_GRACE = 30
MAX_SECONDS = 2**31 - 1  # seconds fields are int32, as in the Kubernetes API (and finite)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_UID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

# Failure reasons reported in PodStatus.reason (CamelCase, as Kubernetes does).
INVALID_MANIFEST = "InvalidManifest"
IP_OUTSIDE_CIDR = "IPOutsidePodCIDR"


class ManifestError(ValueError):
    """One problem with one manifest field; `reason` is the status reason."""

    def __init__(self, message: str, reason: str = INVALID_MANIFEST) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ProbeSpec:
    """One probe (liveness, readiness or startup), Kubernetes defaults filled in."""

    type: str
    port: Optional[int] = None
    path: str = "/"
    command: Tuple[str, ...] = ()
    period: float = 10.0
    timeout: float = 1.0
    failure_threshold: int = 3
    success_threshold: int = 1
    initial_delay: float = 0.0


@dataclass(frozen=True)
class ContainerSpec:
    """One app container of a pod."""

    name: str
    image: str
    image_id: Optional[str] = None
    command: Optional[Tuple[str, ...]] = None
    args: Optional[Tuple[str, ...]] = None
    env: Tuple[Tuple[str, str], ...] = ()
    ports: Tuple[int, ...] = ()
    cpu_millis: Optional[int] = None
    memory_bytes: Optional[int] = None
    readiness: Optional[ProbeSpec] = None
    liveness: Optional[ProbeSpec] = None
    startup: Optional[ProbeSpec] = None

    @property
    def config_hash(self) -> str:
        """Hash of everything that needs a new container when it changes (probes do not)."""
        return _hash(
            [
                self.name,
                self.image,
                self.image_id,
                self.command,
                self.args,
                self.env,
                self.cpu_millis,
                self.memory_bytes,
            ]
        )


@dataclass(frozen=True)
class DnsSpec:
    nameservers: Tuple[str, ...] = ()
    searches: Tuple[str, ...] = ()
    options: Tuple[str, ...] = ()


@dataclass(frozen=True)
class PodSpec:
    """A pod bound to this node, as the controller planned it."""

    name: str
    namespace: str
    uid: str
    ip: str
    hostname: str
    containers: Tuple[ContainerSpec, ...]
    labels: Tuple[Tuple[str, str], ...] = ()
    template_hash: str = ""
    restart_policy: str = "Always"
    grace_period: int = DEFAULT_GRACE
    dns: Optional[DnsSpec] = None
    file: str = ""

    @property
    def key(self) -> Tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def sandbox_hash(self) -> str:
        """Hash of what the sandbox holds: a change needs a new sandbox (and so new containers)."""
        return _hash([self.uid, self.ip, self.hostname, self.dns])

    def container(self, name: str) -> Optional[ContainerSpec]:
        for c in self.containers:
            if c.name == name:
                return c
        return None


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


def key_from_filename(filename: str) -> Optional[Tuple[str, str]]:
    """`default_web-1.json` -> ("default", "web-1"); None for files that are not manifests."""
    if not filename.endswith(".json") or filename.startswith("."):
        return None
    stem = filename[: -len(".json")]
    namespace, sep, name = stem.partition("_")
    if not sep or not namespace or not name:
        return None
    return (namespace, name)


def parse_manifest(filename: str, data: bytes, pod_cidr: Optional[str] = None) -> Manifest:
    """Parse one manifest file's bytes. Never raises: problems become an `InvalidPod`."""
    key = key_from_filename(filename) or ("", filename)
    try:
        doc = json.loads(data.decode("utf-8"))
    except RecursionError:
        return InvalidPod(
            key[0],
            key[1],
            INVALID_MANIFEST,
            "%s: not valid JSON (nested too deeply)" % filename,
            file=filename,
        )
    except (UnicodeDecodeError, ValueError) as err:
        return InvalidPod(
            key[0],
            key[1],
            INVALID_MANIFEST,
            "%s: not valid JSON (%s)" % (filename, _first_line(err)),
            file=filename,
        )
    try:
        spec = _pod(doc, filename)
        if (spec.namespace, spec.name) != key:
            raise ManifestError(
                "%s: holds pod %s/%s, but the file must be named %s_%s.json"
                % (filename, spec.namespace, spec.name, spec.namespace, spec.name)
            )
        if pod_cidr is not None:
            _check_ip(spec, pod_cidr, filename)
        return spec
    except Exception as err:  # untrusted input: never raise into the agent
        # ManifestError names the field; anything else is a shape this parser does not
        # foresee: still one Failed pod, never an exception that stops the other pods
        reason = err.reason if isinstance(err, ManifestError) else INVALID_MANIFEST
        message = (
            str(err)
            if isinstance(err, ManifestError)
            else "%s: cannot be read (%s: %s)" % (filename, type(err).__name__, err)
        )
        labels = ()
        uid = ""
        ip = None
        if isinstance(doc, dict):
            labels = _safe_labels(doc.get("labels"))
            uid = doc.get("uid") if isinstance(doc.get("uid"), str) else ""
            ip = doc.get("ip") if isinstance(doc.get("ip"), str) else None
        return InvalidPod(
            key[0], key[1], reason, message, file=filename, uid=uid, ip=ip, labels=labels
        )


def _check_ip(spec: PodSpec, pod_cidr: str, filename: str) -> None:
    net = ipaddress.ip_network(pod_cidr, strict=False)
    ip = ipaddress.ip_address(spec.ip)
    gateway = net.network_address + 1
    if ip not in net:
        why = "outside this node's pod CIDR %s" % pod_cidr
    elif ip in (net.network_address, net.broadcast_address):
        why = "a reserved address of this node's pod CIDR %s" % pod_cidr
    elif ip == gateway:
        why = "the gateway of this node's pod CIDR %s" % pod_cidr
    else:
        return
    raise ManifestError(
        "%s: ip: %s is %s; pods here need an address from %s other than %s"
        % (filename, spec.ip, why, pod_cidr, gateway),
        reason=IP_OUTSIDE_CIDR,
    )


# -- field readers: each raises ManifestError naming the field path ------------------------


def _pod(doc: Any, f: str) -> PodSpec:
    if not isinstance(doc, dict):
        raise ManifestError("%s: expected a JSON object, got %s" % (f, _kind(doc)))
    if doc.get("apiVersion", API_VERSION) != API_VERSION or doc.get("kind", "Pod") != "Pod":
        raise ManifestError(
            "%s: apiVersion/kind: expected %s Pod, got %s %s"
            % (f, API_VERSION, doc.get("apiVersion"), doc.get("kind"))
        )
    name = _dns_label(doc, "name", f)
    namespace = _dns_label(doc, "namespace", f)
    uid = _str(doc, "uid", f)
    if not _UID.match(uid):
        raise ManifestError(
            "%s: uid: %r may hold only letters, digits, '_', '.' and '-'" % (f, uid)
        )
    ip = _str(doc, "ip", f)
    try:
        ipaddress.IPv4Address(ip)
    except ValueError:
        raise ManifestError("%s: ip: %r is not an IPv4 address" % (f, ip)) from None
    hostname = _opt(doc, "hostname", f, str) or name
    if not _DNS_LABEL.match(hostname) or len(hostname) > 63:
        raise ManifestError(
            "%s: hostname: %r is not a DNS label (lowercase letters, digits, '-')" % (f, hostname)
        )
    policy = _opt(doc, "restart_policy", f, str) or "Always"
    if policy not in RESTART_POLICIES:
        raise ManifestError(
            "%s: restart_policy: %r is not one of %s" % (f, policy, ", ".join(RESTART_POLICIES))
        )
    grace = _opt(doc, "termination_grace_period", f, int)
    grace = DEFAULT_GRACE if grace is None else grace
    if not 0 <= grace <= MAX_SECONDS:
        raise ManifestError(
            "%s: termination_grace_period: must be 0 to %d seconds, got %d"
            % (f, MAX_SECONDS, grace)
        )
    raw = doc.get("containers")
    if not isinstance(raw, list) or not raw:
        raise ManifestError("%s: containers: expected a non-empty list" % f)
    containers = tuple(_container(c, "%s: containers[%d]" % (f, i)) for i, c in enumerate(raw))
    seen = set()
    for i, c in enumerate(containers):
        if c.name in seen:
            raise ManifestError(
                "%s: containers[%d].name: %r is used twice in this pod" % (f, i, c.name)
            )
        seen.add(c.name)
    labels = doc.get("labels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise ManifestError("%s: labels: expected an object of strings" % f)
    return PodSpec(
        name=name,
        namespace=namespace,
        uid=uid,
        ip=ip,
        hostname=hostname,
        containers=containers,
        labels=tuple(sorted(labels.items())),
        template_hash=_opt(doc, "template_hash", f, str) or "",
        restart_policy=policy,
        grace_period=grace,
        dns=_dns(doc.get("dns"), f),
        file=f,
    )


def _container(doc: Any, where: str) -> ContainerSpec:
    if not isinstance(doc, dict):
        raise ManifestError("%s: expected an object, got %s" % (where, _kind(doc)))
    name = _dns_label(doc, "name", where, sep=".")
    if name == SANDBOX:  # cannot happen with a DNS label, kept for clarity
        raise ManifestError("%s.name: %r is reserved" % (where, name))
    image = _str(doc, "image", where, sep=".")
    env = doc.get("env") or {}
    if not isinstance(env, dict):
        raise ManifestError("%s.env: expected an object of strings" % where)
    for k, v in env.items():
        if not _ENV_NAME.match(k) or not isinstance(v, str):
            raise ManifestError(
                "%s.env.%s: expected a variable name with a string value, got %s"
                % (where, k, _kind(v))
            )
    ports = []
    raw_ports = doc.get("ports") or []
    if not isinstance(raw_ports, list):
        raise ManifestError("%s.ports: expected a list or null, got %s" % (where, _kind(raw_ports)))
    for i, p in enumerate(raw_ports):
        port = p.get("container_port") if isinstance(p, dict) else None
        ports.append(_port(port, "%s.ports[%d].container_port" % (where, i)))
    res = doc.get("resources") or {}
    if not isinstance(res, dict):
        raise ManifestError("%s.resources: expected an object or null" % where)
    cpu = _opt(res, "cpu_millis", where + ".resources", int, sep=".")
    mem = _opt(res, "memory_bytes", where + ".resources", int, sep=".")
    if cpu is not None and cpu <= 0:
        raise ManifestError("%s.resources.cpu_millis: must be > 0, got %d" % (where, cpu))
    if mem is not None and mem < 6 * 1024 * 1024:
        raise ManifestError(
            "%s.resources.memory_bytes: must be at least 6 MiB (Docker's minimum), got %d"
            % (where, mem)
        )
    return ContainerSpec(
        name=name,
        image=image,
        image_id=_opt(doc, "image_id", where, str, sep=".") or None,
        command=_argv(doc.get("command"), where + ".command"),
        args=_argv(doc.get("args"), where + ".args"),
        env=tuple(sorted(env.items())),
        ports=tuple(ports),
        cpu_millis=cpu,
        memory_bytes=mem,
        readiness=_probe(doc.get("readiness"), where + ".readiness"),
        liveness=_probe(doc.get("liveness"), where + ".liveness"),
        startup=_probe(doc.get("startup"), where + ".startup"),
    )


def _probe(doc: Any, where: str) -> Optional[ProbeSpec]:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise ManifestError("%s: expected an object or null" % where)
    kind = doc.get("type")
    if kind not in PROBE_TYPES:
        raise ManifestError("%s.type: %r is not one of %s" % (where, kind, ", ".join(PROBE_TYPES)))
    port = None
    path = "/"
    command: Tuple[str, ...] = ()
    if kind in ("http", "tcp"):
        port = _port(doc.get("port"), where + ".port")
    if kind == "http":
        path = _opt(doc, "path", where, str, sep=".") or "/"
        if not path.startswith("/"):
            raise ManifestError("%s.path: must start with '/', got %r" % (where, path))
    if kind == "exec":
        command = _argv(doc.get("command"), where + ".command") or ()
        if not command:
            raise ManifestError("%s.command: an exec probe needs a non-empty command" % where)
    values = {}
    for field, default, low in (
        ("period", 10.0, 0.1),
        ("timeout", 1.0, 0.1),
        ("initial_delay", 0.0, 0.0),
    ):
        v = doc.get(field)
        if v is None:
            v = default
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not math.isfinite(v)
            or v < low
            or v > MAX_SECONDS
        ):
            raise ManifestError(
                "%s.%s: expected a number of seconds from %s to %d, got %r"
                % (where, field, low, MAX_SECONDS, v)
            )
        values[field] = float(v)
    for field, default in (("failure_threshold", 3), ("success_threshold", 1)):
        v = doc.get(field)
        if v is None:
            v = default
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ManifestError("%s.%s: expected an integer >= 1, got %r" % (where, field, v))
        values[field] = v
    return ProbeSpec(type=kind, port=port, path=path, command=command, **values)


def _dns(doc: Any, f: str) -> Optional[DnsSpec]:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise ManifestError("%s: dns: expected an object or null" % f)
    out = {}
    for field in ("nameservers", "searches", "options"):
        v = doc.get(field) or []
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise ManifestError("%s: dns.%s: expected a list of strings" % (f, field))
        out[field] = tuple(v)
    for ns in out["nameservers"]:
        try:
            ipaddress.ip_address(ns)
        except ValueError:
            raise ManifestError("%s: dns.nameservers: %r is not an IP address" % (f, ns)) from None
    return DnsSpec(**out)


def _str(doc: Mapping[str, Any], field: str, where: str, sep: str = ": ") -> str:
    v = doc.get(field)
    if v is None:
        raise ManifestError(
            "%s%s%s: missing (a non-empty string is required)" % (where, sep, field)
        )
    if not isinstance(v, str) or not v:
        raise ManifestError("%s%s%s: expected a non-empty string, got %r" % (where, sep, field, v))
    return v


def _opt(doc: Mapping[str, Any], field: str, where: str, typ: type, sep: str = ": ") -> Any:
    v = doc.get(field)
    if v is None:
        return None
    if not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
        raise ManifestError(
            "%s%s%s: expected %s, got %r" % (where, sep, field, _TYPE_NAMES[typ], v)
        )
    return v


def _dns_label(doc: Mapping[str, Any], field: str, where: str, sep: str = ": ") -> str:
    v = _str(doc, field, where, sep)
    if len(v) > 63 or not _DNS_LABEL.match(v):
        raise ManifestError(
            "%s%s%s: %r is not a DNS label (at most 63 lowercase letters, digits and '-')"
            % (where, sep, field, v)
        )
    return v


def _port(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        raise ManifestError("%s: expected a port number 1-65535, got %r" % (where, v))
    return v


def _argv(v: Any, where: str) -> Optional[Tuple[str, ...]]:
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ManifestError("%s: expected a list of strings or null" % where)
    return tuple(v)


def _safe_labels(v: Any) -> Tuple[Tuple[str, str], ...]:
    if isinstance(v, dict):
        return tuple(
            sorted((k, x) for k, x in v.items() if isinstance(k, str) and isinstance(x, str))
        )
    return ()


_TYPE_NAMES: Dict[type, str] = {str: "a string", int: "an integer", dict: "an object"}


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(v), type(v).__name__
    )


def _first_line(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _hash(parts: List[Any]) -> str:
    text = json.dumps(parts, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
