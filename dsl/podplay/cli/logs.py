"""`podplay logs POD [-c CONTAINER] [--tail N] [-f]`: a container's output, from its node's
agent (which reads it from the node's Docker engine)."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("pod")
@click.option("--container", "-c", help="Container (needed when the pod has several).")
@click.option("--tail", type=click.IntRange(min=0), help="Only the last N lines.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new output.")
@click.option("--previous", "-p", is_flag=True, help="The previous attempt (before a restart).")
@click.option("--namespace", "-n", help="The pod's namespace (default: any, if unambiguous).")
@click.option(
    "--cluster", "cluster_name", metavar="CLUSTER",
    help="Cluster name (default: $PODPLAY_CLUSTER, or the only local cluster).",
)  # fmt: skip
@click.option(
    "--inventory", "-i", type=click.Path(dir_okay=False, path_type=Path),
    help="An inventory with podplay_nodes (clusters not made by `cluster create`).",
)  # fmt: skip
def logs(
    pod: str,
    container: str | None,
    tail: int | None,
    follow: bool,
    previous: bool,
    namespace: str | None,
    cluster_name: str | None,
    inventory: Path | None,
) -> None:
    """Print the logs of a container of POD."""
    from podplay.control import agent_client
    from podplay.errors import UserInputError

    access = agent_client.cluster_access(cluster_name, inventory)
    found = agent_client.find_pod(access, pod, namespace)
    names = [c["name"] for c in found.get("containers") or []]
    if container is None and len(names) > 1:
        raise UserInputError(
            f"pod {pod} has containers {', '.join(names)}: choose one with -c CONTAINER"
        )
    if container is not None and names and container not in names:
        raise UserInputError(
            f"pod {pod} has no container {container!r} (its containers: {', '.join(names)})"
        )
    client = access.client(access.node(found["node"]))
    out = sys.stdout.buffer
    try:
        for chunk in client.logs(found["namespace"], pod, container, tail, follow, previous):
            out.write(chunk)
            out.flush()
    except agent_client.AgentError as err:
        raise UserInputError(str(err)) from None
    except BrokenPipeError:
        pass
