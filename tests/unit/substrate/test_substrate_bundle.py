"""The node bundle is deterministic, carries what nodes need, and runs on a bare python3."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile

from podplay.artifacts import bundle


def test_same_input_gives_byte_identical_archives():
    first = bundle.build_zipapp(bundle.bundle_entries())
    second = bundle.build_zipapp(bundle.bundle_entries())
    assert first == second


def test_hash_follows_content():
    entries = bundle.bundle_entries()
    changed = [*entries[:-1], (entries[-1][0], entries[-1][1] + b"\n# changed\n")]
    assert bundle.content_hash(entries) == bundle.content_hash(list(entries))
    assert bundle.content_hash(entries) != bundle.content_hash(changed)


def test_contents_are_sorted_sources_without_bytecode_or_extensions():
    archive = zipfile.ZipFile(io.BytesIO(bundle.build_zipapp(bundle.bundle_entries())))
    names = archive.namelist()
    assert names == sorted(names)
    assert "__main__.py" in names
    assert "podplay/node/network/cli.py" in names
    for package in ("docker", "requests", "urllib3", "idna", "certifi", "charset_normalizer"):
        assert f"{package}/__init__.py" in names
    assert "certifi/cacert.pem" in names
    assert not [n for n in names if n.endswith((".pyc", ".so")) or "__pycache__" in n]
    assert {i.date_time for i in archive.infolist()} == {bundle.ZIP_DATE}


def test_cached_bundle_runs_and_imports_the_docker_sdk(tmp_path):
    path = bundle.ensure_bundle(cache=tmp_path)
    assert path.name.startswith("podplay-node-") and path.suffix == ".pyz"
    assert bundle.ensure_bundle(cache=tmp_path) == path  # cached: same file
    isolated = [sys.executable, "-I", "-S"]  # no site-packages: only what the bundle carries
    version = subprocess.run([*isolated, str(path), "version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]  # names its byte-compiled copy
    assert (tmp_path / f"node-{digest}" / "podplay" / "node" / "__pycache__").is_dir()
    sdk = subprocess.run(
        [
            *isolated,
            "-c",
            f"import sys; sys.path.insert(0, {str(path)!r}); import docker, requests",
        ],
        capture_output=True,
        text=True,
    )
    assert sdk.returncode == 0, sdk.stderr
