"""The plan: everything decided about a cluster, as data (pydantic, JSON-serialisable).

A plan is the desired state the renderer turns into Ansible and the next planning run starts
from (so an unchanged program keeps its pods, IPs and ports). Inputs the planner takes from
the world (node facts, built images) are modelled here too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from podplay.node.contract import defaults

API_VERSION = defaults.API_VERSION  # plan.json shares the node files' version
DEFAULT_MAX_PODS = defaults.MAX_PODS  # the kubelet's default


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Capacity(_Data):
    """What a node offers pods; None means unknown, so unlimited for placement."""

    cpu_millis: int | None = None
    memory_bytes: int | None = None
    pods: int = DEFAULT_MAX_PODS


class NodeFacts(_Data):
    """What the world says about one node (from the substrate, an inventory or an agent).

    `connection` holds Ansible connection variables (`ansible_host`, `ansible_user`,
    `ansible_port`, `ansible_ssh_private_key_file`, ...) that only exist once the node does.
    """

    name: str
    address: str | None = None
    pod_cidr: str | None = None
    capacity: Capacity = Capacity()
    labels: dict[str, str] = {}
    ready: bool = True
    connection: dict[str, str | int | bool] = {}
    control_plane: bool = False  # an inventory put the host in its `control_plane` group


class ClusterFacts(_Data):
    """The nodes of an existing cluster and, for a local cluster, its LoadBalancer pool."""

    nodes: list[NodeFacts]
    lb_pool: str | None = None


class ClusterPlan(_Data):
    """Cluster-wide settings every node shares."""

    name: str
    local: bool
    pod_cidr: str
    service_cidr: str
    dns_ip: str
    cluster_domain: str = defaults.CLUSTER_DOMAIN
    node_port_range: tuple[int, int] = defaults.NODE_PORT_RANGE
    lb_pool: str | None = None
    # seconds a node may be NotReady before its pods are moved
    node_grace: float = defaults.NODE_GRACE


class NodePlan(_Data):
    """One node: where it is, its pod /24, what it offers, how Ansible reaches it.

    `last_pod_ip` is the node's IP allocation cursor: the last pod IP handed out there, by
    this plan or one before it (None: none yet). The next plan goes on after it, so an IP
    that a scale-down or a rollout just released is not given to a new pod while the old
    one may still be stopping.

    `control_plane`: the node is a member of the cluster's store (etcd) and runs its
    controller."""

    name: str
    address: str | None
    pod_cidr: str
    labels: dict[str, str]
    capacity: Capacity
    ready: bool = True
    connection: dict[str, str | int | bool] = {}
    last_pod_ip: str | None = None
    control_plane: bool = False


class ImagePlan(_Data):
    """An image pods use: reference and (once built) id."""

    name: str
    ref: str
    id: str | None = None


class PortPlan(_Data):
    """A service port with its NodePort decided."""

    name: str | None
    port: int
    target_port: int
    node_port: int | None
    protocol: Literal["TCP", "UDP"]


class EndpointPlan(_Data):
    """A planned pod behind a service (readiness is learned live, never planned)."""

    pod: str
    namespace: str
    node: str
    ip: str


class ServicePlan(_Data):
    """A service as `cluster.json` carries it (node README)."""

    name: str
    namespace: str
    type: Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]
    cluster_ip: str | None
    selector: dict[str, str] | None
    ports: list[PortPlan]
    session_affinity: Literal["ClientIP"] | None = None
    affinity_timeout: int = defaults.AFFINITY_TIMEOUT
    load_balancer_ip: str | None = None
    external_name: str | None = None
    endpoints: list[EndpointPlan] = []


class PodPlan(_Data):
    """One pod bound to a node, with its IP and the manifest the agent runs."""

    name: str
    namespace: str
    deployment: str
    template_hash: str
    serial: int
    node: str
    ip: str
    manifest: dict[str, Any]


class Strategy(_Data):
    """How a changed template replaces pods, as Kubernetes' `strategy.type`: `RollingUpdate`
    within `max_surge`/`max_unavailable`, or `Recreate`: every old pod stops before any new
    one starts (no limits: both None).

    Written as `{"max_surge": 1, "max_unavailable": 0}` (the default type, as plans have
    always said it) or `{"type": "Recreate"}`."""

    type: Literal["RollingUpdate", "Recreate"] = "RollingUpdate"
    max_surge: int | None = None
    max_unavailable: int | None = None

    @model_serializer(mode="wrap")
    def _written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        if self.type == "Recreate":
            return {"type": "Recreate"}
        data: dict[str, Any] = handler(self)
        data.pop("type", None)
        return data


class DeploymentPlan(_Data):
    """A deployment: its template (for diffs), its hash and its pods, oldest first."""

    name: str
    namespace: str
    replicas: int
    template_hash: str
    template: dict[str, Any]
    strategy: Strategy
    next_serial: int
    pods: list[str]


class RolloutStep(_Data):
    """One step of replacing pods: create (then wait until ready) or delete."""

    namespace: str
    deployment: str
    action: Literal["create", "delete"]
    pods: list[str]


class Plan(_Data):
    """Everything decided; `render` turns it into Ansible, the next `plan` starts from it."""

    api_version: str = Field(default=API_VERSION)
    kind: Literal["Plan"] = "Plan"
    cluster: ClusterPlan
    nodes: list[NodePlan]
    images: list[ImagePlan]
    deployments: list[DeploymentPlan]
    pods: list[PodPlan]
    services: list[ServicePlan]
    rollout: list[RolloutStep] = []
    outputs: dict[str, Any] = {}
    pending: list[str] = []

    def control_plane(self) -> list[NodePlan]:
        """The store's members (the nodes running etcd and the controller), in node order."""
        return [n for n in self.nodes if n.control_plane]

    def ready_nodes(self) -> list[NodePlan]:
        """The nodes the plan places pods on (NotReady ones are planned around)."""
        return [n for n in self.nodes if n.ready]

    def to_json(self) -> str:
        """The plan as stable, indented JSON (what `plan.json` holds)."""
        return self.model_dump_json(indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        """Read a plan written by `to_json`."""
        return cls.model_validate_json(text)
