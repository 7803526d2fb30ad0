"""The engine's daemon.json as the runtime role leaves it (module_utils/_engine_config.py):
the pods' OCI runtime registered, everything else of the host's file as it was."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ansible_collection"))

from ansible_collections.podplay.cluster.plugins.module_utils._engine_config import (
    EngineConfigError,
    runtimes_listed,
    with_runtime,
)

NODE_IMAGE = Path(__file__).resolve().parents[3] / (
    "dsl/podplay/artifacts/recipe/node/files/etc/docker/daemon.json"
)


def test_a_host_without_a_daemon_json_gets_one_with_just_the_runtime() -> None:
    for empty in (None, "", "  \n"):
        text = with_runtime(empty, "crun", "/usr/bin/crun")
        assert json.loads(text or "") == {"runtimes": {"crun": {"path": "/usr/bin/crun"}}}


def test_the_host_settings_stay_and_the_runtime_is_added_beside_theirs() -> None:
    mine = {"log-driver": "local", "runtimes": {"runsc": {"path": "/usr/bin/runsc"}}}
    after = json.loads(with_runtime(json.dumps(mine), "crun", "/usr/bin/crun") or "")
    assert after == {
        "log-driver": "local",
        "runtimes": {"runsc": {"path": "/usr/bin/runsc"}, "crun": {"path": "/usr/bin/crun"}},
    }
    # written once: the result already has it, so the next run changes nothing
    assert with_runtime(json.dumps(after), "crun", "/usr/bin/crun") is None


def test_an_entry_of_that_name_is_the_hosts_and_kept() -> None:
    theirs = json.dumps({"runtimes": {"crun": {"path": "/opt/crun/bin/crun"}}})
    assert with_runtime(theirs, "crun", "/usr/bin/crun") is None


def test_the_node_image_registers_crun_already() -> None:
    assert with_runtime(NODE_IMAGE.read_text(), "crun", "/usr/bin/crun") is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[1]", "expected a JSON object, got list"),
        ('{"runtimes": ["crun"]}', "runtimes: expected an object, got list"),
    ],
)
def test_a_file_the_engine_could_not_read_either_is_refused_with_why(text, words) -> None:
    with pytest.raises(EngineConfigError, match=words):
        with_runtime(text, "crun", "/usr/bin/crun")


def test_the_runtimes_docker_info_lists_with_their_binaries() -> None:
    out = '{"crun":{"path":"/usr/bin/crun"},"io.containerd.runc.v2":{"path":"runc"},"runc":{}}\n'
    assert runtimes_listed(out) == {
        "crun": "/usr/bin/crun",
        "io.containerd.runc.v2": "runc",
        "runc": "",
    }
    assert runtimes_listed("") == {} and runtimes_listed("garbage") == {}
    assert runtimes_listed("[1]") == {}
