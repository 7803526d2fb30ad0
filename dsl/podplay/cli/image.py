"""`podplay image ...`: images podplay builds locally (there is no registry to pull from)."""

from __future__ import annotations

import click


@click.group()
def image() -> None:
    """Build the images podplay needs, offline."""


@image.command("build-node")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when the image is cached.")
@click.option("--force", is_flag=True, help="Rebuild even when the cached image exists.")
def build_node(quiet: bool, force: bool) -> None:
    """Build the node image (debootstrap + docker import), cached by its recipe hash."""
    from podplay.artifacts import node_image

    def log(msg: str) -> None:
        if not quiet:
            click.echo(f"node image: {msg}", err=True)

    ref = node_image.image_ref()
    if quiet and not force:
        # one line before a build that takes a minute, nothing at all when cached
        from podplay.artifacts import engine

        if engine.image_id(engine.client(), ref) is None:
            click.echo(f"building node image {ref} (about a minute, once)", err=True)
    result = node_image.ensure_node_image(force=force, log=log)
    if not quiet:
        state = "built" if result.built else "cached"
        click.echo(f"{result.ref} ({state}, {result.id[:19]})")
