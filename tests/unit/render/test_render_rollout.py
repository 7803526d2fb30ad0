"""`rollout.yml`: a rolling update's stages as blocks of one play of one run, in the order
that keeps every request served (drain before a pod goes, wait for new pods before the next
stage)."""

from __future__ import annotations

from typing import Any

import yaml

import podplay as pp
from podplay.dsl import Stack
from podplay.node.contract.proxy_status import endpoint_pod
from podplay.node.contract.rollout import WaitSpec
from podplay.plan import ClusterFacts, NodeFacts, Plan, plan, stages
from podplay.plan.rollout import endpoint_key, removed_endpoints
from podplay.render import rollout
from podplay.render.variables import contract_service

IMPORT = "ansible.builtin.import_playbook"
STAGE = "a stage block"  # what `entries` says a stage is (instead of a playbook imported)
STEP = "podplay.cluster.rollout_step"
# what the stage tasks' arguments name besides the play's variables
OWN_VARS = {
    "inventory_hostname",
    "podplay_node_bundle_path",
    "[podplay_pause_image]",
    "podplay_stage.wait",
    "podplay_stage.drain.wait",
}


def facts() -> ClusterFacts:
    return ClusterFacts(
        nodes=[
            NodeFacts(name=f"node{i}", address=f"172.30.9.{10 + i}", pod_cidr=f"10.244.{i}.0/24")
            for i in (1, 2, 3)
        ]
    )


def app(image: str, *, recreate: bool = False, replicas: int = 3) -> Stack:
    with Stack(program="app.py") as stack:
        pp.Cluster("shop", nodes=3)
        web = pp.Deployment(
            "web",
            replicas=replicas,
            containers=[pp.Container("web", image=image, ports=[8080])],
            strategy=pp.Recreate() if recreate else pp.RollingUpdate(),
        )
        pp.Service("web", selector=web, ports=[pp.ServicePort(80, 8080)])
    return stack


def rolled(**kw: Any) -> tuple[Plan, list[Plan]]:
    before = plan(app("busybox:1", **kw), None, facts())
    after = plan(app("busybox:2", **kw), before, facts())
    return before, stages(before, after)


def routed_endpoints(p: Plan) -> set[str]:
    return {endpoint_key(e.namespace, e.pod, e.ip) for s in p.services for e in s.endpoints}


def pod_of(endpoint: str) -> str:
    return endpoint_pod(endpoint)[1]


def pods_of(p: Plan) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {n.name: [] for n in p.nodes}
    for pod in p.pods:
        out[pod.node].append(pod.name)
    return {n: sorted(names) for n, names in out.items()}


def entries(text: str) -> list[dict[str, Any]]:
    """The plays rollout.yml imports and, in order, each stage block of its stage plays
    (`{name, IMPORT: STAGE, vars: {podplay_stage}, block}`)."""
    out = []
    for play in yaml.safe_load(text):
        if IMPORT in play:
            out.append(play)
            continue
        assert play["hosts"] == "nodes" and play["any_errors_fatal"] is True
        assert play["gather_facts"] is False and not play["name"].startswith("rollout step")
        out += [{**block, IMPORT: STAGE} for block in play["tasks"]]
    return out


def test_a_rolling_update_is_site_then_one_block_per_stage_in_order() -> None:
    before, plans = rolled()
    plays = entries(rollout(before, plans))
    assert len(plans) == 5
    assert plays[0] == {"name": "rollout step 1/5: every role (site)", IMPORT: "site.yml"}
    assert [p[IMPORT] for p in plays[1:]] == [STAGE] * 4
    assert [p["name"].split(":")[0] for p in plays[1:]] == [
        f"rollout step {k}/5" for k in range(2, 6)
    ]
    table = pods_of(plans[0])  # the build directory's pods: where the binding table starts
    for i, play in enumerate(plays[1:], start=1):
        stage = play["vars"]["podplay_stage"]
        assert stage["name"] == play["name"]
        # the binding table and every node's pods are the stage's, nodes not named keep
        # the build directory's (or the previous stage's: they are the same there)
        now = {**table, **{n: sorted(m["name"] for m in ms) for n, ms in
                          stage["apply"]["pods"].items()}}  # fmt: skip
        assert now == pods_of(plans[i])
        assert stage["apply"]["services"] == [
            contract_service(s).to_json() for s in plans[i].services
        ]


