"""The node bundle: `podplay.node` and the Docker SDK in one zipapp, byte-identical per input.

Nodes have no internet and no podplay installation, so everything that runs there travels as
one file (`/opt/podplay/podplay-node.pyz`, see `dsl/podplay/node/README.md`). The archive is
deterministic (sorted entries, fixed timestamps and modes, no bytecode, no compiled
extensions: the node's python3 may differ from ours), so its name can be the hash of its
content and an unchanged tree never rebuilds or re-uploads. Its `__main__.py` is
`podplay.node.bootstrap`: on a node, the first run unpacks and byte-compiles the bundle into
`node-<digest>/` beside it, and every run imports from there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

from podplay import paths
from podplay.files import write_atomic

# The node package, and the Docker SDK with its pure-Python dependencies.
PACKAGES = (
    "podplay.node",
    "docker",
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "charset_normalizer",
)
SKIP_DIRS = {"__pycache__", "tests", "test"}
SKIP_SUFFIXES = {".pyc", ".pyo", ".so", ".pyd", ".pyi"}
FORMAT = "podplay-node-bundle/1"  # bump when the archive layout changes
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
SHEBANG = b"#!/usr/bin/env python3\n"
BOOTSTRAP = "podplay/node/bootstrap.py"  # the bundle's __main__.py
PODPLAY_INIT = '"""podplay, node side only (the node bundle)."""\n'


def package_dir(name: str) -> Path:
    """Where an importable package lives on this machine."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {name} is not installed; the node bundle needs it")
    return Path(next(iter(spec.submodule_search_locations)))


def package_files(name: str) -> list[tuple[str, Path]]:
    """(archive name, file) of every file the bundle takes from one package."""
    top = package_dir(name)
    prefix = name.replace(".", "/")
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for filename in filenames:
            path = Path(dirpath, filename)
            if path.suffix in SKIP_SUFFIXES:
                continue
            found.append((f"{prefix}/{path.relative_to(top).as_posix()}", path))
    return found


def bundle_entries(packages: Iterable[str] = PACKAGES) -> list[tuple[str, bytes]]:
    """Every (archive name, content) of the bundle, sorted by name."""
    entries: dict[str, bytes] = {"podplay/__init__.py": PODPLAY_INIT.encode()}
    for package in packages:
        for arcname, path in package_files(package):
            entries[arcname] = path.read_bytes()
    entries["__main__.py"] = entries[BOOTSTRAP]
    return sorted(entries.items())


def content_hash(entries: Iterable[tuple[str, bytes]]) -> str:
    """Hash naming the bundle: format version plus every entry's name and bytes."""
    digest = hashlib.sha256(FORMAT.encode() + b"\0")
    for name, data in entries:
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:16]


def build_zipapp(entries: Iterable[tuple[str, bytes]]) -> bytes:
    """The archive bytes: shebang + zip with fixed dates and modes (deterministic)."""
    buffer = io.BytesIO()
    buffer.write(SHEBANG)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def ensure_bundle(cache: Path | None = None) -> Path:
    """The bundle for the code installed here, built into the cache when missing."""
    entries = bundle_entries()
    target_dir = cache or paths.cache_dir()
    target = target_dir / f"podplay-node-{content_hash(entries)}.pyz"
    if target.exists():
        return target
    write_atomic(target, build_zipapp(entries), mode=0o755)
    return target
