"""The `images` action plugin on a fake node: which docker commands it runs, what it reports,
check mode, diff and its failures (the integration test `test_agent_role` does the same
against real nodes)."""

from __future__ import annotations

import json
import posixpath
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ansible_collection"))

from ansible.errors import AnsibleActionFail
from ansible_collections.podplay.cluster.plugins.action.images import ActionModule

LIST = "docker images --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}'"
TMP = "/remote/tmp"


class FakeNode:
    """A node's docker images (ref -> id), its files and every command run on it."""

    def __init__(self, images: dict[str, str]) -> None:
        self.images = dict(images)
        self.files: dict[str, str] = {}
        self.commands: list[str] = []
        self.fail: dict[str, str] = {}  # a command's first word after docker -> its stderr

    def run(self, cmd: str) -> dict[str, Any]:
        self.commands.append(cmd)
        argv = shlex.split(cmd)
        verb = argv[1] if argv[0].endswith("docker") else argv[0]
        if verb in self.fail:
            return {"rc": 1, "stdout": "", "stderr": self.fail[verb]}
        if verb == "images":
            lines = [f"{image_id} {ref}\n" for ref, image_id in sorted(self.images.items())]
            return {"rc": 0, "stdout": "".join(lines), "stderr": ""}
        if verb == "tag":
            self.images[argv[3]] = argv[2]
        elif verb == "load":
            saved = json.loads(self.files[argv[-1]])  # an archive: {ref, id}
            self.images[saved["ref"]] = saved["id"]
        elif verb == "rm":
            del self.files[argv[-1]]
        return {"rc": 0, "stdout": "", "stderr": ""}


