"""Talking to the node agents from the machine that runs podplay (their API on port 10250).

Where a cluster's agents are and the token they want come from the cluster itself: a local
cluster is found by its Docker labels (`podplay.substrate`), any cluster by an Ansible
inventory with `podplay_nodes` and `podplay_agent_token_file` (what `cluster create` and
`podplay compile` write). Nodes are asked in parallel; a node that does not answer is
reported, never fatal.

The API is HTTPS only: each agent's certificate is checked against the cluster's CA (its
`pki/ca.crt` on this machine: the inventory's `podplay_pki_dir`, else the cluster's own
directory under PODPLAY_HOME) and the node's address, so the token never crosses in clear.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from podplay import paths
from podplay.artifacts import pki
from podplay.errors import EnvironmentProblem, UserInputError
from podplay.node.contract import defaults
from podplay.node.util import tls

DEFAULT_PORT = defaults.AGENT_API_PORT
CLUSTER_ENV = "PODPLAY_CLUSTER"
T = TypeVar("T")


@dataclass(frozen=True)
class NodeEndpoint:
    """One node's agent: where it listens, and (local clusters) its container."""

    name: str
    address: str
    pod_cidr: str = ""
    port: int = DEFAULT_PORT
    container: str = ""


@dataclass(frozen=True)
class ClusterAccess:
    """A cluster's agents and the bearer token they accept."""

    name: str
    nodes: tuple[NodeEndpoint, ...]
    token: str = field(repr=False)
    ca: Path | None = None  # the cluster CA the agents' certificates are checked against

    def client(self, node: NodeEndpoint, timeout: float = 5.0) -> AgentClient:
        return AgentClient(node, self.token, timeout, self.ca)

    def node(self, name: str) -> NodeEndpoint:
        for n in self.nodes:
            if n.name == name:
                return n
        raise UserInputError(
            f"cluster {self.name} has no node {name!r} (nodes: "
            f"{', '.join(n.name for n in self.nodes)})"
        )

    def each(self, ask: Callable[[AgentClient], T]) -> list[tuple[NodeEndpoint, T | Exception]]:
        """Ask every node at once; each answer or the error that node gave."""

        def one(node: NodeEndpoint) -> T | Exception:
            try:
                return ask(self.client(node))
            except (AgentError, OSError, ValueError) as err:
                return err

        with ThreadPoolExecutor(max_workers=min(16, max(1, len(self.nodes)))) as pool:
            answers = list(pool.map(one, self.nodes))
        return list(zip(self.nodes, answers, strict=True))


class AgentError(Exception):
    """A node's agent did not answer, or answered with an error."""