def test_old_pods_leave_routing_everywhere_before_they_go() -> None:
    """An endpoint leaves routing either in the stage's own call, its pod still bound (the
    stage's wait drains it on every node, while new pods start) and unbound only by the
    next stage; or, its pod unbound in the same stage (a Recreate, a scale-down), first: in
    the stage before's call (`then`) or a drain task of the stage's own."""
    for kw in ({}, {"recreate": True}):
        before, plans = rolled(**kw)
        plays = entries(rollout(before, plans))
        stages = [play["vars"]["podplay_stage"] for play in plays[1:]]
        for i, stage in enumerate(stages, start=1):
            prev, now = plans[i - 1], plans[i]
            bound = {p.name for p in now.pods}
            leaving = {e for e in routed_endpoints(prev) - routed_endpoints(now)}
            stays = {e for e in leaving if pod_of(e) in bound}
            gone = leaving - stays
            assert gone == set(removed_endpoints(prev, now))
            waited = WaitSpec.from_json(stage["wait"]).unrouted if stage["wait"] else ()
            assert set(waited) == stays
            drain = stages[i - 2].get("then") if i > 1 else stage["drain"]
            assert stage["drain"] is None or i == 1
            if not gone:
                assert drain is None
                continue
            assert drain is not None and (i == 1 or stages[i - 2]["wait"] is not None)
            spec = WaitSpec.from_json(drain["wait"])
            assert set(spec.unrouted) == gone
            assert spec.routing_nodes == ("node1", "node2", "node3")
            routed = {endpoint_key(e["namespace"], e["pod"], e["ip"])
                      for s in drain["services"] for e in s["endpoints"]}  # fmt: skip
            assert not routed & gone  # drained, the others still served


def test_an_old_pod_drains_while_the_next_new_one_starts_and_goes_a_stage_later() -> None:
    """Kubernetes' RollingUpdate overlap (max_surge 1, max_unavailable 0): the stage that
    starts new pod k+1 also takes old pod k out of routing (new pod k serves everywhere
    since the stage before) and unbinds old pod k-1 (drained everywhere in the stage
    before); every node waits for both at once. The last old pod, with no new one left to
    start, drains at the end of each node's call of the stage that starts the last new one
    (`then`: once that node routes it), and goes with the one before it."""
    before, plans = rolled()
    plays = entries(rollout(before, plans, first=None))
    old = [p.name for p in sorted(before.pods, key=lambda p: p.serial)]
    new = [p.name for p in sorted(plans[-1].pods, key=lambda p: p.serial)]
    seen = []
    for play in plays:
        stage = play["vars"]["podplay_stage"]
        spec = WaitSpec.from_json(stage["wait"]) if stage["wait"] else WaitSpec()
        then = WaitSpec.from_json(stage["then"]["wait"]) if "then" in stage else WaitSpec()
        table = {m["name"] for ms in stage["apply"]["pods"].values() for m in ms}
        seen.append(
            (
                [p.name for p in spec.ready],
                [pod_of(e) for e in spec.unrouted],
                [pod_of(e) for e in then.unrouted],
            )
        )
        assert stage["drain"] is None
        assert table <= set(old) | set(new)
    assert seen == [
        ([new[0]], [], []),
        ([new[1]], [old[0]], []),
        ([new[2]], [old[1]], [old[2]]),
        ([], [], []),
    ]
    assert f"drain default/{old[0]} while starting default/{new[1]}" in plays[1]["name"]
    assert plays[2]["name"].split(": ")[1].startswith(f"stop default/{old[0]} (drained); ")
    last = f"stop default/{old[1]} (drained); drain and stop default/{old[2]}"
    assert plays[3]["name"].endswith(last)


def test_new_pods_are_waited_for_on_every_node_before_the_next_stage() -> None:
    before, plans = rolled()
    plays = entries(rollout(before, plans))
    for i, play in enumerate(plays[1:], start=1):
        stage = play["vars"]["podplay_stage"]
        created = {p.name for p in plans[i].pods} - {p.name for p in plans[i - 1].pods}
        if i == len(plans) - 1:
            assert stage["wait"] is None  # up waits for every deployment afterwards
        elif created:
            spec = WaitSpec.from_json(stage["wait"])
            assert {p.name for p in spec.ready} == created
            new = [p for p in plans[i].pods if p.name in created]
            assert set(spec.routed) == {endpoint_key(p.namespace, p.name, p.ip) for p in new}
            assert {p.node for p in spec.ready} == {p.node for p in new}
        else:  # only old pods leaving routing, drained on every node
            assert stage["wait"] is None or not WaitSpec.from_json(stage["wait"]).ready


def test_recreate_waits_for_every_old_pod_to_stop_before_the_new_ones_start() -> None:
    before, plans = rolled(recreate=True)
    plays = entries(rollout(before, plans))
    assert len(plays) == 3
    delete = plays[1]["vars"]["podplay_stage"]
    assert delete["drain"] is not None
    assert all(pods == [] for pods in delete["apply"]["pods"].values())
    old = sorted(f"default/{p.name}" for p in before.pods)
    assert sorted(WaitSpec.from_json(delete["wait"]).stopped) == old
    create = plays[2]["vars"]["podplay_stage"]
    assert create["drain"] is None and create["wait"] is None


def test_a_resumed_rollout_numbers_its_stages_as_the_whole_and_skips_lost_nodes() -> None:
    _, plans = rolled()
    text = rollout(plans[2], plans[3:], offset=3, total=5, skipped=frozenset({"node2"}))
    plays = entries(text)
    assert plays[0]["name"] == "rollout step 4/5: every role (site)"
    assert plays[-1]["name"].startswith("rollout step 5/5: ")
    for play in plays[1:]:
        stage = play["vars"]["podplay_stage"]
        for part in (stage["drain"] and stage["drain"]["wait"], stage["wait"]):
            if part:
                spec = WaitSpec.from_json(part)
                assert spec.routing_nodes == ("node1", "node3")
                lost = {p.name for p in plans[2].pods if p.node == "node2"}
                assert not {e.split("/")[1].split("@")[0] for e in spec.unrouted} & lost
    assert rollout(plans[2], plans[3:], offset=3, total=5, skipped=frozenset({"node2"})) == text


