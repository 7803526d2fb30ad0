"""Where podplay keeps its files on the machine that runs it.

`$PODPLAY_HOME` (default `~/.podplay`) holds per-cluster secrets (SSH key, agent token),
generated inventories and caches. Nothing secret is ever written into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The user's podplay state directory."""
    return Path(os.environ.get("PODPLAY_HOME") or Path.home() / ".podplay")


def cluster_dir(name: str) -> Path:
    """Secrets and generated inventory of one cluster: `<home>/clusters/<name>/`."""
    return home() / "clusters" / name


def cache_dir() -> Path:
    """Build caches (node image recipe hashes, node bundle, image archives)."""
    return home() / "cache"


COLLECTION = ("ansible_collections", "podplay", "cluster")  # under a collections path


def repo_root() -> Path | None:
    """The source checkout this package runs from (an editable install): the directory whose
    `dsl/podplay` is this package and which holds `ansible_collection/`. None for a wheel."""
    package = Path(__file__).resolve().parent
    root = package.parent.parent
    if package.parent.name == "dsl" and (root / "ansible_collection" / COLLECTION[0]).is_dir():
        return root
    return None


def installed_collections_path() -> Path | None:
    """Where a wheel installed the collection: `ansible_collections/podplay/cluster` beside
    the `podplay` package (site-packages, which ansible-core also scans), else None."""
    site = Path(__file__).resolve().parent.parent
    return site if (site.joinpath(*COLLECTION) / "galaxy.yml").is_file() else None


def collections_path() -> Path:
    """The directory to put on ANSIBLE_COLLECTIONS_PATH so `podplay.cluster` resolves.

    From a source checkout: its `ansible_collection/` (the one copy of the collection; an
    editable install runs it in place). From a wheel: the site-packages directory it was
    installed into (the wheel carries the collection, see setup.py)."""
    root = repo_root()
    if root is not None:
        return root / "ansible_collection"
    installed = installed_collections_path()
    if installed is not None:
        return installed
    from podplay.errors import EnvironmentProblem

    raise EnvironmentProblem(
        "podplay's Ansible collection podplay.cluster was not found: neither a source checkout "
        "(ansible_collection/ beside dsl/) nor ansible_collections/podplay/cluster beside the "
        f"installed package ({Path(__file__).resolve().parent.parent}); reinstall podplay "
        "from its wheel, or run `make setup` in a checkout"
    )


def collection_dir() -> Path:
    """The `podplay.cluster` collection itself (roles, plugins, playbooks)."""
    return collections_path().joinpath(*COLLECTION)
