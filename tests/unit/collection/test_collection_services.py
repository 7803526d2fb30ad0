"""The services a role's one module call runs after the node bundle wrote its files
(module_utils/_systemd.py): what restarts when, in which order, and the systemctl commands
that bring a unit from its state now to the wanted one (none when it is already there)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "ansible_collection"))

from ansible_collections.podplay.cluster.plugins.module_utils import _systemd as sd

AGENT_CONVERGED = dict(config_changed=False, token_changed=False, unit_changed=False,
                       restart=False, proxy_restart=False)  # fmt: skip


def agent(**changed: bool) -> tuple[bool, list[tuple[str, Any]]]:
    reload_units, steps = sd.agent_steps({**AGENT_CONVERGED, **changed})
    return reload_units, [(s.unit, s.state) for s in steps]


def test_a_converged_agent_is_only_kept_running() -> None:
    assert agent() == (False, [("podplay-agent.service", "started")])


def test_a_new_config_or_token_restarts_the_agent_without_a_reload() -> None:
    assert agent(config_changed=True, restart=True) == (
        False,
        [("podplay-agent.service", "restarted")],
    )


def test_a_new_bundle_restarts_the_proxy_before_the_agent_and_reloads_systemd() -> None:
    reload_units, steps = agent(unit_changed=True, restart=True, proxy_restart=True)
    assert reload_units
    assert steps == [("podplay-proxy.service", "restarted"), ("podplay-agent.service", "restarted")]
    _, raw = sd.agent_steps({**AGENT_CONVERGED, "proxy_restart": True})
    assert raw[0].enabled is None  # the proxy role enables its unit; this only restarts it


def proxy(**result: Any) -> tuple[bool, list[tuple[str, Any, Any]]]:
    base = dict(unit_changed=False, cluster_changed=False, keepalived_changed=False,
                keepalived_wanted=False, keepalived_installed=True)  # fmt: skip
    reload_units, steps = sd.proxy_steps({**base, **result})
    return reload_units, [(s.unit, s.state, s.enabled) for s in steps]


def test_a_new_cluster_json_does_not_restart_the_proxy() -> None:
    assert proxy(cluster_changed=True) == (False, [("podplay-proxy.service", "started", True)])


def test_a_new_proxy_unit_reloads_systemd_and_restarts_the_proxy() -> None:
    assert proxy(unit_changed=True) == (True, [("podplay-proxy.service", "restarted", True)])


@pytest.mark.parametrize(
    ("result", "keepalived"),
    [
        (dict(keepalived_wanted=True), ("keepalived.service", "started", True)),
        (dict(keepalived_wanted=True, keepalived_changed=True),
         ("keepalived.service", "reloaded", True)),
        (dict(keepalived_changed=True), ("keepalived.service", "stopped", False)),
        (dict(), None),
    ],
    ids=["lb-ips-unchanged", "lb-ips-changed", "lb-ips-gone", "never-had-lb-ips"],
)  # fmt: skip
def test_keepalived_follows_its_config(result: dict[str, bool], keepalived: Any) -> None:
    _, steps = proxy(**result)
    assert steps[0][0] == "podplay-proxy.service"
    assert steps[1:] == ([keepalived] if keepalived else [])


def test_keepalived_is_installed_only_where_wanted_and_missing() -> None:
    assert sd.keepalived_missing(dict(keepalived_wanted=True, keepalived_installed=False))
    assert not sd.keepalived_missing(dict(keepalived_wanted=True, keepalived_installed=True))
    assert not sd.keepalived_missing(dict(keepalived_wanted=False, keepalived_installed=False))


def test_the_store_runs_only_on_members_and_restarts_what_changed() -> None:
    assert sd.store_steps(dict(member=False, restart=True, unit_changed=True)) == (False, [])
    reload_units, steps = sd.store_steps(
        dict(
            member=True,
            unit_changed=False,
            restart=False,
            controller_unit_changed=True,
            controller_restart=True,
        )
    )
    assert reload_units
    assert [(s.unit, s.state, s.no_block) for s in steps] == [
        ("etcd.service", "started", True),
        ("podplay-controller.service", "restarted", True),
    ]


def cmd(action: str, unit: str | None = "u", no_block: bool = False) -> Any:
    return sd.Command(action, unit, no_block)


@pytest.mark.parametrize(
    ("state", "enabled", "now", "commands"),
    [
        ("started", True, (True, True), []),
        ("started", True, (False, False), [cmd("enable"), cmd("start")]),
        ("restarted", True, (True, True), [cmd("restart")]),
        ("reloaded", True, (True, True), [cmd("reload")]),
        ("reloaded", True, (True, False), [cmd("start")]),
        ("stopped", False, (True, True), [cmd("disable"), cmd("stop")]),
        ("stopped", False, (False, False), []),
        ("restarted", None, (False, True), [cmd("restart")]),
    ],
)
def test_unit_commands_change_only_what_differs(state, enabled, now, commands) -> None:
    assert sd.unit_commands(sd.Step("u", enabled, state, False), *now) == commands


def test_a_non_blocking_step_does_not_wait_for_its_start_job_only() -> None:
    assert sd.unit_commands(sd.Step("u", None, "started", True), False, False) == [
        cmd("start", no_block=True)
    ]
    assert sd.unit_commands(sd.Step("u", True, "reloaded", True), False, True) == [
        cmd("enable"),
        cmd("reload", no_block=True),
    ]
    assert sd.unit_commands(sd.Step("u", False, "stopped", True), True, True) == [
        cmd("disable"),
        cmd("stop"),
    ]


@pytest.mark.parametrize(
    ("command", "args"),
    [
        (sd.DAEMON_RELOAD, ["daemon-reload"]),
        (cmd("enable"), ["enable", "u"]),
        (cmd("start", no_block=True), ["--no-block", "start", "u"]),
        (cmd("restart", no_block=True), ["--no-block", "restart", "u"]),
        (cmd("stop"), ["stop", "u"]),
    ],
)
def test_a_command_is_worded_in_one_place(command: Any, args: list[str]) -> None:
    assert sd.systemctl_args(command) == args
    assert sd.report([command]) == ["systemctl " + " ".join(args)]


@pytest.mark.parametrize(
    ("done", "expected"),
    [
        ([cmd("start")], True),
        ([cmd("restart", no_block=True)], True),
        ([sd.DAEMON_RELOAD, cmd("enable"), cmd("reload"), cmd("stop"), cmd("disable")], False),
        ([], False),
    ],
)
def test_started_reads_the_actions(done: list[Any], expected: bool) -> None:
    assert sd.started(done) is expected


class FakeModule:
    """systemctl on a fake host: units with (enabled, active), every command recorded."""

    def __init__(self, units: dict[str, tuple[bool, bool]], check_mode: bool = False) -> None:
        self.units = units
        self.check_mode = check_mode
        self.ran: list[list[str]] = []

    def get_bin_path(self, name: str, required: bool = False) -> str:
        return "/bin/" + name

    def run_command(self, argv: list[str]) -> tuple[int, str, str]:
        args = argv[1:]
        if args[0] == "is-enabled":
            return (0, "enabled", "") if self.units[args[1]][0] else (1, "disabled", "")
        if args[0] == "is-active":
            return (0, "active", "") if self.units[args[1]][1] else (3, "inactive", "")
        self.ran.append(args)
        return 0, "", ""

    def fail_json(self, **kw: Any) -> None:
        raise AssertionError(kw)


def test_converge_runs_the_commands_in_order_and_reports_them() -> None:
    units = {"podplay-proxy.service": (True, True), "podplay-agent.service": (True, True)}
    module = FakeModule(units)
    reload_units, steps = sd.agent_steps(dict(unit_changed=True, restart=True, proxy_restart=True))
    done = sd.converge_units(module, reload_units, steps)
    assert module.ran == [["daemon-reload"], ["restart", "podplay-proxy.service"],
                          ["restart", "podplay-agent.service"]]  # fmt: skip
    assert sd.report(done) == ["systemctl daemon-reload",
                               "systemctl restart podplay-proxy.service",
                               "systemctl restart podplay-agent.service"]  # fmt: skip
    assert sd.started(done)


def test_converge_in_check_mode_reports_and_runs_nothing() -> None:
    module = FakeModule({"podplay-agent.service": (False, False)}, check_mode=True)
    done = sd.converge_units(module, False, sd.agent_steps({})[1])
    assert module.ran == []
    assert sd.report(done) == ["systemctl enable podplay-agent.service",
                               "systemctl start podplay-agent.service"]  # fmt: skip


def test_a_converged_node_runs_no_command() -> None:
    module = FakeModule({"etcd.service": (True, True), "podplay-controller.service": (True, True)})
    done = sd.converge_units(module, *sd.store_steps(dict(member=True)))
    assert (done, module.ran) == ([], [])
    assert not sd.started(done)


def test_a_non_blocking_converge_runs_and_reports_the_same_words() -> None:
    module = FakeModule({"etcd.service": (True, False), "podplay-controller.service": (True, True)})
    done = sd.converge_units(module, *sd.store_steps(dict(member=True, controller_restart=True)))
    assert module.ran == [["--no-block", "start", "etcd.service"],
                          ["--no-block", "restart", "podplay-controller.service"]]  # fmt: skip
    assert sd.report(done) == ["systemctl " + " ".join(args) for args in module.ran]
    assert sd.started(done)


# -- network_config: the kernel settings ------------------------------------------------------


class SysctlModule(FakeModule):
    def __init__(self, check_mode: bool = False) -> None:
        super().__init__({}, check_mode)

    def atomic_move(self, src: str, dest: str) -> None:
        Path(src).replace(dest)


def test_kernel_settings_written_once_applied_then_left_alone(tmp_path: Path) -> None:
    from ansible_collections.podplay.cluster.plugins.modules import network_config as nc

    path = tmp_path / "sysctl.d" / "90-podplay.conf"
    check = SysctlModule(check_mode=True)
    diff = nc.ensure_sysctl(check, str(path))
    assert diff is not None and diff["before"] == "" and "net.ipv4.ip_forward = 1" in diff["after"]
    assert not path.parent.exists() and check.ran == []  # check mode: nothing written nor run
    real = SysctlModule()
    assert nc.ensure_sysctl(real, str(path)) is not None
    assert path.read_text() == nc.SYSCTL_TEXT and path.stat().st_mode & 0o777 == 0o644
    assert real.ran == [["restart", "systemd-sysctl.service"]]
    again = SysctlModule()
    assert nc.ensure_sysctl(again, str(path)) is None and again.ran == []  # idempotent
    path.chmod(0o600)
    assert nc.ensure_sysctl(SysctlModule(), str(path)) is not None  # a wrong mode is put right
