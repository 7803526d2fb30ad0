"""Local clusters as the Docker engine holds them: labels are the only record.

As kind does, nothing is kept on the side: a cluster is whatever carries the label
`io.podplay.cluster=<name>` (node containers, the cluster network, the per-node volumes), so
listing is a label query and a killed run's leftovers are found the same way.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Iterable
from pathlib import Path

import docker
from docker.errors import APIError, NotFound

from podplay import paths
from podplay.artifacts import engine
from podplay.substrate import addressing
from podplay.substrate.model import Cluster, Node

LABEL_CLUSTER = "io.podplay.cluster"
LABEL_ROLE = "io.podplay.role"
LABEL_INDEX = "io.podplay.node-index"
LABEL_POD_CIDR = "io.podplay.pod-cidr"
LABEL_NODE_NAME = "io.podplay.node-name"


def client() -> docker.DockerClient:
    """The engine client; EnvironmentProblem (exit 1) when no engine answers."""
    return engine.client()


def node_containers(cli: docker.DockerClient, name: str | None = None) -> list:
    """Node containers (running or not) of one cluster, or of all clusters."""
    label = f"{LABEL_CLUSTER}={name}" if name else LABEL_CLUSTER
    return cli.containers.list(all=True, filters={"label": [label, f"{LABEL_ROLE}=node"]})


def cluster_networks(cli: docker.DockerClient, name: str) -> list:
    """Networks labelled for the cluster."""
    return cli.networks.list(filters={"label": f"{LABEL_CLUSTER}={name}"})


def cluster_volumes(cli: docker.DockerClient, name: str) -> list:
    """Volumes labelled for the cluster."""
    return cli.volumes.list(filters={"label": f"{LABEL_CLUSTER}={name}"})


def running_nodes(cli: docker.DockerClient, name: str) -> list:
    """Node containers of the cluster that are running."""
    return [c for c in node_containers(cli, name) if c.status == "running"]


def has_leftovers(cli: docker.DockerClient, name: str) -> bool:
    """Anything at all labelled for the cluster."""
    return bool(
        node_containers(cli, name) or cluster_networks(cli, name) or cluster_volumes(cli, name)
    )


def used_subnets(cli: docker.DockerClient) -> list[ipaddress.IPv4Network]:
    """IPv4 subnets of every Docker network, plus the machine's own routes (local engine)."""
    used: list[ipaddress.IPv4Network] = []
    for net in cli.networks.list():
        for conf in (net.attrs.get("IPAM") or {}).get("Config") or []:
            subnet = conf.get("Subnet")
            if subnet:
                try:
                    parsed = ipaddress.ip_network(subnet, strict=False)
                except ValueError:
                    continue
                if isinstance(parsed, ipaddress.IPv4Network):
                    used.append(parsed)
    return used + host_routes()


def parse_proc_route(text: str) -> list[ipaddress.IPv4Network]:
    """Destinations of /proc/net/route (hex, little endian), default route excluded."""
    nets: list[ipaddress.IPv4Network] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest = int(fields[1], 16)
        mask = int(fields[7], 16)
        if mask == 0:
            continue
        addr = ipaddress.IPv4Address(dest.to_bytes(4, "little"))
        netmask = ipaddress.IPv4Address(mask.to_bytes(4, "little"))
        nets.append(ipaddress.IPv4Network(f"{addr}/{netmask}", strict=False))
    return nets


def host_routes() -> list[ipaddress.IPv4Network]:
    """Networks this machine routes to (a cluster subnet must not shadow them)."""
    try:
        return parse_proc_route(Path("/proc/net/route").read_text())
    except OSError:
        return []


