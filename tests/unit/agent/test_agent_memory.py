"""agent-state.json: what a restarted agent takes back, and how often it is written."""

from __future__ import annotations

import json
from pathlib import Path

from podplay.node.agent import memory
from podplay.node.agent.sources import ManifestDir


def test_state_round_trips_through_the_file(tmp_path: Path) -> None:
    text = memory.state_text(7, [{"name": "web-1"}], {"c1": True}, {("u1", "web"): 2})
    memory.save(str(tmp_path), text)
    doc = memory.load(str(tmp_path))
    assert doc["generation"] == 7 and doc["pods"] == [{"name": "web-1"}]
    recalled = memory.recall(doc)
    assert recalled.ready == {"c1": True} and recalled.streaks == {("u1", "web"): 2}


def test_what_is_not_understood_is_dropped(tmp_path: Path) -> None:
    assert memory.load(str(tmp_path)) == {}  # no file yet
    (tmp_path / memory.STATE_FILE).write_text("[1, 2")
    assert memory.load(str(tmp_path)) == {}
    recalled = memory.recall({"ready": ["c1"], "streaks": {"u1/web": "x", "u2/app": 3}})
    assert recalled.ready == {} and recalled.streaks == {("u2", "app"): 3}


def test_writes_at_most_once_a_second_and_only_changes(tmp_path: Path) -> None:
    t = [100.0]
    writer = memory.StateWriter(str(tmp_path), lambda: t[0])
    path = tmp_path / memory.STATE_FILE
    assert not writer.held_back(t[0])
    writer.write('{"generation": 1}')
    t[0] = 100.5
    assert writer.held_back(t[0]) and writer.due == 101.0
    assert not writer.held_back(None)  # stopping: written at once
    writer.write('{"generation": 2}')
    assert json.loads(path.read_text()) == {"generation": 2}
    t[0] = 102.0
    assert not writer.held_back(t[0]) and writer.due is None
    path.write_text("changed behind our back")
    writer.write('{"generation": 2}')  # the same text: not written again
    assert path.read_text() == "changed behind our back"


def test_manifest_dir_parses_changed_files_only_and_keeps_pods_on_a_failed_list(
    tmp_path: Path,
) -> None:
    pods = tmp_path / "pods"
    pods.mkdir()
    (pods / "default_broken.json").write_text("{nope")
    (pods / ".default_hidden.json.tmp").write_text("{}")
    source = ManifestDir(str(pods), "10.244.1.0/24")
    source.read()
    assert list(source.pods) == [("default", "broken")]
    first = source.pods[("default", "broken")]
    source.read()
    assert source.pods[("default", "broken")] is first  # unchanged file: not parsed again
    pods.rename(tmp_path / "gone")
    source.read()
    assert list(source.pods) == [("default", "broken")]  # a failed read removes nothing


def test_the_state_file_is_private(tmp_path: Path) -> None:
    """It names pods and their readiness next to the manifests' env values (issue 12, item 8)."""
    path = tmp_path / memory.STATE_FILE
    path.write_text("{}")
    path.chmod(0o644)  # as an older agent left it
    memory.save(str(tmp_path), json.dumps({"pods": []}))
    assert path.stat().st_mode & 0o777 == 0o600
