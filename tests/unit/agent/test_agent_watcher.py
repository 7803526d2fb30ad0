"""The manifest directory watcher notices changes (inotify, and the polling fallback)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from podplay.node.agent.watcher import DirWatcher, signature


@pytest.mark.parametrize("inotify", [True, False], ids=["inotify", "poll"])
def test_changes_are_noticed(tmp_path: Path, inotify: bool) -> None:
    seen = threading.Event()
    w = DirWatcher(str(tmp_path), seen.set, poll_interval=0.05, use_inotify=inotify).start()
    try:
        assert seen.wait(2)  # the first call: whatever changed before the watch existed
        assert w.mode == ("inotify" if inotify else "poll")
        for change in (
            lambda: (tmp_path / ".a.tmp").write_text("{}"),
            lambda: os.replace(tmp_path / ".a.tmp", tmp_path / "default_a.json"),
            lambda: (tmp_path / "default_a.json").write_text('{"x": 1}'),
            lambda: (tmp_path / "default_a.json").unlink(),
        ):
            seen.clear()
            change()
            assert seen.wait(2)
    finally:
        w.stop()


def test_signature_sees_in_place_rewrites(tmp_path: Path) -> None:
    f = tmp_path / "default_a.json"
    f.write_text("1")
    before = signature(str(tmp_path))
    f.write_text("22")
    assert signature(str(tmp_path)) != before
    assert signature(str(tmp_path / "missing")) == {}


def test_a_replaced_directory_is_watched_again(tmp_path: Path) -> None:
    pods = tmp_path / "pods"
    pods.mkdir()
    seen = threading.Event()
    w = DirWatcher(str(pods), seen.set).start()
    try:
        assert seen.wait(2)
        fresh = tmp_path / "fresh"
        fresh.mkdir()
        # the directory swapped under the watch (a restore, `mv`, `rm -rf && mkdir`)
        os.rename(pods, tmp_path / "old")
        os.rename(fresh, pods)
        time.sleep(1.2)  # the watcher may notice the swap itself: let it settle
        seen.clear()
        (pods / "default_a.json").write_text("{}")
        assert seen.wait(2), "a change in the new directory went unnoticed"
    finally:
        w.stop()
