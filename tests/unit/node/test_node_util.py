"""The node's shared helpers: one exponential backoff, one atomic file writer."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from podplay.node.util import files
from podplay.node.util.backoff import Backoff, exponential_delay, stepped_delay


@pytest.mark.parametrize(
    ("failures", "initial", "maximum", "delay"),
    [
        (0, 10.0, 300.0, 0.0),  # nothing failed: no wait
        (1, 10.0, 300.0, 10.0),
        (2, 10.0, 300.0, 20.0),
        (6, 10.0, 300.0, 300.0),  # 320 capped
        (10_000, 10.0, 300.0, 300.0),  # no overflow after a long outage
        (1, 1.0, 60.0, 1.0),  # the agent's retry of a pod whose action failed
        (7, 1.0, 60.0, 60.0),
        (3, 0.5, 10.0, 2.0),  # the proxy's full resync after failed restores
        (3, 0.1, 0.4, 0.4),  # the proxy's watch reconnects
    ],
)
def test_exponential_delay(failures: int, initial: float, maximum: float, delay: float) -> None:
    assert exponential_delay(failures, initial, maximum) == delay


def test_backoff_doubles_until_a_success_then_starts_again() -> None:
    b = Backoff(0.5, 10.0)
    assert [b.failed() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    b.succeeded()
    assert b.failures == 0 and b.failed() == 0.5


def test_a_stepped_backoff_walks_its_table_then_repeats_the_last_step() -> None:
    """The store's own tables (the client's watch reconnects, the mirror's retries),
    unchanged: the nth failure in a row waits the nth step, then the last one."""
    from podplay.node.store import client, mirror

    b = Backoff.stepped(client.RECONNECT_DELAYS)
    assert [b.failed() for _ in range(7)] == [0.1, 0.2, 0.5, 1.0, 2.0, 2.0, 2.0]
    b.succeeded()
    assert b.failures == 0 and b.failed() == 0.1
    m = Backoff.stepped(mirror.RETRY_DELAYS)
    assert [m.failed() for _ in range(6)] == [0.2, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert stepped_delay(0, (1.0, 2.0)) == 0.0


def test_write_atomic_text_and_bytes_replace_whole_files(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "state.json"
    files.write_atomic(str(path), "{}\n")
    assert path.read_text() == "{}\n"
    files.write_atomic(str(path), b"\x00\xff")
    assert path.read_bytes() == b"\x00\xff"
    files.write_atomic(str(path), "é")
    assert path.read_bytes() == "é".encode()
    assert os.listdir(path.parent) == ["state.json"]  # no temp file left behind


def test_write_atomic_sets_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "unit"
    files.write_atomic(str(path), "x", mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    files.write_atomic(str(path), "y")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "network.json"
    path.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        files.write_atomic(str(path), "new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["network.json"]


def test_a_file_replaced_in_the_same_tick_with_the_same_size_has_a_new_stamp(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cluster.json"
    assert files.file_stamp(str(path)) is None  # not there (yet): no stamp, no error
    files.write_atomic(str(path), "a")
    before = files.file_stamp(str(path))
    keep = os.stat(path)
    files.write_atomic(str(path), "b")
    os.utime(path, ns=(keep.st_atime_ns, keep.st_mtime_ns))  # one mtime tick, one size
    assert files.file_stamp(str(path)) != before  # the rename gave it a new inode
    assert files.file_stamp(str(path)) == files.stamp_of(os.stat(path))
