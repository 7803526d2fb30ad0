"""`podplay compile PROGRAM -o DIR`: a program becomes a plain Ansible project.

The effectful shell around the pure core: read the program, hash image contexts, read node
facts (a facts file, the program's inventory, or the inventory `podplay cluster create`
wrote for a local cluster), plan, render, and only then write. A bad program writes nothing.
Controller-side inputs the roles need come from that inventory or are made here when cheap:
the node bundle (a zipapp, no Docker), the agent token path (the role creates the file) and
the cluster's certificates (`podplay.artifacts.pki`: the store's CA, one certificate per node
with a known address; made once, beside the SSH key).
Images need a Docker engine, so they are built only when asked (`--build-images`, as
`podplay up` does); without them the plays cannot side-load the pods' images, and compile
says so.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import ValidationError

from podplay import paths
from podplay.artifacts import pki
from podplay.artifacts.bundle import ensure_bundle
from podplay.dsl import Stack, evaluate, local_images
from podplay.errors import UserInputError
from podplay.files import write_tree
from podplay.plan import ClusterFacts, Plan, plan
from podplay.plan.facts import facts_from_inventory
from podplay.render import ImageFile, RenderOptions, links, render


def _read_inventory(path: Path, shown: str, where: str = "") -> dict[str, Any]:
    """The inventory as data; `where` prefixes errors (the program line that names it)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise UserInputError(f"{where}cannot read inventory {shown}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise UserInputError(f"{where}inventory {shown} is not valid YAML: {err}") from None
    return data


def load_facts(stack: Stack, facts_file: str | None) -> tuple[ClusterFacts | None, dict[str, Any]]:
    """Node facts and cluster-wide inventory variables for the program's cluster.

    Order: `--facts FILE` (JSON), the program's `inventory=`, the local cluster's inventory
    from `podplay cluster create` when that cluster exists, else none (derived from the
    program).
    """
    cluster = stack.cluster
    if facts_file is not None:
        try:
            return ClusterFacts.model_validate_json(Path(facts_file).read_text()), {}
        except (OSError, ValidationError) as err:
            raise UserInputError(f"facts file {facts_file} is not usable: {err}") from None
    if cluster is None:
        return None, {}
    if cluster.inventory is not None:
        path = (stack.base_dir / cluster.inventory).resolve()
        where = f"{cluster.location}: {cluster.describe()}: " if cluster.location else ""
        shown = f'"{cluster.inventory}" (relative to the program\'s directory)'
        data = _read_inventory(path, shown, where)
        return facts_from_inventory(data, cluster.inventory), _cluster_vars(data)
    if cluster.local:
        path = paths.cluster_dir(cluster.name) / "inventory.yml"
        if path.is_file():
            data = _read_inventory(path, str(path))
            return facts_from_inventory(data, str(path)), _cluster_vars(data)
    return None, {}


def _cluster_vars(data: Any) -> dict[str, Any]:
    root = data.get("all", data) if isinstance(data, dict) else {}
    return dict(root.get("vars") or {}) if isinstance(root, dict) else {}


def check_output(out: Path) -> None:
    """Refuse to write over an Ansible project podplay did not write (its marker: plan.json)."""
    if not out.is_dir() or (out / "plan.json").is_file():
        return
    mine = ("ansible.cfg", "inventory.yml", "site.yml", "group_vars", "host_vars", "collections")
    clash = [name for name in mine if (out / name).exists() or (out / name).is_symlink()]
    if clash:
        raise UserInputError(
            f"{out}/ already holds {', '.join(clash)}, not written by podplay compile (no "
            "plan.json there); compile into another directory with -o"
        )


def load_previous(path: str | None) -> Plan | None:
    """A plan.json to plan against (stability), or None."""
    if path is None:
        return None
    try:
        return Plan.from_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValidationError) as err:
        raise UserInputError(f"previous plan {path} is not usable: {err}") from None


@click.command("compile")
@click.argument("program", type=click.Path(dir_okay=False))
@click.option(
    "-o", "--output", default="build", show_default=True, type=click.Path(file_okay=False)
)
@click.option(
    "--facts",
    "facts_file",
    type=click.Path(dir_okay=False),
    help="Node facts JSON (nodes with address, pod_cidr, capacity, labels, connection).",
)
@click.option(
    "--previous",
    type=click.Path(dir_okay=False),
    help="A plan.json from an earlier compile: keep its pods, IPs and ports where possible.",
)
@click.option(
    "--build-images",
    "build",
    is_flag=True,
    help="Build the program's images and the pod sandbox image on the local Docker engine "
    "(as podplay up does), so the written plays can side-load them onto the nodes.",
)
def compile_cmd(
    program: str, output: str, facts_file: str | None, previous: str | None, build: bool
) -> None:
    """Compile PROGRAM into an Ansible project (inventory, vars, site.yml, plan.json)."""
    with without_cycle_collection():
        _compile(program, output, facts_file, previous, build)


@contextlib.contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused while compiling: planning and rendering make
    millions of short-lived objects and no cycles worth collecting (a 5,000-pod compile:
    ~15% less CPU, the same peak memory); it runs again afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _compile(
    program: str, output: str, facts_file: str | None, previous: str | None, build: bool
) -> None:
    out = Path(output)
    check_output(out)
    stack = evaluate(program)
    for warning in stack.warnings:
        click.echo(f"warning: {warning}", err=True)
    facts, cluster_vars = load_facts(stack, facts_file)
    pause: ImageFile | None = None
    archives: dict[str, str] = {}
    if build:
        from podplay.control.images import build_images

        built = build_images(stack, lambda msg: click.echo(msg, err=True))
        images, archives = built.refs, dict(built.archives)
        pause = ImageFile(**built.pause.as_var())
    else:
        images = local_images(stack)
    result = plan(stack, load_previous(previous), facts, images)
    token = cluster_vars.get("podplay_agent_token_file")
    certificates = Path(cluster_vars.get("podplay_pki_dir") or pki.pki_dir(result.cluster.name))
    pki.ensure_pki(certificates, result.cluster.name, [(n.name, n.address) for n in result.nodes])
    options = RenderOptions(
        collections_path=str(paths.collections_path()),
        program=program,
        node_bundle=cluster_vars.get("podplay_node_bundle") or str(ensure_bundle()),
        agent_token_file=token or str(paths.cluster_dir(result.cluster.name) / "token"),
        pki_dir=str(certificates),
        pause_image=pause,
        image_archives=archives,
    )
    write_tree(out, render(result, options), links(options))
    services = len(result.services)
    click.echo(
        f"compiled {program}: {len(result.nodes)} nodes, {len(result.pods)} pods, "
        f"{services} service{'s' if services != 1 else ''} -> {out}/\n"
        f"run: ansible-playbook -i {out}/inventory.yml {out}/site.yml"
    )
    for item in result.pending:
        click.echo(f"not known yet: {item}", err=True)
    if not build and result.pods:
        click.echo(
            "note: images were not built, so the plays cannot start these pods (no image to "
            "side-load, no pod sandbox image); compile again with --build-images (needs a "
            "Docker engine) before running ansible-playbook, or use `podplay up`",
            err=True,
        )


__all__ = ["compile_cmd"]
