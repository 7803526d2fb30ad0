"""Create and delete local clusters: validate, plan, then one provisioning play.

Plan then execute, as kind does: names and counts are checked and the whole layout (subnet,
addresses, pod CIDRs) is computed before anything is created; the node containers are made
by the collection's play `podplay.cluster.provision_local` (community.docker, nodes started
in parallel), and the nodes are then configured over SSH by `podplay.cluster.nodes`, exactly
as real hosts are (both found in a checkout and in an installed wheel alike). A
create that fails removes what it made, unless asked to keep it for debugging.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from docker.errors import APIError

from podplay import paths
from podplay.artifacts import bundle, node_image, pki
from podplay.errors import EnvironmentProblem, UserInputError
from podplay.execute import PlaybookResult, run_playbook
from podplay.files import write_atomic
from podplay.substrate import addressing, docker_provider, inventory, keys
from podplay.substrate.model import Cluster, validate_cidrs, validate_name, validate_node_count

Log = Callable[[str], None]
NODES_PLAYBOOK = "podplay.cluster.nodes"
PROVISION_PLAYBOOK = "podplay.cluster.provision_local"
SUBNET_ATTEMPTS = 32


def _quiet(_msg: str) -> None:
    pass


def list_clusters() -> list[Cluster]:
    """Every local cluster on the engine (a label query)."""
    return docker_provider.find_clusters(docker_provider.client())


def get_cluster(name: str) -> Cluster | None:
    """One cluster by name, or None when no node container of it exists."""
    found = docker_provider.find_clusters(docker_provider.client(), [name])
    return found[0] if found else None


def machine_ids(name: str) -> dict[str, str]:
    """Node name → its container's id: another id means the node was recreated."""
    cli = docker_provider.client()
    return {
        c.labels.get(docker_provider.LABEL_NODE_NAME, c.name): c.id
        for c in docker_provider.node_containers(cli, name)
    }


def inventory_path(name: str) -> Path:
    """Where `cluster create` writes the cluster's inventory."""
    return paths.cluster_dir(name) / "inventory.yml"


@contextlib.contextmanager
def _cluster_lock(name: str) -> Iterator[None]:
    """One create/delete of a cluster name at a time on this machine."""
    lock_dir = paths.home() / "clusters"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def create_cluster(
    name: str,
    nodes: int = 3,
    *,
    configure: bool = True,
    retain_on_failure: bool = False,
    log: Log = _quiet,
    verbose: bool = False,
    pod_cidr: str = addressing.POD_CIDR,
    service_cidr: str = addressing.SERVICE_CIDR,
    control_plane: int | None = None,
) -> Cluster:
    """Create cluster `name` with `nodes` nodes, configured by nodes.yml unless told not to.

    Node `i` gets the i-th /24 of `pod_cidr`; `service_cidr` is written to the inventory; the
    first `control_plane` nodes (default: the DSL's) are the store's members there."""
    validate_name(name)
    validate_node_count(nodes)
    validate_cidrs(pod_cidr, service_cidr, nodes)
    cli = docker_provider.client()
    with _cluster_lock(name):
        running = docker_provider.running_nodes(cli, name)
        if running:
            raise UserInputError(
                f"cluster name {name!r} is already in use ({len(running)} node container(s) "
                f"running); pick another name or run `podplay cluster delete {name}` first"
            )
        log(f"creating cluster {name} with {nodes} node(s)")
        image = node_image.ensure_node_image(log=lambda msg: log(f"node image: {msg}"))
        if docker_provider.has_leftovers(cli, name):
            log(f"removing leftovers of an earlier cluster {name}")
            _remove(name)
        try:
            return _create(
                cli,
                name,
                nodes,
                image.ref,
                (pod_cidr, service_cidr),
                configure=configure,
                log=log,
                verbose=verbose,
                control_plane=control_plane,
            )
        except BaseException:
            if not retain_on_failure:
                log(f"creation failed: removing what was made of cluster {name}")
                _remove(name)
            raise