class Action(ActionModule):
    """The plugin with its connection to the node replaced by FakeNode."""

    def __init__(self, node: FakeNode, args: dict[str, Any], check: bool, diff: bool) -> None:
        task = SimpleNamespace(args=args, async_val=0, check_mode=check, action="images")
        shell = SimpleNamespace(tmpdir=None, join_path=posixpath.join)  # as a task starts
        play = SimpleNamespace(check_mode=check, diff=diff)
        super().__init__(task, SimpleNamespace(_shell=shell), play, None, None, None)
        self.node = node
        self.tmp_made: list[str] = []
        self.tmp_removed: list[str] = []

    def _low_level_execute_command(self, cmd, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.node.run(cmd)

    def _make_tmp_path(self, remote_user=None):  # type: ignore[no-untyped-def]
        self.tmp_made.append(TMP)
        return TMP

    def _remove_tmp_path(self, tmp_path, force=False):  # type: ignore[no-untyped-def]
        self.tmp_removed.append(tmp_path)

    def _transfer_file(self, local_path, remote_path):  # type: ignore[no-untyped-def]
        self.node.commands.append(f"put {local_path} {remote_path}")
        self.node.files[remote_path] = Path(local_path).read_text()
        return remote_path


def archive(tmp_path: Path, ref: str, image_id: str) -> str:
    path = tmp_path / f"{image_id[7:]}.tar"
    path.write_text(json.dumps({"ref": ref, "id": image_id}))
    return str(path)


def run(node: FakeNode, images: list[Any], check: bool = False, diff: bool = False) -> Any:
    action = Action(node, {"images": images}, check, diff)
    result = action.run(task_vars={"inventory_hostname": "node1"})
    return result, action


def test_nothing_wanted_asks_the_node_nothing() -> None:
    node = FakeNode({})
    result, _ = run(node, [None, {}])
    assert result == {"changed": False, "loaded": [], "tagged": [], "present": []}
    assert node.commands == []


def test_loads_what_is_missing_tags_what_is_there_under_another_name(tmp_path: Path) -> None:
    node = FakeNode({"podplay/pause:1": "sha256:aaa", "podplay/web:1": "sha256:bbb"})
    images = [
        {"ref": "podplay/pause:1", "id": "sha256:aaa", "archive": "/nowhere.tar"},
        {"ref": "podplay/web:2", "id": "sha256:bbb", "archive": "/nowhere.tar"},
        {"ref": "podplay/db:1", "id": "sha256:ddd",
         "archive": archive(tmp_path, "podplay/db:1", "sha256:ddd")},
        # an archive cached by id, saved under another name: loaded, then tagged
        {"ref": "podplay/alias:1", "id": "sha256:eee",
         "archive": archive(tmp_path, "podplay/first:1", "sha256:eee")},
    ]  # fmt: skip
    result, action = run(node, images, diff=True)
    assert result["changed"] is True
    assert (result["present"], result["tagged"]) == (["podplay/pause:1"], ["podplay/web:2"])
    assert result["loaded"] == ["podplay/db:1", "podplay/alias:1"]
    assert result["diff"] == {
        "before_header": "images",
        "after_header": "images",
        "before": "podplay/pause:1  sha256:aaa\npodplay/web:2  (absent)\n"
        "podplay/db:1  (absent)\npodplay/alias:1  (absent)\n",
        "after": "podplay/pause:1  sha256:aaa\npodplay/web:2  sha256:bbb\n"
        "podplay/db:1  sha256:ddd\npodplay/alias:1  sha256:eee\n",
    }
    assert node.commands == [
        LIST,
        "docker tag sha256:bbb podplay/web:2",
        f"put {tmp_path}/ddd.tar {TMP}/ddd.tar",
        f"docker load -q -i {TMP}/ddd.tar",
        f"rm -f {TMP}/ddd.tar",
        "docker tag sha256:ddd podplay/db:1",
        f"put {tmp_path}/eee.tar {TMP}/eee.tar",
        f"docker load -q -i {TMP}/eee.tar",
        f"rm -f {TMP}/eee.tar",
        "docker tag sha256:eee podplay/alias:1",
        LIST,
    ]
    assert (action.tmp_made, action.tmp_removed) == ([TMP], [TMP])
    assert node.images["podplay/alias:1"] == "sha256:eee" and node.files == {}

    node.commands.clear()
    again, action = run(node, images, diff=True)
    assert again["changed"] is False and "diff" not in again
    assert action.tmp_made == []  # nothing to load: no remote tmp made (nor left behind)
    assert len(again["present"]) == 4 and node.commands == [LIST]


def test_an_image_of_unknown_id_is_loaded_without_a_tag(tmp_path: Path) -> None:
    node = FakeNode({})
    image = {"ref": "hello", "id": None, "archive": archive(tmp_path, "hello:latest", "sha256:fff")}
    result, _ = run(node, [image])
    assert result["loaded"] == ["hello:latest"]
    assert [c for c in node.commands if "tag" in c] == []
    assert node.images == {"hello:latest": "sha256:fff"}


def test_check_mode_lists_and_reports_but_changes_nothing(tmp_path: Path) -> None:
    node = FakeNode({"podplay/web:1": "sha256:bbb"})
    images = [
        {"ref": "podplay/web:2", "id": "sha256:bbb", "archive": ""},
        {"ref": "podplay/db:1", "id": "sha256:ddd",
         "archive": archive(tmp_path, "podplay/db:1", "sha256:ddd")},
    ]  # fmt: skip
    result, action = run(node, images, check=True, diff=True)
    assert result["changed"] is True and result["loaded"] == ["podplay/db:1"]
    assert result["diff"]["after"] == "podplay/web:2  sha256:bbb\npodplay/db:1  sha256:ddd\n"
    assert node.commands == [LIST] and action.tmp_made == []


def test_a_missing_archive_fails_before_anything_is_changed() -> None:
    node = FakeNode({})
    images = [{"ref": "podplay/db:1", "id": "sha256:ddd", "archive": "/gone/ddd.tar"}]
    with pytest.raises(AnsibleActionFail) as err:
        run(node, images)
    assert str(err.value) == (
        "images: podplay/db:1 is not on node1 and its archive '/gone/ddd.tar' is not on the "
        "controller"
    )
    assert node.commands == [LIST]


def test_an_archive_holding_another_image_fails_after_loading(tmp_path: Path) -> None:
    node = FakeNode({})
    images = [{"ref": "podplay/db:1", "id": None,
               "archive": archive(tmp_path, "podplay/other:1", "sha256:999")}]  # fmt: skip
    with pytest.raises(AnsibleActionFail) as err:
        run(node, images)
    assert str(err.value) == (
        "images: after loading, podplay/db:1 still do not have the planned ids "
        "(the archives hold other images?)"
    )


def test_a_failed_command_names_what_failed_and_the_remote_tmp_is_removed(
    tmp_path: Path,
) -> None:
    node = FakeNode({})
    node.fail["load"] = "Error: no space left on device"
    images = [{"ref": "podplay/db:1", "id": "sha256:ddd",
               "archive": archive(tmp_path, "podplay/db:1", "sha256:ddd")}]  # fmt: skip
    action = Action(node, {"images": images}, False, False)
    with pytest.raises(AnsibleActionFail) as err:
        action.run(task_vars={"inventory_hostname": "node1"})
    assert str(err.value) == (
        "images: loading podplay/db:1 failed on the node: Error: no space left on device"
    )
    assert action.tmp_removed == [TMP]


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ({"images": [{"id": "sha256:a"}]}, "images: images[0].ref: a non-empty string is required"),
        ({"images": [], "pull": True}, "Invalid options for images: pull"),
    ],
)
def test_bad_arguments_fail_with_one_sentence(args: dict[str, Any], msg: str) -> None:
    node = FakeNode({})
    with pytest.raises(AnsibleActionFail) as err:
        Action(node, args, False, False).run(task_vars={})
    assert str(err.value) == msg and node.commands == []


def test_the_docker_option_names_the_client_of_every_command(tmp_path: Path) -> None:
    node = FakeNode({})
    images = [{"ref": "podplay/db:1", "id": "sha256:ddd",
               "archive": archive(tmp_path, "podplay/db:1", "sha256:ddd")}]  # fmt: skip
    action = Action(node, {"images": images, "docker": "/usr/bin/docker"}, False, False)
    assert action.run(task_vars={})["loaded"] == ["podplay/db:1"]
    verbs = [c.split()[:2] for c in node.commands if not c.startswith(("put ", "rm "))]
    assert verbs == [["/usr/bin/docker", v] for v in ("images", "load", "tag", "images")]
