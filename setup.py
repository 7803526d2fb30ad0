"""Build hook: a wheel carries the `podplay.cluster` collection (pyproject.toml has the rest).

The collection has ONE copy, where Ansible's tools expect a collection tree:
`ansible_collection/ansible_collections/podplay/cluster` (ansible-galaxy builds it from there,
ansible-lint checks it there, a checkout puts `ansible_collection/` on
ANSIBLE_COLLECTIONS_PATH). A wheel gets it at `ansible_collections/podplay/cluster/` beside
the `podplay` package: site-packages, where ansible-core finds installed collections by
itself (the `ansible` package ships community.docker the same way), so `podplay` and plain
`ansible-playbook`/`ansible-inventory` of that environment both find it.

Declaring the tree as packages instead would turn the editable install (`make setup`) from a
plain path entry into an import hook; this hook leaves editable installs alone: a checkout
runs its collection in place (`podplay.paths.collections_path`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

COLLECTIONS = Path("ansible_collection")  # the collections root of the checkout
COLLECTION = Path("ansible_collections", "podplay", "cluster")
SKIP_DIRS = {"__pycache__", ".pytest_cache", "tests"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".tar.gz")


def collection_files() -> list[Path]:
    """Every file of the collection the wheel carries (no bytecode, no built tarballs)."""
    root = COLLECTIONS / COLLECTION
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and not SKIP_DIRS.intersection(path.relative_to(root).parts[:-1])
        and not path.name.endswith(SKIP_SUFFIXES)
    )


class BuildPyWithCollection(build_py):
    """build_py, plus the collection copied into the build tree (not for editable installs)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / COLLECTION
        shutil.rmtree(target, ignore_errors=True)  # a file removed since the last build goes
        for source in collection_files():
            dest = Path(self.build_lib) / source.relative_to(COLLECTIONS)
            self.mkpath(str(dest.parent))
            self.copy_file(str(source), str(dest))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        extra = [] if getattr(self, "editable_mode", False) else collection_files()
        found = [str(Path(self.build_lib) / p.relative_to(COLLECTIONS)) for p in extra]
        return [*super().get_outputs(include_bytecode), *found]


setup(cmdclass={"build_py": BuildPyWithCollection})
