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


def repo_root() -> Path | None:
    """The source checkout this package runs from, when it runs from one (editable install)."""
    here = Path(__file__).resolve().parent
    for parent in here.parents:
        if (parent / "ansible_collection" / "ansible_collections").is_dir():
            return parent
    return None


def collections_path() -> Path:
    """The directory to put on ANSIBLE_COLLECTIONS_PATH so `podplay.cluster` resolves.

    The collection (and the playbooks) ship in the source checkout, not inside the Python
    package: podplay runs from a checkout (`make setup` installs it editable)."""
    root = repo_root()
    if root is not None:
        return root / "ansible_collection"
    from podplay.errors import EnvironmentProblem

    raise EnvironmentProblem(
        "podplay's Ansible collection (ansible_collection/) was not found next to the code: "
        "run podplay from its source checkout (`make setup` installs it there, editable)"
    )
