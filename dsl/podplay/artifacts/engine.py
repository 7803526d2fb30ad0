"""The local Docker engine, as the build and substrate layers reach it.

One place turns "no engine" into a sentence a person can act on (exit status 1) instead of
a connection traceback.
"""

from __future__ import annotations

import functools

import docker
from docker.errors import DockerException, ImageNotFound

from podplay.errors import EnvironmentProblem


@functools.cache
def client() -> docker.DockerClient:
    """A client for the engine named by DOCKER_HOST (default: the local socket), checked live."""
    try:
        cli = docker.from_env(timeout=120)
        cli.ping()
    except DockerException as err:
        raise EnvironmentProblem(
            "no Docker engine is reachable (is dockerd running? `make setup` starts one): "
            f"{_short(err)}"
        ) from None
    return cli


def image_id(cli: docker.DockerClient, ref: str) -> str | None:
    """The id of image `ref` on the engine, or None when it is not there."""
    try:
        return cli.images.get(ref).id
    except ImageNotFound:
        return None


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__