def create_network(cli: docker.DockerClient, plan: addressing.ClusterPlan) -> None:
    """Create the cluster network; APIError when the engine refuses (e.g. subnet overlap)."""
    ipam = docker.types.IPAMConfig(
        pool_configs=[
            docker.types.IPAMPool(subnet=plan.subnet, gateway=plan.gateway, iprange=plan.ip_range)
        ]
    )
    cli.networks.create(
        plan.network,
        driver="bridge",
        ipam=ipam,
        labels={LABEL_CLUSTER: plan.name},
        check_duplicate=True,
    )


def detect_privileged(cli: docker.DockerClient, image: str) -> bool:
    """Whether `--privileged` containers start on this engine (cached per engine).

    Some VMs lack capabilities in their bounding set and refuse privileged containers; the
    node containers then get the explicit capability set instead.
    """
    engine_id = cli.info().get("ID", "unknown").replace(":", "")
    cache = paths.cache_dir() / f"engine-{engine_id}.json"
    if cache.exists():
        try:
            return bool(json.loads(cache.read_text())["privileged"])
        except (ValueError, KeyError):
            pass
    container = None
    try:
        container = cli.containers.create(
            image,
            entrypoint=["/bin/true"],
            privileged=True,
            labels={LABEL_CLUSTER: "podplay-probe"},
        )
        container.start()
        ok = container.wait(timeout=60).get("StatusCode") == 0
    except APIError:
        ok = False
    finally:
        if container is not None:
            with contextlib.suppress(APIError):
                container.remove(force=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"privileged": ok}))
    return ok


def remove_cluster_objects(cli: docker.DockerClient, name: str) -> None:
    """Remove every container, network and volume labelled for the cluster (idempotent)."""
    for container in node_containers(cli, name) + cli.containers.list(
        all=True, filters={"label": f"{LABEL_CLUSTER}={name}"}
    ):
        _ignore_missing(lambda c=container: c.remove(force=True, v=True))
    for net in cluster_networks(cli, name):
        _ignore_missing(net.remove)
    for volume in cluster_volumes(cli, name):
        _ignore_missing(lambda v=volume: v.remove(force=True))


def _ignore_missing(action) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(NotFound):
        action()


def _node_from_container(container, network: str) -> Node:  # type: ignore[no-untyped-def]
    labels = container.labels
    index = int(labels.get(LABEL_INDEX, "0"))
    networks = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    address = (networks.get(network) or {}).get("IPAddress") or ""
    if not address:  # stopped containers keep their configured address
        ipam = (networks.get(network) or {}).get("IPAMConfig") or {}
        address = ipam.get("IPv4Address") or ""
    return Node(
        name=labels.get(LABEL_NODE_NAME, f"node{index}"),
        container=container.name,
        address=address,
        pod_cidr=labels.get(LABEL_POD_CIDR, ""),
        index=index,
        state=container.status,
    )


def find_clusters(cli: docker.DockerClient, names: Iterable[str] | None = None) -> list[Cluster]:
    """Clusters that have node containers, with their nodes in index order."""
    by_cluster: dict[str, list] = {}
    for container in node_containers(cli):
        by_cluster.setdefault(container.labels[LABEL_CLUSTER], []).append(container)
    wanted = set(names) if names is not None else None
    clusters = []
    for name in sorted(by_cluster):
        if wanted is not None and name not in wanted:
            continue
        nets = cluster_networks(cli, name)
        network = nets[0].name if nets else f"podplay-{name}"
        subnet = ""
        if nets:
            configs = (nets[0].attrs.get("IPAM") or {}).get("Config") or [{}]
            subnet = configs[0].get("Subnet", "")
        nodes = sorted(
            (_node_from_container(c, network) for c in by_cluster[name]), key=lambda n: n.index
        )
        directory = paths.cluster_dir(name)
        pool = addressing.lb_pool(ipaddress.IPv4Network(subnet)) if subnet else ()
        clusters.append(
            Cluster(
                name=name,
                nodes=tuple(nodes),
                network=network,
                subnet=subnet,
                inventory=directory / "inventory.yml",
                ssh_key=directory / "id_ed25519",
                lb_pool=pool,
            )
        )
    return clusters
