"""run_playbook: a real ansible-playbook on localhost, results read from the stats callback."""

from __future__ import annotations

import sys

import pytest

from podplay.errors import EnvironmentProblem
from podplay.execute import HostStats, PlaybookResult, TaskEvent, run_playbook
from podplay.execute.ansible import ansible_env, mitogen_strategy_dir, parse_stats

PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: always changes
      ansible.builtin.command: "true"
      changed_when: "{{ flip | default(true) | bool }}"
    - name: fails when asked
      ansible.builtin.fail:
        msg: "asked to fail on {{ inventory_hostname }}"
      when: fail | default(false) | bool
"""

INVENTORY = (
    f"[all:vars]\nansible_python_interpreter={sys.executable}\n"
    "[all]\na ansible_connection=local\nb ansible_connection=local\n"
)


@pytest.fixture
def play(tmp_path):
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "hosts").write_text(INVENTORY)
    return tmp_path


@pytest.fixture(params=[False, True], ids=["plain", "mitogen"])
def mitogen(request):
    if request.param and mitogen_strategy_dir() is None:
        pytest.skip("mitogen is not installed")
    return request.param


def run(play, mitogen=False, **extra) -> PlaybookResult:
    return run_playbook(
        play / "play.yml", play / "hosts", {"ansible_python_interpreter": sys.executable, **extra},
        quiet=True, mitogen=mitogen,
    )  # fmt: skip


def test_changes_are_counted_per_host_and_named(play, mitogen):
    result = run(play, mitogen)
    assert result.ok and result.rc == 0
    assert result.changed == 2
    assert result.hosts["a"].changed == 1 and result.hosts["b"].ok == 1
    assert {(e.host, e.task) for e in result.changed_tasks} == {
        ("a", "always changes"),
        ("b", "always changes"),
    }


def test_nothing_changed_reads_as_zero(play, mitogen):
    result = run(play, mitogen, flip=False)
    assert result.ok and result.changed == 0 and result.changed_tasks == []


def test_failures_carry_host_task_and_message(play, mitogen):
    result = run(play, mitogen, fail=True)
    assert not result.ok and result.rc != 0
    assert result.hosts["a"].failures == 1
    assert {e.host for e in result.failures} == {"a", "b"}
    first = (
        r"task 'fails when asked' failed on ([ab]): asked to fail on \1 "
        r"\(and 1 more failure: ([ab]): asked to fail on \2\)"
    )
    with pytest.raises(EnvironmentProblem, match=first):
        result.raise_for_failure("testing")


def test_output_is_streamed_to_a_callback_unless_quiet(play):
    lines: list[str] = []
    run_playbook(play / "play.yml", play / "hosts", output=lines.append)
    assert any("PLAY RECAP" in line for line in lines)


def test_a_broken_playbook_is_not_ok_and_says_why(play):
    (play / "bad.yml").write_text("- hosts: all\n  tasks: [{name: x, no.such.module: {}}]\n")
    result = run_playbook(play / "bad.yml", play / "hosts", quiet=True)
    assert not result.ok and result.hosts == {}
    with pytest.raises(EnvironmentProblem, match="exited with status"):
        result.raise_for_failure("broken")


def test_parse_stats_and_env():
    doc = {
        "hosts": {"n1": {"ok": 3, "changed": 1, "failures": 0, "unreachable": 0,
                         "skipped": 1, "rescued": 0, "ignored": 0}},
        "events": [{"status": "changed", "host": "n1", "task": "t", "action": "copy"}],
    }  # fmt: skip
    result = parse_stats(doc, 0)
    assert result.hosts == {"n1": HostStats(ok=3, changed=1, skipped=1)}
    assert result.events == (TaskEvent("changed", "n1", "t", "copy"),)
    env = ansible_env(forks=7)
    assert env["ANSIBLE_FORKS"] == "7" and env["ANSIBLE_PIPELINING"] == "True"
    assert env["ANSIBLE_GATHERING"] == "explicit"
    assert "ControlPersist" in env["ANSIBLE_SSH_ARGS"]
    assert env["ANSIBLE_CALLBACKS_ENABLED"] == "podplay.cluster.stats_json"


TAGGED = """\
- hosts: all
  gather_facts: false
  roles:
    - {role: first, tags: [one]}
  tasks:
    - name: tagged two
      ansible.builtin.command: "true"
      changed_when: false
      tags: [two]
"""


@pytest.mark.parametrize("tags", [(), ("one",), ("two",)])
def test_every_task_that_ran_is_recorded_with_its_role(play, mitogen, tags) -> None:
    (play / "play.yml").write_text(TAGGED)
    (play / "roles" / "first" / "tasks").mkdir(parents=True)
    (play / "roles" / "first" / "tasks" / "main.yml").write_text(
        "- name: in first\n  ansible.builtin.debug:\n    msg: hi\n"
        "- name: skipped in first\n  ansible.builtin.debug:\n    msg: no\n  when: false\n"
    )
    result = run_playbook(
        play / "play.yml", play / "hosts", {"ansible_python_interpreter": sys.executable},
        quiet=True, mitogen=mitogen, tags=tags,
    )  # fmt: skip
    assert result.ok, result.output_tail
    want = {(): ["first: in first", "-: tagged two"], ("one",): ["first: in first"],
            ("two",): ["-: tagged two"]}[tags]  # fmt: skip
    assert result.tasks_ran() == want and result.tasks_ran("a") == want
    assert result.roles_ran == (["first"] if "two" not in tags else [])
    statuses = {(t.host, t.task): t.status for t in result.tasks}
    if tags != ("two",):
        assert statuses[("b", "skipped in first")] == "skipped"


SPECCED = """\
- hosts: all
  gather_facts: false
  roles:
    - {role: checked, tags: [one]}
  tasks:
    - name: tagged two
      ansible.builtin.command: "true"
      changed_when: false
      tags: [two]
"""


def test_a_roles_argument_check_is_no_work_of_the_role(play) -> None:
    """Ansible runs a role's argument check under any --tags; it is recorded, not counted."""
    (play / "play.yml").write_text(SPECCED)
    role = play / "roles" / "checked"
    (role / "tasks").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "tasks" / "main.yml").write_text(
        "- name: work\n  ansible.builtin.debug:\n    msg: hi\n"
    )
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: checked\n    options: {}\n"
    )
    result = run_playbook(
        play / "play.yml", play / "hosts", {"ansible_python_interpreter": sys.executable},
        quiet=True, mitogen=False, tags=("two",),
    )  # fmt: skip
    assert result.ok, result.output_tail
    assert any(t.role == "checked" and not t.worked for t in result.tasks)  # it did run
    assert result.roles_ran == [] and result.tasks_ran() == ["-: tagged two"]