class AgentClient:
    """The agent API of one node (endpoints in dsl/podplay/node/README.md)."""

    def __init__(
        self, node: NodeEndpoint, token: str, timeout: float = 5.0, ca: Path | None = None
    ) -> None:
        self.node = node
        self.token = token
        self.timeout = timeout
        self.ca = ca

    @property
    def base(self) -> str:
        host = f"[{self.node.address}]" if ":" in self.node.address else self.node.address
        return f"https://{host}:{self.node.port}"

    def _open(self, path: str, query: dict[str, Any] | None = None, timeout: float | None = None):
        q = {k: v for k, v in (query or {}).items() if v is not None and v is not False}
        url = self.base + path + (("?" + urllib.parse.urlencode(q)) if q else "")
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        context = self._context()
        try:
            return urllib.request.urlopen(req, timeout=timeout or self.timeout, context=context)
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace").strip()
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("error", detail)
            raise AgentError(f"node {self.node.name}: {detail or err.reason}") from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, ssl.SSLError):
                reason = tls.describe(reason)
            raise AgentError(
                f"node {self.node.name}: agent at {self.base} does not answer ({reason})"
            ) from None

    def _context(self) -> ssl.SSLContext:
        if self.ca is None:
            raise AgentError(f"node {self.node.name}: no cluster CA to check its agent against")
        try:
            return _client_context(str(self.ca), _mtime(self.ca))
        except OSError as err:  # ssl.SSLError too
            raise AgentError(
                f"node {self.node.name}: cannot read the cluster CA {self.ca} ({err})"
            ) from None

    def _json(self, path: str, query: dict[str, Any] | None = None) -> Any:
        with self._open(path, query) as resp:
            return json.loads(resp.read().decode())

    def healthz(self) -> tuple[bool, str]:
        """(ready, message). Needs no token."""
        try:
            with self._open("/healthz") as resp:
                return True, resp.read().decode().strip()
        except AgentError as err:
            return False, str(err)

    def pods(self) -> dict[str, Any]:
        return self._json("/v1/pods")

    def node_info(self) -> dict[str, Any]:
        return self._json("/v1/node")

    def events(self) -> list[dict[str, Any]]:
        return self._json("/v1/events").get("events", [])

    def watch(self, timeout: float = 3.0) -> Iterator[dict[str, Any]]:
        """The NDJSON watch stream: snapshots and heartbeats, until the caller stops."""
        resp = self._open("/v1/pods", {"watch": 1}, timeout=timeout)
        with resp:
            for line in resp:
                if line.strip():
                    yield json.loads(line)

    def logs(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        tail: int | None = None,
        follow: bool = False,
        previous: bool = False,
    ) -> Iterator[bytes]:
        path = f"/v1/pods/{namespace}/{pod}/logs"
        query = {
            "container": container,
            "tail": tail,
            "follow": 1 if follow else None,
            "previous": 1 if previous else None,
        }
        resp = self._open(path, query, timeout=None if follow else 30)
        with resp:
            while True:
                chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
                if not chunk:
                    return
                yield chunk


@functools.lru_cache(maxsize=8)
def _client_context(ca: str, mtime: int) -> ssl.SSLContext:
    """One context per CA file version (every node of a cluster shares it)."""
    return tls.client_context(ca)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


# -- finding a cluster's agents -----------------------------------------------------------


def default_cluster_name() -> str:
    """The cluster meant when none is named: $PODPLAY_CLUSTER, or the only one there is."""
    env = os.environ.get(CLUSTER_ENV)
    if env:
        return env
    names = _known_clusters()
    if len(names) == 1:
        return names[0]
    if not names:
        raise UserInputError(
            "no cluster found: create one with `podplay cluster create NAME` or name one with -c"
        )
    raise UserInputError(
        f"several clusters exist ({', '.join(names)}): name one with -c or ${CLUSTER_ENV}"
    )


def _known_clusters() -> list[str]:
    root = paths.home() / "clusters"
    try:
        return sorted(p.name for p in root.iterdir() if (p / "inventory.yml").is_file())
    except OSError:
        return []


def cluster_access(name: str | None = None, inventory: Path | None = None) -> ClusterAccess:
    """A cluster's agents and token, from its inventory (local clusters: `cluster create`'s)."""
    if inventory is None:
        name = name or default_cluster_name()
        inventory = paths.cluster_dir(name) / "inventory.yml"
        if not inventory.is_file():
            raise UserInputError(
                f"cluster {name!r} is unknown here: no {inventory} (`podplay cluster list` shows "
                "local clusters; pass -i INVENTORY for others)"
            )
    return access_from_inventory(Path(inventory), name)


