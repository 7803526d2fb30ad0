# -*- coding: utf-8 -*-
# Copyright podplay developers. Apache-2.0.
"""systemd units brought to the state a role's files call for, inside the module's one call.

A role is one module call per node: the module has the node bundle write the files, then
runs the services from what the bundle reported changed (a new unit: daemon-reload and a
restart; a new config the daemon reads only at start: a restart; else: started if it is
not). The decisions are pure functions of the bundle's result (`agent_steps`,
`proxy_steps`, `store_steps`, then `unit_commands` for a unit's state now), unit-tested;
`converge_units` asks systemd the state of each unit and runs only the systemctl commands
that change something (none in check mode, where it reports them). Commands stay data
(`Command`) until `systemctl_args` words them, for running and for the module's report.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

# enabled: True, False or None (left as it is); state: started, restarted, reloaded (reload a
# running unit, start a stopped one) or stopped; no_block: do not wait for the start job.
Step = namedtuple("Step", ["unit", "enabled", "state", "no_block"])

# One systemctl command a Step calls for: action (enable, disable, start, restart, reload,
# stop, daemon-reload), unit (None for daemon-reload), no_block (do not wait for the job).
Command = namedtuple("Command", ["action", "unit", "no_block"])
DAEMON_RELOAD = Command("daemon-reload", None, False)

PROXY_UNIT = "podplay-proxy.service"
AGENT_UNIT = "podplay-agent.service"
KEEPALIVED_UNIT = "keepalived.service"
ETCD_UNIT = "etcd.service"
CONTROLLER_UNIT = "podplay-controller.service"


def step(unit, state, enabled=True, no_block=False):
    return Step(unit, enabled, state, no_block)


def agent_steps(files):
    """After `files apply agent`: a new bundle restarts the proxy first (the new agent serves
    its API over TLS only, which an older proxy cannot read), then the agent runs, restarted
    when anything it reads at start changed. Returns (daemon_reload, steps)."""
    steps = []
    if files.get("proxy_restart"):
        steps.append(step(PROXY_UNIT, "restarted", enabled=None))
    steps.append(step(AGENT_UNIT, "restarted" if files.get("restart") else "started"))
    return bool(files.get("unit_changed")), steps


def proxy_steps(files):
    """After `files apply proxy`: the proxy runs (restarted when its unit changed: a new
    bundle; a new cluster.json it reads by itself); keepalived runs while there are
    LoadBalancer IPs (reloaded when its config changed) and stops when there are none."""
    steps = [step(PROXY_UNIT, "restarted" if files.get("unit_changed") else "started")]
    wanted = bool(files.get("keepalived_wanted"))
    if wanted:
        state = "reloaded" if files.get("keepalived_changed") else "started"
        steps.append(step(KEEPALIVED_UNIT, state))
    elif files.get("keepalived_changed"):
        steps.append(step(KEEPALIVED_UNIT, "stopped", enabled=False))
    return bool(files.get("unit_changed")), steps


def keepalived_missing(files):
    """keepalived must be installed first: LoadBalancer IPs and no binary on the node."""
    return bool(files.get("keepalived_wanted")) and not files.get("keepalived_installed")


def store_steps(files):
    """After `files apply store`, on a member only: etcd and the controller run, each
    restarted when what it reads at start changed. Not blocking: a new member is ready only
    once a majority has started, and the members start in parallel, one per host."""
    if not files.get("member"):
        return False, []
    reload_units = bool(files.get("unit_changed") or files.get("controller_unit_changed"))
    etcd = "restarted" if files.get("restart") else "started"
    controller = "restarted" if files.get("controller_restart") else "started"
    steps = [step(ETCD_UNIT, etcd, no_block=True), step(CONTROLLER_UNIT, controller, no_block=True)]
    return reload_units, steps


def unit_commands(s, enabled_now, active_now):
    """The Commands that bring unit `s.unit` from (enabled_now, active_now) to `s` (pure)."""
    commands = []
    if s.enabled is True and not enabled_now:
        commands.append(Command("enable", s.unit, False))
    elif s.enabled is False and enabled_now:
        commands.append(Command("disable", s.unit, False))
    if s.state == "restarted":
        commands.append(Command("restart", s.unit, s.no_block))
    elif s.state == "reloaded":
        commands.append(Command("reload" if active_now else "start", s.unit, s.no_block))
    elif s.state == "started" and not active_now:
        commands.append(Command("start", s.unit, s.no_block))
    elif s.state == "stopped" and active_now:
        commands.append(Command("stop", s.unit, False))
    return commands


def systemctl_args(command):
    """The systemctl argument list of `command`: the one place a Command becomes words."""
    args = ["--no-block"] if command.no_block else []
    args.append(command.action)
    if command.unit:
        args.append(command.unit)
    return args


def report(done):
    """What a module returns as `services`: each Command as the "systemctl ..." line run."""
    return ["systemctl " + " ".join(systemctl_args(c)) for c in done]


def started(done):
    """Whether `done` (converge_units' result) started or restarted a unit."""
    return any(c.action in ("start", "restart") for c in done)


def converge_units(module, daemon_reload, steps, prefix=""):
    """Run `steps` in order (daemon-reload first when asked); returns the Commands that were
    (or, in check mode, would be) run: `report` words them, `started` reads them. Fails the
    module with systemctl's own words."""
    systemctl = module.get_bin_path("systemctl", required=True)
    done = []
    if daemon_reload:
        done.append(_run(module, systemctl, DAEMON_RELOAD, prefix))
    for s in steps:
        rc, out, _err = module.run_command([systemctl, "is-enabled", s.unit])
        enabled_now = rc == 0 and out.strip() in ("enabled", "enabled-runtime", "static")
        rc, out, _err = module.run_command([systemctl, "is-active", s.unit])
        active_now = out.strip() in ("active", "activating", "reloading")
        for command in unit_commands(s, enabled_now, active_now):
            done.append(_run(module, systemctl, command, prefix))
    return done


def _run(module, systemctl, command, prefix):
    args = systemctl_args(command)
    if not module.check_mode:
        rc, out, err = module.run_command([systemctl, *args])
        if rc != 0:
            said = (err or out).strip().splitlines() or ["exit status %d" % rc]
            module.fail_json(msg="%ssystemctl %s failed: %s" % (prefix, " ".join(args), said[-1]))
    return command