def _create(
    cli: Any,
    name: str,
    count: int,
    image: str,
    cidrs: tuple[str, str],
    *,
    configure: bool,
    log: Log,
    verbose: bool,
    control_plane: int | None = None,
) -> Cluster:
    """Network, node containers (one provisioning play), inventory, then nodes.yml."""
    privileged = docker_provider.detect_privileged(cli, image)
    plan = _reserve_network(cli, name, count, cidrs)
    log(
        f"network {plan.network} {plan.subnet}; {count} node(s) "
        f"({'privileged' if privileged else 'capability set'}) from {image}"
    )
    directory = keys.ensure_cluster_dir(paths.cluster_dir(name))
    key = keys.ensure_ssh_key(directory, comment=f"podplay-{name}")
    token = keys.ensure_token(directory)
    certificates = pki.ensure_pki(
        pki.pki_dir(name), name, [(n.name, n.address) for n in plan.nodes]
    )
    node_bundle = bundle.ensure_bundle()
    log("starting node containers")
    run_playbook(
        PROVISION_PLAYBOOK,
        "localhost,",
        _provision_vars(name, plan, image, privileged, keys.public_key(key)),
        forks=count + 1,
        quiet=not verbose,
    ).raise_for_failure(f"creating cluster {name}")
    (directory / "cp").mkdir(mode=0o700, exist_ok=True)
    text = inventory.render_inventory(
        plan,
        ssh_key=key,
        token_file=token,
        node_bundle=node_bundle,
        control_path_dir=directory / "cp",
        pki_dir=certificates.directory,
        control_plane=control_plane,
    )
    write_atomic(inventory_path(name), text)
    if configure:
        log(f"configuring nodes over SSH ({NODES_PLAYBOOK})")
        configure_nodes(name, verbose=verbose).raise_for_failure(f"configuring cluster {name}")
    cluster = get_cluster(name)
    if cluster is None:
        raise EnvironmentProblem(f"cluster {name} was created but its nodes are gone")
    return cluster


def _provision_vars(
    name: str, plan: addressing.ClusterPlan, image: str, privileged: bool, public_key: str
) -> dict[str, Any]:
    """`podplay_provision`, the one variable provision_local.yml reads (its header)."""
    host_mounts = [
        {"type": "bind", "source": p, "target": p, "read_only": True}
        for p in ("/lib/modules",)
        if Path(p).is_dir()
    ]
    return {
        "podplay_provision": {
            "cluster": name,
            "network": {
                "name": plan.network,
                "subnet": plan.subnet,
                "gateway": plan.gateway,
                "ip_range": plan.ip_range,
            },
            "image": image,
            "privileged": privileged,
            "public_key": public_key,
            "host_mounts": host_mounts,
            "nodes": [
                {
                    "name": n.name,
                    "index": n.index,
                    "container": n.container,
                    "volume": n.volume,
                    "address": n.address,
                    "pod_cidr": n.pod_cidr,
                }
                for n in plan.nodes
            ],
        }
    }


def configure_nodes(
    name: str, playbook: str = NODES_PLAYBOOK, *, verbose: bool = False, **kwargs: Any
) -> PlaybookResult:
    """Run a playbook over SSH on the cluster's nodes with a freshly built node bundle."""
    extra = {"podplay_node_bundle": str(bundle.ensure_bundle()), **kwargs.pop("extra_vars", {})}
    cluster_nodes = len(docker_provider.node_containers(docker_provider.client(), name))
    return run_playbook(
        playbook,
        inventory_path(name),
        extra,
        forks=max(cluster_nodes, 5),
        quiet=kwargs.pop("quiet", not verbose),
        **kwargs,
    )


def _reserve_network(
    cli: Any, name: str, count: int, cidrs: tuple[str, str]
) -> addressing.ClusterPlan:
    """Pick a free /24 and create the network on it; the engine refuses overlaps, so two
    clusters created at once cannot take the same subnet (the loser tries the next one)."""
    pod_cidr, service_cidr = cidrs
    tried: list[addressing.Net] = [ipaddress.IPv4Network(c) for c in cidrs]
    for _ in range(SUBNET_ATTEMPTS):
        subnet = addressing.choose_subnet(docker_provider.used_subnets(cli), skip=tried)
        plan = addressing.plan_cluster(name, count, subnet, pod_cidr, service_cidr)
        try:
            docker_provider.create_network(cli, plan)
            return plan
        except APIError as err:
            text = str(err).lower()
            if "already exists" in text and "overlap" not in text:
                raise UserInputError(
                    f"a Docker network named {plan.network} already exists and podplay did "
                    f"not make it; remove it (docker network rm {plan.network}) or pick "
                    "another cluster name"
                ) from None
            if "overlap" in text or "already" in text or "conflict" in text:
                tried.append(subnet)
                continue
            raise EnvironmentProblem(f"creating network {plan.network} failed: {err}") from None
    raise EnvironmentProblem(f"no free subnet for cluster {name} after {SUBNET_ATTEMPTS} tries")


def delete_cluster(name: str) -> bool:
    """Remove the cluster's containers, network, volumes and secrets; True if any existed."""
    validate_name(name)
    cli = docker_provider.client()
    with _cluster_lock(name):
        existed = docker_provider.has_leftovers(cli, name) or paths.cluster_dir(name).exists()
        _remove(name)
    return existed


def _remove(name: str) -> None:
    directory = paths.cluster_dir(name)
    _close_ssh_masters(directory / "cp")
    docker_provider.remove_cluster_objects(docker_provider.client(), name)
    shutil.rmtree(directory, ignore_errors=True)


def _close_ssh_masters(control_dir: Path) -> None:
    """Stop the SSH ControlPersist masters of a cluster's nodes (their IPs get reused)."""
    if not control_dir.is_dir():
        return
    for sock in control_dir.iterdir():
        subprocess.run(
            ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "podplay-node"],
            capture_output=True,
            check=False,
            timeout=10,
        )
