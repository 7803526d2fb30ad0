"""The pods directory (issue 12 item 9): only regular files are read, an entry that is not
one is a Failed pod naming it, and nothing in the directory can block the reader."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest
from agent_builders import manifest

from podplay.node.agent import sources
from podplay.node.agent.manifest import InvalidPod, PodSpec
from podplay.node.agent.sources import ManifestDir


def read(pods: Path) -> ManifestDir:
    """Read the directory on a thread: a read that blocks fails the test instead of hanging."""
    d = ManifestDir(str(pods), "10.244.1.0/24")
    t = threading.Thread(target=d.read, daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "reading the pods directory blocked"
    return d


@pytest.fixture
def pods(tmp_path: Path) -> Path:
    d = tmp_path / "pods"
    d.mkdir()
    (d / "default_web-1.json").write_text(json.dumps(manifest()))
    return d


def refused(d: ManifestDir, name: str) -> InvalidPod:
    p = d.pods[("default", name)]
    assert isinstance(p, InvalidPod), p
    assert p.reason == "InvalidManifest" and p.file == f"default_{name}.json"
    assert p.message.startswith(f"default_{name}.json: ")
    return p


def test_a_fifo_is_never_opened_and_is_reported(pods: Path) -> None:
    os.mkfifo(pods / "default_x.json")  # open() of it would wait for a writer forever
    d = read(pods)
    assert "not a regular file (a FIFO)" in refused(d, "x").message
    assert isinstance(d.pods[("default", "web-1")], PodSpec)  # the others still run


def test_a_socket_a_directory_and_a_device_are_reported(pods: Path, tmp_path: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(pods / "default_sock.json"))
    (pods / "default_dir.json").mkdir()
    os.symlink("/dev/zero", pods / "default_zero.json")  # a device, through a symlink
    d = read(pods)
    assert "(a socket)" in refused(d, "sock").message
    assert "(a directory)" in refused(d, "dir").message
    assert "a symlink to /dev/zero, outside the pods directory" in refused(d, "zero").message
    s.close()


def test_symlinks_out_of_the_directory_or_nowhere_are_refused(pods: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.json"
    outside.write_text(json.dumps(manifest(name="out")))
    os.symlink(outside, pods / "default_out.json")
    os.symlink(pods / "missing.json", pods / "default_gone.json")
    d = read(pods)
    assert "outside the pods directory" in refused(d, "out").message
    assert "which does not exist" in refused(d, "gone").message


def test_a_symlink_to_a_regular_file_inside_is_read(pods: Path) -> None:
    (pods / "web-2.data").write_text(json.dumps(manifest(name="web-2", ip="10.244.1.6")))
    os.symlink("web-2.data", pods / "default_web-2.json")
    os.mkfifo(pods / "fifo.data")
    os.symlink("fifo.data", pods / "default_f.json")  # inside, but to a FIFO
    d = read(pods)
    assert isinstance(d.pods[("default", "web-2")], PodSpec)
    assert "(a FIFO)" in refused(d, "f").message


def test_an_oversized_file_is_refused_unread(pods: Path, monkeypatch) -> None:
    monkeypatch.setattr(sources, "MAX_MANIFEST_BYTES", 100)
    (pods / "default_big.json").write_text(" " * 101)
    assert "larger than a manifest may be" in refused(read(pods), "big").message


def test_a_file_swapped_for_a_fifo_after_the_look_is_caught_by_fstat(pods: Path) -> None:
    fifo = pods / "default_x.json"
    os.mkfifo(fifo)
    done: list = []
    t = threading.Thread(target=lambda: done.append(_try_read(str(fifo))), daemon=True)
    t.start()
    t.join(5)
    assert done == ["not a regular file (a FIFO)"]


def _try_read(path: str) -> str:
    try:
        sources._read_regular(path)
    except sources.NotARegularFile as err:
        return str(err)
    return "read"


def test_unchanged_files_are_not_parsed_again(pods: Path, monkeypatch) -> None:
    d = read(pods)
    first = d.pods[("default", "web-1")]
    calls: list = []
    monkeypatch.setattr(sources, "parse_manifest", lambda *a: calls.append(a))
    d.read()
    assert d.pods[("default", "web-1")] is first and calls == []
