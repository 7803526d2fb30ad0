"""The bundle's entry point runs the bundle from a byte-compiled copy unpacked beside it:
once per bundle, atomically, safe when runs race, never in check mode, and a node keeps the
copy its processes run and no other."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from podplay.artifacts import bundle as artifacts
from podplay.node import bootstrap
from podplay.node.util import bundle as node_bundle

BOOTSTRAP_SOURCE = Path(bootstrap.__file__).read_bytes()
# A bundle as small as a test wants: the real entry point over a `podplay.node.__main__`
# that reports where it was imported from and the bundle path the units would name.
FAKE_MAIN = b"""
import os, sys
def main(argv):
    import podplay.node
    started = getattr(sys.modules["__main__"], "BUNDLE_FILE", None)
    print(os.path.dirname(os.path.dirname(os.path.dirname(podplay.node.__file__))), started)
    return int(argv[0]) if argv else 0
"""


def make_bundle(path: Path, marker: str = "a") -> tuple[Path, str]:
    """A zipapp at `path` with the real bootstrap as its __main__.py; returns (path, the
    digest naming its copy)."""
    entries = {
        "__main__.py": BOOTSTRAP_SOURCE,
        "podplay/__init__.py": b"",
        "podplay/node/__init__.py": f"MARKER = {marker!r}\n".encode(),
        "podplay/node/__main__.py": FAKE_MAIN,
    }
    data = artifacts.build_zipapp(sorted(entries.items()))
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()[:16]


def run(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-S", str(bundle), *args], capture_output=True, text=True
    )


def entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_the_first_run_unpacks_a_byte_compiled_copy_and_runs_from_it(tmp_path: Path) -> None:
    pyz, bundle_id = make_bundle(tmp_path / "podplay-node.pyz")
    first = run(pyz, "3")
    copy = tmp_path / f"node-{bundle_id}"
    assert first.returncode == 3, first.stderr  # the command's own exit status
    assert first.stdout.split() == [str(copy), str(pyz)]
    assert entries(tmp_path) == [f"node-{bundle_id}", "podplay-node.pyz"]  # nothing left over
    pyc = next((copy / "podplay" / "node" / "__pycache__").glob("__main__.*.pyc"))
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based and unchecked: never a stat of the source, no rewrite
    assert (copy / bootstrap.LOCK_NAME).is_file() and (copy / "__main__.py").is_file()
    inode = copy.stat().st_ino
    again = run(pyz)
    assert again.returncode == 0 and again.stdout.split()[0] == str(copy)
    assert copy.stat().st_ino == inode  # the copy is reused, not unpacked again


def test_the_copy_runs_on_its_own_and_tracebacks_name_its_files(tmp_path: Path) -> None:
    pyz, bundle_id = make_bundle(tmp_path / "podplay-node.pyz")
    run(pyz)
    copy = tmp_path / f"node-{bundle_id}"
    direct = subprocess.run([sys.executable, "-I", "-S", str(copy)], capture_output=True, text=True)
    assert direct.returncode == 0 and direct.stdout.split() == [str(copy), "None"]
    code = compile_filename(copy / "podplay" / "node" / "__pycache__")
    assert code == str(copy / "podplay" / "node" / "__main__.py")  # not the temporary name


def compile_filename(cache: Path) -> str:
    import marshal

    data = next(cache.glob("__main__.*.pyc")).read_bytes()
    return marshal.loads(data[16:]).co_filename


def test_check_mode_writes_nothing_and_runs_from_the_zip(tmp_path: Path) -> None:
    pyz, _ = make_bundle(tmp_path / "podplay-node.pyz")
    checked = run(pyz, "0", "--check")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.split()[0] == str(pyz)  # imported from the zipapp itself
    assert entries(tmp_path) == ["podplay-node.pyz"]


def test_a_new_bundle_removes_the_copies_no_process_holds(tmp_path: Path) -> None:
    pyz, old_id = make_bundle(tmp_path / "podplay-node.pyz", "old")
    run(pyz)
    old = tmp_path / f"node-{old_id}"
    holder = os.open(old / bootstrap.LOCK_NAME, os.O_RDONLY)  # a process of the old bundle
    fcntl.flock(holder, fcntl.LOCK_SH)
    try:
        _, new_id = make_bundle(pyz, "new")  # the node role's copy replaced the file
        assert run(pyz).stdout.split()[0] == str(tmp_path / f"node-{new_id}")
        assert entries(tmp_path) == sorted([f"node-{old_id}", f"node-{new_id}", pyz.name])
    finally:
        os.close(holder)  # that process restarted (on the new bundle)
    run(pyz)
    assert entries(tmp_path) == [f"node-{new_id}", pyz.name]


def test_runs_racing_on_a_new_bundle_share_one_copy(tmp_path: Path) -> None:
    pyz, bundle_id = make_bundle(tmp_path / "podplay-node.pyz")
    argv = [sys.executable, "-I", "-S", str(pyz)]
    racers = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(6)]
    outs = [p.communicate()[0] for p in racers]
    assert [p.returncode for p in racers] == [0] * 6
    assert {o.split()[0] for o in outs} == {str(tmp_path / f"node-{bundle_id}")}
    assert entries(tmp_path) == [f"node-{bundle_id}", "podplay-node.pyz"]


def test_a_lost_rename_keeps_the_winners_copy(tmp_path: Path) -> None:
    pyz, bundle_id = make_bundle(tmp_path / "podplay-node.pyz")
    target = bootstrap.cache_dir(str(pyz), bundle_id)
    bootstrap.unpack(pyz.read_bytes(), target)
    winner = os.stat(target).st_ino
    bootstrap.unpack(pyz.read_bytes(), target)  # the slower of two runs
    assert os.stat(target).st_ino == winner
    assert entries(tmp_path) == [f"node-{bundle_id}", "podplay-node.pyz"]


def test_a_directory_it_cannot_write_runs_the_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyz, _ = make_bundle(tmp_path / "podplay-node.pyz")

    def refuse(*args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(tmp_path))

    monkeypatch.setattr("tempfile.mkdtemp", refuse)
    assert bootstrap.select(str(pyz), write=True) is None
    assert entries(tmp_path) == ["podplay-node.pyz"]
    (tmp_path / "not-a-zip.pyz").write_text("print('hello')\n")
    monkeypatch.undo()
    assert bootstrap.select(str(tmp_path / "not-a-zip.pyz"), write=True) is None


def test_leftovers_of_interrupted_runs_go_once_abandoned(tmp_path: Path) -> None:
    pyz, bundle_id = make_bundle(tmp_path / "podplay-node.pyz")
    fresh = tmp_path / f"{bootstrap.UNPACKING_PREFIX}node-x.1"  # another run unpacking now
    stale = tmp_path / f"{bootstrap.UNPACKING_PREFIX}node-y.2"
    removing = tmp_path / f"{bootstrap.TRASH_PREFIX}node-z.3"
    for directory in (fresh, stale, removing):
        (directory / "sub").mkdir(parents=True)
    old = time.time() - bootstrap.ABANDONED_AFTER - 60
    os.utime(stale, (old, old))
    run(pyz)
    assert entries(tmp_path) == sorted([fresh.name, f"node-{bundle_id}", "podplay-node.pyz"])


def test_stale_names_are_other_copies_and_leftovers_never_the_bundle() -> None:
    names = ["podplay-node.pyz", "node-aa", "node-bb", ".unpacking-node-cc.x", ".removing-z", "x"]
    assert bootstrap.stale_names(names, "node-aa") == [".removing-z", ".unpacking-node-cc.x",
                                                      "node-bb"]  # fmt: skip
    digest = "0123456789abcdef" * 4
    cache = bootstrap.cache_dir("/opt/podplay/podplay-node.pyz", digest)
    assert cache == "/opt/podplay/node-0123456789abcdef"


def test_units_name_the_zipapp_a_run_started_from(monkeypatch: pytest.MonkeyPatch) -> None:
    started = types.SimpleNamespace(BUNDLE_FILE="/srv/podplay/podplay-node.pyz")
    monkeypatch.setitem(sys.modules, "__main__", started)
    assert node_bundle.bundle_path() == "/srv/podplay/podplay-node.pyz"
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(BUNDLE_FILE=None))
    assert node_bundle.bundle_path() == "/opt/podplay/podplay-node.pyz"  # from a source tree


def test_the_bundles_entry_point_is_the_bootstrap() -> None:
    assert dict(artifacts.bundle_entries())["__main__.py"] == BOOTSTRAP_SOURCE