def access_from_inventory(inventory: Path, name: str | None = None) -> ClusterAccess:
    try:
        doc = yaml.safe_load(inventory.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise UserInputError(f"cannot read inventory {inventory}: {err}") from None
    cluster_vars: dict[str, Any] = {}
    hosts: dict[str, dict[str, Any]] = {}
    _walk(doc.get("all", doc), cluster_vars, hosts)
    group_vars = inventory.parent / "group_vars" / "all.yml"
    if group_vars.is_file():  # podplay compile's layout
        with contextlib.suppress(OSError, yaml.YAMLError):
            cluster_vars = {**(yaml.safe_load(group_vars.read_text()) or {}), **cluster_vars}
    nodes_var = cluster_vars.get("podplay_nodes") or []
    token_file = cluster_vars.get("podplay_agent_token_file")
    cname = name or cluster_vars.get("podplay_cluster_name") or inventory.parent.name
    if not nodes_var:
        raise UserInputError(f"inventory {inventory}: podplay_nodes is missing or empty")
    if not token_file:
        raise UserInputError(f"inventory {inventory}: podplay_agent_token_file is not set")
    nodes = []
    for n in nodes_var:
        h = hosts.get(n["name"], {})
        address = n.get("address") or h.get("podplay_node_address") or h.get("ansible_host")
        if not address:
            raise UserInputError(f"inventory {inventory}: node {n['name']} has no address")
        nodes.append(
            NodeEndpoint(
                name=n["name"],
                address=str(address),
                pod_cidr=n.get("pod_cidr") or h.get("podplay_node_pod_cidr") or "",
                port=int(
                    n.get("api_port") or cluster_vars.get("podplay_agent_api_port") or DEFAULT_PORT
                ),
                container=h.get("podplay_container") or "",
            )
        )
    pki_dir = cluster_vars.get("podplay_pki_dir")
    ca = Path(pki_dir) / "ca.crt" if pki_dir else pki.Pki(pki.pki_dir(cname)).ca_cert
    return ClusterAccess(cname, tuple(nodes), read_token(Path(token_file)), ca)


def read_token(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as err:
        raise EnvironmentProblem(
            f"cannot read the agent API token {path}: {err.strerror} (it is made when the "
            "cluster is created)"
        ) from None
    if not token:
        raise EnvironmentProblem(f"the agent API token file {path} is empty")
    return token


def _walk(group: Any, cluster_vars: dict[str, Any], hosts: dict[str, dict[str, Any]]) -> None:
    if not isinstance(group, dict):
        return
    for k, v in (group.get("vars") or {}).items():
        cluster_vars.setdefault(k, v)
    for host, hv in (group.get("hosts") or {}).items():
        hosts.setdefault(host, {}).update(hv or {})
    for child in (group.get("children") or {}).values():
        _walk(child, cluster_vars, hosts)


def all_pods(access: ClusterAccess) -> tuple[list[dict[str, Any]], list[str]]:
    """Every pod of every node (each with its `node`), and the nodes that did not answer."""
    pods, unreachable = pods_by_node(access)
    return pods, list(unreachable.values())


def pods_by_node(access: ClusterAccess) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every pod of every node (each with its `node`), and each node that did not answer
    (by name) with what went wrong."""
    pods: list[dict[str, Any]] = []
    unreachable: dict[str, str] = {}
    for node, answer in access.each(lambda c: c.pods()):
        if isinstance(answer, Exception):
            unreachable[node.name] = str(answer)
            continue
        for p in answer.get("pods", []):
            pods.append({**p, "node": node.name})
    pods.sort(key=lambda p: (p["namespace"], p["name"], p["node"]))
    return pods, unreachable


def find_pod(access: ClusterAccess, name: str, namespace: str | None = None) -> dict[str, Any]:
    """The pod named `name` (in `namespace`, or any when there is one match)."""
    pods, problems = all_pods(access)
    found = [
        p for p in pods if p["name"] == name and (namespace is None or p["namespace"] == namespace)
    ]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        spaces = ", ".join(sorted({p["namespace"] for p in found}))
        raise UserInputError(f"pod {name} exists in several namespaces ({spaces}): use -n")
    where = f" in namespace {namespace}" if namespace else ""
    hint = f" ({'; '.join(problems)})" if problems else ""
    raise UserInputError(f"no pod {name}{where} on cluster {access.name}{hint}")
