"""The apply engine against a fake world: converges, waits, drains, resumes (no hosts).

The fake world plays the nodes: a converge makes the written plan's pods exist (each turns
ready one poll after it appears) and its service table current; each node's proxy lags two
polls behind the service table, as a real proxy lags its 0.5 s file poll and its sync. The
tests check what users rely on at every moment the engine could observe:

- a pod's containers are removed only after every proxy stopped routing to it;
- during a rolling update of a deployment with max_unavailable 0, the routed ready pods of
  that deployment never drop below its replicas;
- an interrupted apply is finished by the next one, from the stage it reached;
- a `Recreate` deployment never runs pods of two templates at once: removed pods keep being
  reported while they stop (`stopping_polls`), and no new pod may start meanwhile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from control_builders import facts, shop

from podplay import paths
from podplay.artifacts.images import BuiltImage
from podplay.control import applied, ownership, prepare, up, workspace
from podplay.control import run as up_run
from podplay.control.images import BuiltImages
from podplay.control.state import StackState
from podplay.control.target import Target
from podplay.control.waiting import Probe
from podplay.control.workspace import PLAYS_ENV, Workspace
from podplay.errors import EnvironmentProblem
from podplay.execute import HostStats, PlaybookResult, TaskEvent
from podplay.node.contract.rollout import WaitSpec
from podplay.node.rollout.wait import Look
from podplay.node.rollout.wait import wait as node_wait
from podplay.plan import Plan, PodPlan
from podplay.plan.model import EndpointPlan
from podplay.plan.refresh import Move
from podplay.plan.rollout import endpoint_key
from podplay.render import ROLLOUT, RenderOptions
from podplay.render.rollout import STEP


def _pod(node: str, manifest: dict[str, Any]) -> PodPlan:
    """A pod of the binding table as the plan had it (what the fake world checks)."""
    return PodPlan(
        name=manifest["name"],
        namespace=manifest["namespace"],
        deployment=manifest["owner"]["name"],
        template_hash=manifest["template_hash"],
        serial=0,
        node=node,
        ip=manifest["ip"],
        manifest=manifest,
    )


def _books(play: dict[str, Any]) -> list[str]:
    """What a play of rollout.yml runs: the playbook it imports, else STEP per stage."""
    if "ansible.builtin.import_playbook" in play:
        return [play["ansible.builtin.import_playbook"]]
    return [STEP for _ in play["tasks"]]


class Interrupt(KeyboardInterrupt):
    pass


class FakeWorld:
    """Nodes as converges leave them, observed the way the engine observes them."""

    def __init__(self) -> None:
        self.written: Plan | None = None
        self.rollout: str | None = None  # the rollout playbook written with it
        self.current: Plan | None = None  # the last converged plan
        self.routing_view: set[str] = set()  # what every proxy routes to right now
        self.lag = 0
        self.appeared: dict[str, int] = {}  # pod -> poll count when it appeared
        self.polls = 0
        self.converges: list[tuple[str, Plan]] = []
        self.tags: list[tuple[str, ...]] = []  # of each converge: () is every part
        self.limits: list[list[str] | None] = []  # of each converge: None is every node
        # of each rollout.yml run: what each play imports, STEP for each stage of a stage play
        self.rollouts: list[list[str]] = []
        self.removed_while_routed: list[str] = []
        self.observed_serving: list[tuple[str, int]] = []
        self.fail_at: int | None = None
        self.never_ready: set[str] = set()
        self.stopping_polls = 0  # polls a removed pod is still reported (its grace period)
        self.stopping: dict[str, tuple[PodPlan, int]] = {}  # pod -> (pod, polls left)
        self.two_versions: list[str] = []  # new pods started beside old ones still running
        self.machines = {f"node{i}": f"container{i}" for i in (1, 2, 3)}  # their identities

    # -- Workspace
    def write(self, plan: Plan, rollout: str | None = None) -> None:
        self.written, self.rollout = plan, rollout

    def run(self, book: str, env: dict[str, str] | None = None, **kw: Any) -> PlaybookResult:
        assert self.written is not None
        if book == ROLLOUT:
            assert self.rollout is not None and env is not None
            plays = yaml.safe_load(self.rollout)
            self.rollouts.append([b for play in plays for b in _books(play)])
            return self.play_rollout(plays, Path(env[PLAYS_ENV]))
        self.tags.append(tuple(kw.get("tags", ())))
        self.limits.append(kw.get("hosts"))
        return self.converge(book, self.written)

    def converge(self, book: str, new: Plan) -> PlaybookResult:
        if self.fail_at is not None and len(self.converges) == self.fail_at:
            self.fail_at = None
            raise Interrupt()
        if self.current is not None:
            gone = {p.name for p in self.current.pods} - {p.name for p in new.pods}
            self.removed_while_routed += [
                e for e in self.routing_view if e.split("/")[1].split("@")[0] in gone
            ]
            for p in self.current.pods:
                if p.name in gone and self.stopping_polls:
                    self.stopping[p.name] = (p, self.stopping_polls)
            self._check_versions(self.current, new)
        for p in new.pods:
            self.appeared.setdefault(p.name, self.polls)
        self.current = new
        self.converges.append((book, new))
        self.lag = 2
        hosts = {n.name: HostStats(ok=2) for n in new.nodes}
        return PlaybookResult(rc=0, hosts=hosts)

    # -- the rollout playbook, played as Ansible would: task by task on every node
    def play_rollout(self, plays: list[dict[str, Any]], started: Path) -> PlaybookResult:
        assert self.written is not None
        base = self.written
        started.parent.mkdir(parents=True, exist_ok=True)
        for play in plays:
            with started.open("a") as handle:
                handle.write(play["name"] + "\n")
            if play.get("ansible.builtin.import_playbook") == "site.yml":
                self.converge("site.yml", base)
                continue
            for block in play["tasks"]:  # as the stats_json callback lists each task started
                stage = block["vars"]["podplay_stage"]
                assert stage["name"] == block["name"]
                with started.open("a") as handle:
                    handle.writelines(task["name"] + "\n" for task in block["block"])
                failed = self._play_stage(base, stage, block["name"])
                if failed is not None:
                    return failed
        assert self.current is not None
        return PlaybookResult(rc=0, hosts={n.name: HostStats(ok=2) for n in self.current.nodes})

    def _play_stage(self, base: Plan, stage: dict[str, Any], name: str) -> PlaybookResult | None:
        """Drain, pods and routing, the wait, then the next stage's drain (`then`)."""
        drain, then = stage["drain"], stage.get("then")
        steps = [
            (drain and "drain", lambda: self._drained(drain["services"]), drain and drain["wait"]),
            (stage["apply"] and "stage", lambda: self._applied(base, stage["apply"]), None),
        ]
        for book, plan, wait in steps:
            if book:
                self.converge(book, plan())
                failed = self.wait_on_nodes(wait, name)
                if failed is not None:
                    return failed
        failed = self.wait_on_nodes(stage["wait"], name)
        if failed is not None or then is None:
            return failed
        self.converge("drain", self._drained(then["services"]))
        return self.wait_on_nodes(then["wait"], name)

    def _with_services(self, plan: Plan, services: list[dict[str, Any]]) -> Plan:
        endpoints = {
            (s["namespace"], s["name"]): [EndpointPlan(**e) for e in s["endpoints"]]
            for s in services
        }
        return plan.model_copy(
            update={
                "services": [
                    s.model_copy(update={"endpoints": endpoints[(s.namespace, s.name)]})
                    for s in plan.services
                ]
            }
        )

    def _drained(self, services: list[dict[str, Any]]) -> Plan:
        assert self.current is not None
        return self._with_services(self.current, services)

    def _applied(self, base: Plan, apply: dict[str, Any]) -> Plan:
        """The binding table: the build directory's pods, the stage's on the nodes it names."""
        pods = [p for p in base.pods if p.node not in apply["pods"]]
        for node, manifests in apply["pods"].items():
            pods += [_pod(node, m) for m in manifests]
        return self._with_services(base.model_copy(update={"pods": pods}), apply["services"])

    def wait_on_nodes(self, wait: dict[str, Any] | None, play: str) -> PlaybookResult | None:
        """Each node's `rollout step` wait, with the node-side code and a fake clock."""
        if wait is None:
            return None
        assert self.current is not None
        spec = WaitSpec.from_json(wait)
        clock = [0.0]
        for node in [n.name for n in self.current.nodes]:
            look = Look(
                pods=lambda node=node: ([p for p in self.pods()[0] if p["node"] == node], ""),
                proxy=lambda node=node: self.proxies(self.current)[node],  # type: ignore[arg-type]
                clock=lambda: clock[0],
                sleep=lambda s: clock.__setitem__(0, clock[0] + s),
            )
            outcome = node_wait(spec, node, look)
            if not outcome.ok:
                event = TaskEvent("failed", node, "the wait", play=play, msg=outcome.msg)
                return PlaybookResult(rc=2, hosts={node: HostStats(failures=1)}, events=(event,))
        return None

    def _check_versions(self, current: Plan, new: Plan) -> None:
        before = {p.name for p in current.pods}
        running = [*current.pods, *(p for p, _ in self.stopping.values())]
        for p in new.pods:
            if p.name in before:
                continue
            others = [
                q.name
                for q in running
                if (q.deployment, q.namespace) == (p.deployment, p.namespace)
                and q.template_hash != p.template_hash
            ]
            if others:
                self.two_versions.append(f"{p.name} started beside {', '.join(sorted(others))}")

    # -- what the agents and proxies report
    def ready(self, name: str) -> bool:
        return name not in self.never_ready and self.polls > self.appeared.get(name, 10**9)

    def pods(self) -> tuple[list[dict[str, Any]], list[str]]:
        self.polls += 1
        assert self.current is not None
        out = [
            {
                "name": p.name,
                "namespace": p.namespace,
                "node": p.node,
                "ip": p.ip,
                "phase": "Running",
                "ready": self.ready(p.name),
                "template_hash": p.template_hash,
                "containers": [],
            }
            for p in self.current.pods
        ]
        for name, (p, left) in list(self.stopping.items()):
            if left <= 0:
                del self.stopping[name]
                continue
            self.stopping[name] = (p, left - 1)
            out.append({"name": p.name, "namespace": p.namespace, "node": p.node, "ip": p.ip,
                        "phase": "Running", "ready": False, "template_hash": p.template_hash,
                        "containers": []})  # fmt: skip
        return out, []

    def proxies(self, plan: Plan) -> dict[str, dict[str, Any] | None]:
        assert self.current is not None
        if self.lag:
            self.lag -= 1
        else:
            exists = {p.name for p in self.current.pods if self.ready(p.name)}
            self.routing_view = {
                endpoint_key(e.namespace, e.pod, e.ip)
                for s in self.current.services
                for e in s.endpoints
                if e.pod in exists
            }
        self._observe()
        return {n.name: {"ready_endpoints": sorted(self.routing_view)} for n in plan.nodes}

    def _observe(self) -> None:
        assert self.current is not None
        for d in ("web", "backend"):
            serving = [e for e in self.routing_view if e.startswith(f"default/{d}-")]
            self.observed_serving.append((d, len(serving)))

    def probe(self) -> Probe:
        return Probe(access=None, pods=self.pods, proxies=self.proxies, sleep=lambda _s: None)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeWorld:
    w = FakeWorld()
    monkeypatch.setattr(paths, "home", lambda: tmp_path / "home")  # cluster records
    monkeypatch.setattr(Workspace, "write", lambda self, plan, rollout=None: w.write(plan, rollout))
    monkeypatch.setattr(Workspace, "run", lambda self, book, **kw: w.run(book, **kw))
    monkeypatch.setattr(up_run, "probe_cluster", lambda inventory, cluster: w.probe())
    monkeypatch.setattr(up, "record_cluster_plan", lambda target, plan: None)
    monkeypatch.setattr(applied.substrate, "machine_ids", lambda name: dict(w.machines))
    monkeypatch.setattr(
        workspace, "render_options", lambda *a, **k: RenderOptions(collections_path="/collections")
    )
    target = Target("shop", local=True, exists=True, node_count=3, facts=facts())
    monkeypatch.setattr(prepare, "find_target", lambda stack: target)
    monkeypatch.setattr(prepare, "known_images", lambda stack, base: {})
    pause = BuiltImage("podplay/pause:1", "sha256:p", "/cache/p.tar")
    built = BuiltImages({}, {}, pause)
    monkeypatch.setattr(prepare, "build_images", lambda stack, log=None: built)
    monkeypatch.setattr(up, "build_images", lambda stack, log=None: built)
    return w


