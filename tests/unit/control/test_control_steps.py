"""`up`'s steps one at a time (podplay.control.up), and the waits they use, against fakes.

test_control_apply.py drives the whole list against a fake world; here each step is called
alone with a fake workspace (records what is written and run) and a fake probe (scripted
agent and proxy reports, a fake clock), so what one step does is pinned down by itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from control_builders import facts, shop, shop_plan

from podplay import paths
from podplay.artifacts.images import BuiltImage
from podplay.control import ownership, up
from podplay.control.images import BuiltImages
from podplay.control.prepare import Prepared, Timer, dump_plan
from podplay.control.reporter import Reporter
from podplay.control.state import StackState
from podplay.control.target import Target
from podplay.control.waiting import Probe, wait_drained, wait_no_pods
from podplay.execute import HostStats, PlaybookResult
from podplay.plan import Plan, stages
from podplay.plan.rollout import endpoint_key

PAUSE = BuiltImage("podplay/pause:1", "sha256:p", "/cache/p.tar")
IMAGES = BuiltImages({}, {}, PAUSE)
TARGET = Target("shop", local=True, exists=True, node_count=3, facts=facts())


class Said(Reporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def phase(self, name: str, detail: str = "") -> None:
        self.lines.append(f"{name}: {detail}")

    def info(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append(f"warning: {message}")


class FakeWorkspace:
    """Records what a step writes and runs."""

    inventory = Path("/nowhere/inventory.yml")

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def converge(self, plan: Plan, book: str, output: Any = None, **_: Any) -> PlaybookResult:
        self.events.append((book, plan))
        return PlaybookResult(rc=0, hosts={"node1": HostStats(ok=1, changed=1)})

    def hosts(self, plan: Plan) -> list[str]:
        return [n.name for n in plan.nodes]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def prepared(state: StackState, plan: Plan, **fields: Any) -> Prepared:
    values: dict[str, Any] = {
        "program": "app.py",
        "stack": shop(),
        "state": state,
        "target": TARGET,
        "applied": None,
        "base": None,
        "journal_plan": None,
        "journal_previous": None,
        "journal_stage": 0,
        "journal_phase": None,
        "plan": plan,
        "changes": [],
        "images": IMAGES,
        "timer": Timer(),
    }
    return Prepared(**{**values, **fields})


def run_of(tmp_path: Path, before: Plan | None, desired: Plan, **start: Any) -> up.Run:
    state = StackState(tmp_path / "s")
    plans = stages(before, desired) if before is not None else [desired]
    return up.Run(
        prepared(state, desired),
        up.Start(desired, before, **start),
        TARGET,
        FakeWorkspace(),  # type: ignore[arg-type]
        plans,
        Said(),
    )


# -- resume_point ---------------------------------------------------------------------------


def test_without_a_journal_the_apply_starts_from_the_applied_plan(tmp_path: Path) -> None:
    applied = shop_plan()
    new = shop_plan(applied, replicas=5)
    said = Said()
    start = up.resume_point(prepared(StackState(tmp_path), new, applied=applied), said)
    assert start == up.Start(new, applied)
    assert said.lines == []


def test_an_interrupted_apply_of_the_same_program_resumes_at_its_stage(tmp_path: Path) -> None:
    old = shop_plan()
    new = shop_plan(old, image="busybox:2")
    prep = prepared(
        StackState(tmp_path),
        new.model_copy(update={"rollout": []}),  # planned again: equal but for the rollout
        applied=old,
        journal_plan=new,
        journal_previous=old,
        journal_stage=3,
        journal_phase="converge",
    )
    said = Said()
    start = up.resume_point(prep, said)
    assert start == up.Start(new, old, stage=3, resumed=3)
    assert said.lines == ["resuming an interrupted up (phase converge, stage 4)"]


def test_a_changed_program_converges_from_what_the_nodes_may_run(tmp_path: Path) -> None:
    old = shop_plan()
    stuck = shop_plan(old, image="busybox:2")
    base = shop_plan(old, replicas=4)  # what prepare planned against (in_flight)
    fixed = shop_plan(base, image="busybox:3")
    prep = prepared(StackState(tmp_path), fixed, applied=old, base=base, journal_plan=stuck)
    said = Said()
    assert up.resume_point(prep, said) == up.Start(fixed, base)
    assert said.lines == ["an earlier up was interrupted; converging to the program as it is now"]


# -- ensure_images, ensure_cluster, begin -------------------------------------------------


def test_images_prepare_built_are_not_built_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(up, "build_images", lambda *a: pytest.fail("built twice"))
    assert up.ensure_images(prepared(StackState(tmp_path), shop_plan()), Said()) is IMAGES
    built = BuiltImages({}, {}, PAUSE)
    monkeypatch.setattr(up, "build_images", lambda stack, log: built)
    unbuilt = prepared(StackState(tmp_path), shop_plan(), images=None)
    assert up.ensure_images(unbuilt, Said()) is built


def test_an_existing_cluster_is_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(up.substrate, "create_cluster", lambda *a, **k: pytest.fail("created"))
    start = up.Start(shop_plan(), None)
    prep = prepared(StackState(tmp_path), start.desired)
    assert up.ensure_cluster(prep, start, IMAGES, Said()) == (start, TARGET)


def test_a_missing_local_cluster_is_journaled_created_and_planned_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = StackState(tmp_path / "s")
    journaled: list[Any] = []

    def create(name: str, count: int, **kwargs: Any) -> None:
        journal = state.journal()
        journaled.append(journal.plan if journal else None)
        assert (name, count, kwargs["configure"]) == ("shop", 3, False)

    monkeypatch.setattr(up.substrate, "create_cluster", create)
    monkeypatch.setattr(up, "find_target", lambda stack: TARGET)
    missing = Target("shop", local=True, exists=False, node_count=3)
    guess = shop_plan()
    prep = prepared(state, guess, target=missing)
    said = Said()
    start, target = up.ensure_cluster(prep, up.Start(guess, None, resumed=2), IMAGES, said)
    assert journaled == [dump_plan(guess)]  # an interrupted create is finished by the next up
    assert target is TARGET
    assert start.created and start.before is None and start.stage == 0 and start.resumed == 2
    assert [n.address for n in start.desired.nodes] == [n.address for n in facts().nodes]
    assert said.lines[0] == "cluster: creating local cluster shop (3 nodes)"


def test_begin_claims_the_cluster_and_journals_the_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "home", lambda: tmp_path / "home")
    monkeypatch.setattr(up.Workspace, "for_target", classmethod(lambda cls, *a: FakeWorkspace()))
    old = shop_plan()
    new = shop_plan(old, image="busybox:2")
    state = StackState(tmp_path / "s")
    prep = prepared(state, new)
    with state.lock("test"):
        run = up.begin(prep, up.Start(new, old, stage=99, resumed=99), TARGET, IMAGES, Said())
    assert len(run.plans) == 5 and run.start.stage == 0  # a stage out of range starts over
    assert run.start.resumed == 99
    journal = state.journal()
    assert journal is not None
    assert (journal.plan, journal.previous, journal.stage) == (dump_plan(new), dump_plan(old), 0)
    claimed = ownership.owner("shop")
    assert claimed is not None and claimed["state"] == str(state.directory.resolve())


# -- one stage: drain, converge, wait for the new pods -----------------------------------


def test_nothing_to_drain_runs_nothing(tmp_path: Path) -> None:
    old = shop_plan()
    more = shop_plan(old, replicas=5)
    run = run_of(tmp_path, old, more)
    up.drain(run, old, more, "")
    assert run.workspace.events == []  # type: ignore[attr-defined]
    assert run.results == []


def test_drain_writes_the_drained_plan_and_waits_until_no_node_routes(
    tmp_path: Path,
) -> None:
    old = shop_plan(replicas=5)
    fewer = shop_plan(old, replicas=3)
    run = run_of(tmp_path, old, fewer)
    gone = {endpoint_key(p.namespace, p.name, p.ip) for p in old.pods} - {
        endpoint_key(p.namespace, p.name, p.ip) for p in fewer.pods
    }
    clock = Clock()
    polls: list[set[str]] = []

    def proxies(plan: Plan) -> dict[str, dict[str, Any] | None]:
        routed = gone if not polls else set()  # the first poll still routes them
        polls.append(routed)
        return {n.name: {"ready_endpoints": sorted(routed)} for n in plan.nodes}

    run._probe = Probe(access=None, proxies=proxies, clock=clock, sleep=clock.sleep)
    up.drain(run, old, fewer, "")
    [(book, written)] = run.workspace.events  # type: ignore[attr-defined]
    assert book == "stage.yml"
    assert written.pods == old.pods  # the pods still run ...
    routed = {endpoint_key(e.namespace, e.pod, e.ip) for s in written.services for e in s.endpoints}
    assert not routed & gone  # ... and no service routes to the two that go
    assert len(polls) == 2 and clock.slept[-1] == 1.0  # the settle after the last poll
    assert run.results[0][0] == "stage.yml"
    assert run.reporter.lines == ["converge: draining 2 endpoint(s)"]  # type: ignore[attr-defined]


def test_the_first_converge_of_a_run_is_site_yml_the_steps_after_it_stage_yml(
    tmp_path: Path,
) -> None:
    old = shop_plan()
    new = shop_plan(old, image="busybox:2")
    run = run_of(tmp_path, old, new)
    up.converge(run, run.plans[0], run.label(0))
    up.converge(run, run.plans[1], run.label(1))
    assert [name for name, _ in run.results] == ["site.yml", "stage.yml"]
    assert run.reporter.lines == [  # type: ignore[attr-defined]
        "converge: ansible-playbook site.yml step 1/5",
        "converge: ansible-playbook stage.yml step 2/5",
    ]


def test_commit_makes_the_plan_applied_and_says_what_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "home", lambda: tmp_path / "home")
    desired = shop_plan()
    run = run_of(tmp_path, None, desired)
    run.converge(desired, "site.yml")
    state = run.prep.state
    with state.lock("test"):
        state.begin(dump_plan(desired) or {}, "podplay up")
        result = up.commit(run)
    assert state.journal() is None and state.applied_plan() == dump_plan(desired)
    assert result.changed == 1 and result.stages == 1
    record = json.loads((state.directory / up.LAST_UP).read_text())
    assert record["playbooks"][0]["playbook"] == "site.yml"
    assert record["created_cluster"] is False and record["resumed_stage"] is None
    cluster_record = paths.home() / "clusters" / "shop" / "applied-plan.json"
    assert json.loads(cluster_record.read_text()) == dump_plan(desired)


# -- the waits destroy and drain use --------------------------------------------------------


def test_wait_no_pods_returns_once_the_agents_report_none() -> None:
    clock = Clock()
    answers = [[{"name": "web-a"}], [{"name": "web-a"}], []]
    probe = Probe(access=None, pods=lambda: (answers.pop(0), []), clock=clock, sleep=clock.sleep)
    said = Said()
    wait_no_pods(probe, said, timeout=60)
    assert answers == [] and len(clock.slept) == 2
    assert said.lines[0].startswith("waiting for 1 pod(s) to stop")


def test_wait_no_pods_gives_up_with_a_warning_naming_the_pods() -> None:
    clock = Clock()
    probe = Probe(
        access=None, pods=lambda: ([{"name": "web-b"}, {"name": "web-a"}], []), clock=clock,
        sleep=clock.sleep,
    )  # fmt: skip
    said = Said()
    wait_no_pods(probe, said, timeout=2)
    assert said.lines[-1] == "warning: pods still stopping after 2 s: web-a, web-b"


def test_a_drain_that_never_completes_warns_and_carries_on() -> None:
    plan = shop_plan()
    key = endpoint_key(plan.pods[0].namespace, plan.pods[0].name, plan.pods[0].ip)
    clock = Clock()
    stuck = {n.name: {"ready_endpoints": [key]} for n in plan.nodes}
    probe = Probe(access=None, proxies=lambda p: stuck, clock=clock, sleep=clock.sleep)
    said = Said()
    wait_drained(plan, [key], probe, said)
    assert said.lines[0].startswith("warning: routing still lists endpoints after 20 s")
    assert said.lines[0].endswith("removing the pods anyway")


# -- Recreate: old pods stopped before new ones start -----------------------------------------


# which steps wait for what: the rollout playbook (tests/unit/render/test_render_rollout.py)


def test_a_rollout_run_is_resumed_from_the_last_stage_whose_play_started() -> None:
    plays = [
        "Nodes",
        "Agent and pods",
        "rollout step 3/7: wait on every node",
        "rollout step 5/7: start default/web-2",
        "rollout step 4/7: stop default/web-1",
    ]
    assert up.stage_reached(plays, 2) == 4  # the nodes run stage 5's pods or stage 4's
    assert up.stage_reached(["Nodes", "Services"], 2) == 2  # still in site.yml
    assert up.stage_reached([], 0) == 0
