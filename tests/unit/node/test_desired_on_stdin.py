"""The `--desired -` convention the modules rely on, the same for each command that takes it:
JSON on stdin, one JSON object on stdout; bad input is one sentence there and on stderr,
exit status 1 (podplay.node.util.desired)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from podplay.node.__main__ import main

STORE_JSON = {"cluster": "c", "node": "n", "members": [{"name": "n", "endpoint": "https://n:1"}]}


def run(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, stdin: bytes,
        argv: list[str]) -> tuple[int, dict, str]:  # fmt: skip
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    status = main(argv)
    out, err = capsys.readouterr()
    return status, json.loads(out), err


def store_argv(tmp_path: Path) -> list[str]:
    (tmp_path / "store.json").write_text(json.dumps(STORE_JSON))
    return ["store", "--config", str(tmp_path / "store.json"), "apply-table", "--desired", "-"]


@pytest.mark.parametrize(
    ("stdin", "command", "msg"),
    [
        (b"{not json", "rollout step", "rollout step on stdin: not valid JSON (Expecting"),
        (b"[1]", "rollout step", "rollout step on stdin: expected a JSON object"),
        (b"{}", "rollout step", "node: a non-empty string is required"),
        (b"\xff", "store apply-table", "desired table on stdin: not valid JSON ("),
        (b"[]", "store apply-table", "desired table: expected a JSON object"),
    ],
)
def test_bad_input_is_one_sentence_on_stdout_and_stderr(
    stdin: bytes, command: str, msg: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    argv = store_argv(tmp_path) if command == "store apply-table" else ["rollout", "step"]
    if command == "rollout step":
        argv += ["--desired", "-"]
    status, result, err = run(capsys, monkeypatch, stdin, argv)
    assert (status, result["failed"], result["changed"]) == (1, True, False)
    assert result["msg"].startswith(msg), result["msg"]
    assert err == f"{command}: {result['msg']}\n"


@pytest.mark.parametrize(
    "argv", [["files", "apply", "pods"], ["rollout", "step"], ["store", "apply-table"]]
)
def test_desired_must_be_stdin(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--desired", "desired.json"])
    assert exit_.value.code == 2
    assert "--desired: invalid choice: 'desired.json'" in capsys.readouterr().err


def test_a_step_with_nothing_to_do_is_one_json_line(capsys, monkeypatch) -> None:
    status, result, err = run(
        capsys, monkeypatch, b'{"node": "n1"}', ["rollout", "step", "--desired", "-", "--diff"]
    )
    assert (status, err) == (0, "")
    assert result == {"changed": False, "diff": [], "waited": 0.0, "warnings": []}