def _up(state: StackState, **program: Any) -> up.UpResult:
    prep = prepare.prepare("app.py", shop(**program), state, build=False)
    return up.apply(prep, wait_timeout=30)


def _pods(p: Plan, deployment: str = "web") -> set[str]:
    return {x.name for x in p.pods if x.deployment == deployment}


def _routed(p: Plan, deployment: str = "web") -> set[str]:
    """The pods of `deployment` some service routes to (ready or starting: not terminating)."""
    return {e.pod for s in p.services for e in s.endpoints} & _pods(p, deployment)


def test_first_up_converges_once_and_commits(world: FakeWorld, tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    result = _up(state)
    assert [b for b, _ in world.converges] == ["site.yml"]
    assert state.applied_plan() == result.plan.model_dump(mode="json")
    assert state.journal() is None
    assert result.outputs["exports"] == {"port": 30080}
    assert {s["type"] for s in result.outputs["services"]} == {
        "ClusterIP",
        "NodePort",
        "LoadBalancer",
        "ExternalName",
    }
    assert (state.directory / up.LAST_UP).is_file()
    claimed = ownership.owner("shop")  # the cluster now belongs to this stack
    assert claimed is not None and claimed["state"] == str(state.directory.resolve())


def test_unchanged_program_runs_no_playbook_unless_full(world: FakeWorld, tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    first = _up(state)
    second = _up(state)
    assert second.changes == []
    assert second.plan == first.plan
    assert [b for b, _ in world.converges] == ["site.yml"]  # every part, the first time
    assert world.tags == [()]
    prep = prepare.prepare("app.py", shop(), state, build=False)
    up.apply(prep, wait_timeout=30, full=True)  # --full: every part again
    assert [b for b, _ in world.converges] == ["site.yml", "site.yml"]
    assert world.tags == [(), ()]


def test_a_recreated_node_gets_every_part_again(world: FakeWorld, tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    _up(state)
    world.machines["node2"] = "another container"
    _up(state)
    assert world.tags[1] == ()  # every part ...
    assert world.limits == [None, ["node2"]]  # ... on node2 only


def test_a_failed_converge_leaves_its_parts_unknown(world: FakeWorld, tmp_path: Path) -> None:
    """A run that fails after changing the nodes: reverting the program must not skip it."""
    state = StackState(tmp_path / "s")
    _up(state, replicas=3)
    world.fail_at = len(world.converges)
    with pytest.raises(Interrupt):
        _up(state, replicas=5)
    recorded = state.applied_parts()
    assert all("pods" not in p and "services" not in p for p in recorded.values())
    assert all("node" in p and "network" in p for p in recorded.values())
    _up(state, replicas=3)
    # the app part again, by one stage play writing every node's pods (all unknown now)
    assert world.rollouts[-1] == [STEP]
    assert world.converges[-1][0] == "stage" and _pods(world.current) == _pods(world.written)


def test_scale_up_adds_pods_without_draining_or_moving(world: FakeWorld, tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    first = _up(state, replicas=3)
    second = _up(state, replicas=5)
    added = [c for c in second.changes if c.kind == "Pod"]
    assert [c.op for c in added] == ["+", "+"]
    assert _pods(first.plan) < _pods(second.plan)
    # every part the first time, then only the app part: one stage play, no site.yml
    assert [b for b, _ in world.converges] == ["site.yml", "stage"]
    assert world.tags == [()] and world.rollouts == [[STEP]]


def test_scale_down_drains_before_removing(world: FakeWorld, tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    _up(state, replicas=5)
    _up(state, replicas=3)
    books = [b for b, _ in world.converges]
    assert books == ["site.yml", "drain", "stage"]  # drain, then remove: in one run
    assert world.rollouts == [[STEP]]
    drain = world.converges[1][1]
    assert len(_pods(drain)) == 5  # the pods still run while routing drops two
    assert sum(len(s.endpoints) for s in drain.services if s.name == "web") == 3
    assert world.removed_while_routed == []


def test_rolling_update_keeps_replicas_routed_and_drains_first(
    world: FakeWorld, tmp_path: Path
) -> None:
    state = StackState(tmp_path / "s")
    first = _up(state, image="busybox:1")
    start = len(world.observed_serving)
    second = _up(state, image="busybox:2")
    assert second.stages == 5
    assert [c.op for c in second.changes if c.kind == "Pod"] == ["+-"] * 3
    assert _pods(second.plan).isdisjoint(_pods(first.plan))
    # one pod at a time: never more than replicas + max_surge pods of web on the nodes that
    # are not terminating (an old pod drained while the next new one starts is bound one
    # stage more, out of routing: Kubernetes' overlap)
    assert max(len(_pods(p)) for _, p in world.converges) == 5
    assert max(len(_routed(p)) for _, p in world.converges) == 4
    # nothing was removed while any proxy still routed to it ...
    assert world.removed_while_routed == []
    # ... and the routed pods of web never dropped below its 3 replicas
    during = [n for d, n in world.observed_serving[start:] if d == "web"]
    assert during and min(during) >= 3
    # one ansible-playbook run: each step's drain and pods and routing, waited for on the
    # nodes; no site.yml (only the app part changed), no play for the first stage (the same
    # pods and routing as before)
    assert [name for name, _ in second.playbooks] == [ROLLOUT]
    assert world.rollouts == [[STEP] * 4]
    books = [b for b, _ in world.converges[1:]]
    # each old pod leaves routing in the stage's own call (drained on every node while the
    # next new pod starts), a stage before it goes: no drain of its own; the last one at
    # the end of the call of the stage that starts the last new pod (`then`)
    assert books.count("drain") == 1 and set(books) == {"stage", "drain"}
    # the build directory says the final plan; the rollout playbook is gone with the rollout
    assert world.written == second.plan and world.rollout is None
    assert state.journal() is None


def test_interrupted_rollout_resumes_where_it_stopped(world: FakeWorld, tmp_path: Path) -> None:
    state = StackState(tmp_path / "s")
    _up(state, image="busybox:1")
    world.fail_at = len(world.converges) + 4
    with pytest.raises(Interrupt):
        _up(state, image="busybox:2")
    journal = state.journal()
    assert journal is not None and journal.phase == "converge" and journal.stage > 0
    done_before = len(world.converges)
    prep = prepare.prepare("app.py", shop(image="busybox:2"), state, build=False)
    # the preview of the resumed up shows what the interrupted one set out to do
    assert [c.op for c in prep.changes if c.kind == "Pod"] == ["+-"] * 3
    result = up.apply(prep, wait_timeout=30)
    assert result.resumed_stage == journal.stage
    assert world.converges[done_before][0] in ("drain", "stage")  # the app part only
    assert STEP in world.rollouts[-1] and "site.yml" not in world.rollouts[-1]
    assert state.journal() is None
    assert world.removed_while_routed == []
    assert _pods(world.current) == _pods(result.plan)


def test_pods_that_never_become_ready_fail_with_their_names(
    world: FakeWorld, tmp_path: Path
) -> None:
    state = StackState(tmp_path / "s")
    prep = prepare.prepare("app.py", shop(), state, build=False)
    stuck = next(p.name for p in prep.plan.pods if p.deployment == "web")
    world.never_ready.add(stuck)
    with pytest.raises(EnvironmentProblem, match=rf"deployment default/web: 2/3 ready.*{stuck}"):
        up.apply(prep, wait_timeout=0.0)
    assert state.journal() is not None  # the next up finishes the job
    assert state.applied_plan() is None


def test_changed_program_after_a_failed_rollout_keeps_the_old_pods_serving(
    world: FakeWorld, tmp_path: Path
) -> None:
    """A rollout whose new pods never get ready fails; the user fixes the program and runs up
    again. The old pods still serve: they must be replaced one at a time like any others,
    not dropped because the failed plan no longer lists them."""
    state = StackState(tmp_path / "s")
    first = _up(state, image="busybox:1")
    broken = prepare.prepare("app.py", shop(image="busybox:2"), state, build=False)
    world.never_ready |= _pods(broken.plan)
    with pytest.raises(EnvironmentProblem, match="not available"):
        up.apply(broken, wait_timeout=0.0)
    assert state.journal() is not None
    on_nodes = _pods(world.current)
    assert _pods(first.plan) < on_nodes  # old pods and one never-ready new pod

    start = len(world.observed_serving)
    fixed = prepare.prepare("app.py", shop(image="busybox:3"), state, build=False)
    replaced = {c.replaces for c in fixed.changes if c.op == "+-"}
    deleted = {c.name for c in fixed.changes if c.op == "-" and c.kind == "Pod"}
    assert replaced | deleted == on_nodes  # the preview names what really runs
    result = up.apply(fixed, wait_timeout=30)
    assert world.removed_while_routed == []
    during = [n for d, n in world.observed_serving[start:] if d == "web"]
    assert during and min(during) >= 3
    assert _pods(world.current) == _pods(result.plan)
    # new pods never take the IP of a pod that may still be stopping
    old_ips = {p.ip for p in first.plan.pods if p.deployment == "web"}
    assert not old_ips & {p.ip for p in result.plan.pods if p.deployment == "web"}
    assert state.journal() is None


def test_pods_added_after_a_rollout_do_not_reuse_the_ips_it_freed(
    world: FakeWorld, tmp_path: Path
) -> None:
    """The old pods of a finished rollout may still be stopping (their grace period) when
    the next up adds pods: an IP they hold would keep a new pod from starting meanwhile."""
    state = StackState(tmp_path / "s")
    first = _up(state, image="busybox:1")
    second = _up(state, image="busybox:2")
    third = _up(state, image="busybox:2", replicas=5)
    added = [p for p in third.plan.pods if p.name not in {q.name for q in second.plan.pods}]
    assert len(added) == 2
    assert not {p.ip for p in first.plan.pods} & {p.ip for p in added}


def test_recreate_stops_every_old_pod_before_any_new_one_starts(
    world: FakeWorld, tmp_path: Path
) -> None:
    state = StackState(tmp_path / "s")
    first = _up(state, image="busybox:1", recreate=True)
    world.stopping_polls = 3  # removed pods are still reported for three polls
    start = len(world.converges)
    second = _up(state, image="busybox:2", recreate=True)
    assert second.stages == 3  # before, every old pod gone, every new pod there
    web = [len(_pods(p)) for _, p in world.converges[start:]]
    assert web == [3, 0, 3]  # drained routing, old pods deleted, new created
    assert world.two_versions == []  # the old pods had stopped before the new ones started
    assert world.removed_while_routed == []
    assert _pods(world.current) == _pods(second.plan)
    assert _pods(second.plan).isdisjoint(_pods(first.plan))
    deployment = next(c for c in second.changes if c.kind == "Deployment")
    assert deployment.rollout == (
        "recreate (3 pods stop, then 3 start; services default/web, default/web-lb have no "
        "ready endpoint meanwhile)"
    )


def test_a_rolling_update_does_not_wait_for_old_pods_to_stop(
    world: FakeWorld, tmp_path: Path
) -> None:
    """The check above can fail: a rolling update starts new pods while old ones stop."""
    state = StackState(tmp_path / "s")
    _up(state, image="busybox:1")
    world.stopping_polls = 3
    _up(state, image="busybox:2")
    assert world.two_versions


def test_pods_the_controller_moved_get_their_pods_and_routing_converged(
    world: FakeWorld, tmp_path: Path
) -> None:
    """The store's moves changed what the nodes run since the last apply: an unchanged
    program still converges the pods and the routing (not the other parts)."""
    state = StackState(tmp_path / "s")
    first = _up(state)
    pod = first.plan.pods[0]
    prep = prepare.prepare("app.py", shop(), state, build=False)
    prep.moves = [Move(pod.namespace, pod.name, pod.node, "node3", pod.ip)]
    up.apply(prep, wait_timeout=30)
    assert world.tags == [()] and world.rollouts == [[STEP]]
    assert world.converges[-1][0] == "stage" and _pods(world.current) == _pods(world.written)