def test_when_only_the_app_changed_every_stage_is_a_stage_block_and_the_idle_first_goes() -> None:
    """No site.yml: the first stage (the same pods and routing as before) has no play, the
    nodes whose files may differ (`pods_on`) are written by the first play there is."""
    before, plans = rolled()
    plays = entries(rollout(before, plans, first=None, pods_on=["node3"]))
    assert [p[IMPORT] for p in plays] == [STAGE] * 4
    assert plays[0]["name"].startswith("rollout step 2/5: start ")
    first = plays[0]["vars"]["podplay_stage"]
    written = {n: sorted(m["name"] for m in ms) for n, ms in first["apply"]["pods"].items()}
    assert written["node3"] == pods_of(plans[1])["node3"]
    later = [p["vars"]["podplay_stage"] for p in plays[1:]]
    assert all("images" not in s for s in [first, *later])


def test_a_single_app_stage_drains_and_side_loads_in_its_one_block() -> None:
    """A scale-down (one stage): images first, then the drain on every node, then the pods."""
    before = plan(app("busybox:1", replicas=3), None, facts())
    after = plan(app("busybox:1", replicas=1), before, facts())
    plays = entries(rollout(before, [after], first=None, images=True))
    assert len(plays) == 1 and plays[0][IMPORT] == STAGE
    stage = plays[0]["vars"]["podplay_stage"]
    assert stage["images"] is True and stage["wait"] is None
    gone = set(WaitSpec.from_json(stage["drain"]["wait"]).unrouted)
    assert gone == set(removed_endpoints(before, after)) and len(gone) == 2
    written = {n: sorted(m["name"] for m in ms) for n, ms in stage["apply"]["pods"].items()}
    assert written == {n: pods_of(after)[n] for n in written} and len(written) == 2
    assert plays[0]["name"].startswith("rollout step 1/1: drain and stop ")


def test_the_stages_are_one_play_whose_blocks_hold_only_the_tasks_each_needs() -> None:
    """One play start and no skipped task: a stage's block has its images and drain tasks
    only when it side-loads or drains, its step the arguments it sets, all of them
    expressions of the play's variables (templated in each task's own context)."""
    before = plan(app("busybox:1", replicas=3), None, facts())
    scale_down = (before, [plan(app("busybox:1", replicas=1), before, facts())])
    drains = []
    for before, plans in (rolled(), rolled(recreate=True), scale_down):
        plays = yaml.safe_load(rollout(before, plans, first=None, images=True))
        assert len(plays) == 1
        play = plays[0]
        for block in play["tasks"]:
            stage = block["vars"]["podplay_stage"]
            tasks = block["block"]
            assert all("when" not in t and t["name"].startswith(block["name"]) for t in tasks)
            kinds = [next(k for k in t if k.startswith("podplay.cluster.")) for t in tasks]
            want = ["podplay.cluster.images"] if stage.get("images") else []
            want += [STEP] if stage["drain"] is not None else []
            assert kinds == [*want, STEP]
            args = tasks[-1][STEP]
            keys = {"node", "bundle_path", "table", "pods", "proxy"}
            keys |= {"wait"} if stage["wait"] is not None else set()
            keys |= {"then"} if stage.get("then") is not None else set()
            assert set(args) == keys
            used = {v.split()[1] for t, k in zip(tasks, kinds, strict=True) for v in t[k].values()}
            assert used - OWN_VARS <= set(play["vars"])
        assert [b["vars"]["podplay_stage"].get("images", False) for b in play["tasks"]] == [
            True
        ] + [False] * (len(play["tasks"]) - 1)
        drains += [b["vars"]["podplay_stage"]["drain"] is not None for b in play["tasks"]]
    assert any(drains) and not all(drains)


def test_the_stage_data_is_written_unsafe_and_the_play_expressions_are_not() -> None:
    """A manifest holding Jinja delimiters stays literal (`!unsafe`); the play's own
    expressions are meant to be templated."""
    before = plan(app("busybox:1"), None, facts())
    with Stack(program="app.py") as stack:
        pp.Cluster("shop", nodes=3)
        web = pp.Deployment(
            "web",
            replicas=3,
            containers=[
                pp.Container("web", image="busybox:2", ports=[8080], env={"X": "{{ lookup('x') }}"})
            ],
        )
        pp.Service("web", selector=web, ports=[pp.ServicePort(80, 8080)])
    text = rollout(before, stages(before, plan(stack, before, facts())), first=None)
    assert "!unsafe \"{{ lookup('x') }}\"" in text
    assert 'node: "{{ inventory_hostname }}"' in text and '!unsafe "{{ inventory' not in text
