"""`rollout.yml`: every stage of a rolling update in one ansible-playbook run (pure).

`podplay up` converges a rollout's stages (`podplay.plan.rollout.stages`) with one run of
this playbook: first the run's first stage by site.yml (every role; the build directory's
variables are that stage's) or, when only the app part changed (`first=None`: images, pods,
services), by a stage like the others (images side-loaded first when they changed); the
stages are ONE play, a block per stage in order, each with its own `podplay_stage` (the pods
of the nodes whose pods change, the service table, what to drain first and what to wait
for) and only the tasks it needs: one play start and no skipped task per stage. The
tasks' arguments are expressions of the play's variables, written once and templated in
each task's context. A change of one stage only (a deploy, a scale, a removal) is such a
playbook too: its drain runs on the nodes, in the same run. Each node's part of a stage is
ONE `rollout_step` call (`podplay-node.pyz rollout step`): the binding table into the store
(every node writes the same table, a compare-and-swap write: the first changes the store,
the others find it done, a node whose write fails fails at once), its pods and
cluster.json, then its wait on its own agent and proxy; `any_errors_fatal` plus Ansible's
task-by-task order make the next stage wait for every node.

A rolling update overlaps as Kubernetes' RollingUpdate does (terminating pods do not count
toward max_surge): the stage that starts new pod k+1 also takes old pod k out of routing
(new pod k is ready and routed on every node since the stage before) and unbinds old pod
k-1 (drained everywhere in the stage before); each node waits, in the same call, until old
pod k is unrouted there plus the settle, and new pod k+1 ready and routed there. The last
old pod, with no new one left to start, drains at the end of each node's call of the stage
that starts the last new one (`then`, once that node routes it) and goes in the last stage
with the one before it. The rules that keep every request served, as `up` used to check
them from the controller:

- an endpoint leaves routing a stage before its pod is unbound, and every node waits until
  its proxy routes it no more (then a second for requests in flight); a pod unbound in the
  stage that unroutes it (a `Recreate`, a scale-down) is drained first: at the end of the
  stage before's call (`then`, once its own wait is over) or in a drain task of its own;
- after a stage starts pods, every node waits until the ones planned there are ready and
  every Ready node routes each of them, before the next stage takes an old one out of
  routing;
- a `Recreate` stage's old pods are no longer reported by any agent before new ones start.

The last stage's new pods are not waited for here: `up` waits for every deployment
afterwards (its progress and messages are the same for a rollout as for any apply).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from podplay.node.contract.proxy_status import endpoint_pod
from podplay.node.contract.rollout import TIMEOUT, PodRef, WaitSpec, pod_key
from podplay.plan import Plan, PodPlan
from podplay.plan.rollout import (
    drained,
    endpoint_key,
    leaving_endpoints,
    must_stop,
    new_pods,
    removed_endpoints,
    routed_pods,
    stage_words,
)
from podplay.render.playbook import COLLECTION
from podplay.render.variables import contract_service
from podplay.render.yamltext import Template, dump

ROLLOUT = "rollout.yml"


def rollout(
    before: Plan | None,
    plans: Sequence[Plan],
    *,
    first: str | None = "site.yml",
    images: bool = False,
    pods_on: Collection[str] = (),
    offset: int = 0,
    total: int | None = None,
    skipped: frozenset[str] = frozenset(),
    timeout: float = TIMEOUT,
) -> str:
    """The playbook converging the nodes from `before` through `plans` in order.

    `first` is the playbook that converges `plans[0]` (its variables are the build
    directory's); None: a stage block does, writing the pods of the nodes whose pods change
    and of `pods_on` (nodes whose files may differ from the plan: a failed run's), after
    side-loading the images when `images`. `offset`/`total` number the stages as the whole
    rollout does (a resumed rollout starts at a later stage); pods on `skipped` nodes (left
    out of the run) are not drained, their node already routes nothing to them."""
    total = total if total is not None else offset + len(plans)
    routing = tuple(n.name for n in plans[-1].ready_nodes() if n.name not in skipped)
    entries: list[dict[str, Any]] = []
    current = before
    write_also = set(pods_on)  # written by the first stage block there is
    last: dict[str, Any] | None = None  # the stage before: it may drain for this one
    for i, stage in enumerate(plans):
        label = f"rollout step {offset + i + 1}/{total}"
        gone = _gone(current, stage, skipped)
        drain = _drain(current, stage, gone, routing) if current and gone else None
        if drain is not None and last is not None:
            last["then"], drain = drain, None  # at the end of its nodes' call: a task fewer
        last = None
        last_one = i == len(plans) - 1
        wait = _wait(current, stage, routing, timeout, skipped=skipped, last=last_one)
        if i == 0 and first is not None:
            if drain:
                entries.append(_stage(f"{label}: drain before site", drain, None, None))
            entries.append({"name": f"{label}: every role (site)", _IMPORT: first})
            if wait is not None:
                entries.append(_stage(f"{label}: wait on every node", None, None, wait))
                last = entries[-1]
            current = stage
            continue
        was = current or _empty(stage)
        pods = _changed_pods(plans[0], was, stage)
        if i == 0 and len(plans) > 1 and _idle(was, stage, pods, drain, wait) and not images:
            current = stage  # nothing a node sees: the next stage writes the binding table
            continue
        for node in sorted(write_also - set(pods)):
            pods[node] = [p.manifest for p in _sorted_pods(stage) if p.node == node]
        write_also = set()
        apply = {"pods": pods, "services": _services(stage)}
        entries.append(_stage(_describe(label, was, stage), drain, apply, wait, images=images))
        images, current = False, stage
        last = entries[-1]
    plays = _plays(entries, plans[-1].cluster.name)
    return dump(plays, _header(plans[-1], first, total), literal=True)


def _idle(was: Plan, stage: Plan, pods: dict[str, Any], drain: Any, wait: Any) -> bool:
    """A stage that starts, stops and reroutes nothing (a rollout's first, when the
    replacements are all it does: only the store's node records differ, which the next
    stage's binding table carries)."""
    return not pods and drain is None and wait is None and _services(was) == _services(stage)


_IMPORT = "ansible.builtin.import_playbook"


def _header(plan: Plan, first: str | None, total: int) -> str:
    first_stage = f"{first} converges the first stage, then each" if first else "Each"
    return (
        f'A rolling update of cluster "{plan.cluster.name}" in {total} stages, in one\n'
        f"ansible-playbook run (written by podplay up). {first_stage} stage is a block of\n"
        "one play: one podplay.cluster.rollout_step call per node (binding table, pods and\n"
        "routing, then a wait on every node before the next stage: the old pods it takes\n"
        "out of routing drained while its new pods start). podplay up renders the final\n"
        "plan over the build directory when it is done; running this again after that\n"
        "would walk the stages again from its first."
    )


def _stage(
    name: str, drain: Any, apply: Any, wait: WaitSpec | None, *, images: bool = False
) -> dict[str, Any]:
    """One stage's data (the `podplay_stage` of its block); `then` may be added later."""
    stage = {
        "name": name,
        "drain": drain,
        "apply": apply,
        "wait": wait.to_json() if wait is not None else None,
    }
    if images:  # the build directory's podplay_images, side-loaded before anything else
        stage["images"] = True
    return stage


def _plays(entries: list[dict[str, Any]], cluster: str) -> list[dict[str, Any]]:
    """Imports as they are; each run of consecutive stages ONE play of blocks (one play
    start, no skipped task: a stage's block has only the tasks it needs)."""
    plays: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    for entry in [*entries, {}]:
        if _IMPORT in entry or not entry:
            if blocks:
                plays.append(_stage_play(blocks, cluster))
                blocks = []
            if entry:
                plays.append(entry)
            continue
        blocks.append(_stage_block(entry))
    return plays


def _stage_play(blocks: list[dict[str, Any]], cluster: str) -> dict[str, Any]:
    # not "rollout step K/N": `up` resumes from the last task so named that started
    return {
        "name": f'Rolling update of cluster "{cluster}": {len(blocks)} stage(s), in order',
        "hosts": "nodes",
        "gather_facts": False,
        "any_errors_fatal": True,
        "vars": _PLAY_VARS,
        "tasks": blocks,
    }


def _stage_block(stage: dict[str, Any]) -> dict[str, Any]:
    """A stage's tasks, in a block carrying its `podplay_stage`: images when they changed,
    the drain when it has one, then the step (table, pods, routing, wait, `then`)."""
    name, tasks = stage["name"], []
    if stage.get("images"):
        images = {"images": Template("{{ [podplay_pause_image] + podplay_images }}")}
        tasks.append({"name": f"{name} - images side-loaded", f"{COLLECTION}.images": images})
    if stage["drain"] is not None:
        drain = {**_NODE, "proxy": Template("{{ podplay_stage_drain }}")}
        drain["wait"] = Template("{{ podplay_stage.drain.wait }}")
        tasks.append({"name": f"{name} - drain first", STEP: {**drain, **_BUNDLE}})
    if stage["apply"] is not None or stage["wait"] is not None:
        step = dict(_NODE)
        if stage["apply"] is not None:
            step.update(_APPLY)
        if stage["wait"] is not None:
            step["wait"] = Template("{{ podplay_stage.wait }}")
        if stage.get("then") is not None:
            step["then"] = Template("{{ podplay_stage_then }}")
        tasks.append({"name": name, STEP: {**step, **_BUNDLE}})
    return {"name": name, "vars": {"podplay_stage": stage}, "block": tasks}


STEP = f"{COLLECTION}.rollout_step"
_NODE = {"node": Template("{{ inventory_hostname }}")}
_BUNDLE = {"bundle_path": Template("{{ podplay_node_bundle_path | default(omit) }}")}
_APPLY = {
    "table": Template("{{ podplay_stage_table }}"),
    "pods": Template("{{ podplay_stage_pods }}"),
    "proxy": Template("{{ podplay_stage_proxy }}"),
}


def _proxy(services: str) -> str:
    """`rollout_step`'s proxy argument: cluster.json with the services at `services`."""
    return (
        f"{{'state': podplay_stage_state | combine({{'services': {services}}}),"
        " 'node': inventory_hostname, 'address': podplay_node_address,"
        " 'lb': podplay_lb | default({})}"
    )


_STATE = ("nodes", "pod_cidr", "service_cidr", "dns_ip", "cluster_domain", "node_port_range")
# Templated in each task's context (its block's `podplay_stage`, its host): written once.
_PLAY_VARS = {
    "podplay_stage_state": {
        "cluster": Template("{{ podplay_cluster_name }}"),
        **{key: Template(f"{{{{ podplay_{key} }}}}") for key in _STATE},
    },
    # the binding table: every node's pods from its host_vars (the build directory's),
    # the stage's for the nodes whose pods change
    "podplay_stage_table": Template(
        "{{ {'cluster': podplay_cluster_name, 'node_grace': podplay_node_grace | default(3.0),"
        " 'nodes': podplay_node_specs | default(podplay_nodes),"
        " 'node_selectors': podplay_node_selectors | default({}),"
        " 'pods': dict(groups['nodes'] | zip(groups['nodes'] | map('extract', hostvars)"
        " | map(attribute='podplay_pods', default=[]))) | combine(podplay_stage.apply.pods)} }}"
    ),
    "podplay_stage_pods": Template(
        "{{ {'pods': podplay_stage.apply.pods[inventory_hostname]}"
        " if inventory_hostname in podplay_stage.apply.pods else omit }}"
    ),
    "podplay_stage_proxy": Template(f"{{{{ {_proxy('podplay_stage.apply.services')} }}}}"),
    "podplay_stage_drain": Template(f"{{{{ {_proxy('podplay_stage.drain.services')} }}}}"),
    "podplay_stage_then": Template(
        f"{{{{ {{'proxy': {_proxy('podplay_stage.then.services')},"
        " 'wait': podplay_stage.then.wait} }}"
    ),
}


def _gone(current: Plan | None, stage: Plan, skipped: frozenset[str]) -> list[str]:
    """Endpoints that serve now and are not in `stage` (those on skipped nodes left out)."""
    if current is None:
        return []
    lost = {(p.namespace, p.name) for p in current.pods if p.node in skipped}
    return [e for e in removed_endpoints(current, stage) if _pod_of(e) not in lost]


def _leaving(current: Plan, stage: Plan, skipped: frozenset[str]) -> list[str]:
    """Endpoints that serve now and that `stage` still runs, routed nowhere (those on
    skipped nodes left out)."""
    lost = {(p.namespace, p.name) for p in current.pods if p.node in skipped}
    return [e for e in leaving_endpoints(current, stage) if _pod_of(e) not in lost]


def _pod_of(endpoint: str) -> tuple[str, str]:
    return endpoint_pod(endpoint)


def _drain(current: Plan, stage: Plan, gone: list[str], routing: tuple[str, ...]) -> dict[str, Any]:
    """cluster.json without the endpoints about to go; every node waits until unrouted."""
    spec = WaitSpec(unrouted=tuple(gone), routing_nodes=routing)
    return {"services": _services(drained(current, stage)), "wait": spec.to_json()}


def _wait(
    current: Plan | None,
    stage: Plan,
    routing: tuple[str, ...],
    timeout: float,
    *,
    skipped: frozenset[str] = frozenset(),
    last: bool = False,
) -> WaitSpec | None:
    """Old pods that stay bound but leave routing here unrouted on every Ready node (then
    the settle), at the same time as the new pods start: ready where planned and routed on
    every Ready node; a Recreate's old pods stopped. On the `last` stage only the first
    (`up` waits for every deployment afterwards). Pods on `skipped` nodes are routed nowhere
    already. None when there is nothing to wait for."""
    created = new_pods(current, stage) if not last else set()
    behind = routed_pods(stage)
    pods = [p for p in stage.pods if (p.namespace, p.name) in created]
    stopping = must_stop(current, stage) if current is not None and not last else set()
    spec = WaitSpec(
        unrouted=tuple(_leaving(current, stage, skipped)) if current is not None else (),
        ready=tuple(PodRef(p.namespace, p.name, p.node, p.ip) for p in pods),
        routed=tuple(
            endpoint_key(p.namespace, p.name, p.ip) for p in pods if (p.namespace, p.name) in behind
        ),
        stopped=tuple(sorted(pod_key(ns, name) for ns, name in stopping)),
        routing_nodes=routing,
        timeout=timeout,
    )
    return None if spec.empty else spec


def _services(plan: Plan) -> list[dict[str, Any]]:
    """The service table as cluster.json carries it (group_vars' `podplay_services`)."""
    return [contract_service(s).to_json() for s in plan.services]


def _pods_by_node(plan: Plan) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {n.name: [] for n in plan.nodes}
    for p in plan.pods:
        out.setdefault(p.node, []).append(f"{p.namespace}/{p.name}")
    return {node: sorted(names) for node, names in out.items()}


def _changed_pods(base: Plan, current: Plan, stage: Plan) -> dict[str, list[dict[str, Any]]]:
    """The pods of each node whose pods differ from the build directory's (`base`, what
    the binding table starts from) or from the stage before (what the node runs now)."""
    want, was, now = _pods_by_node(stage), _pods_by_node(base), _pods_by_node(current)
    nodes = sorted(n for n in want if want[n] != was.get(n, []) or want[n] != now.get(n, []))
    by_node: dict[str, list[dict[str, Any]]] = {n: [] for n in nodes}
    for p in _sorted_pods(stage):
        if p.node in by_node:
            by_node[p.node].append(p.manifest)
    return by_node


def _sorted_pods(plan: Plan) -> list[PodPlan]:
    return sorted(plan.pods, key=lambda p: (p.namespace, p.name))


def _empty(plan: Plan) -> Plan:
    """`plan` without pods: what a node ran before its first pods (no `before` plan)."""
    return plan.model_copy(update={"pods": []})


def _describe(label: str, current: Plan, stage: Plan) -> str:
    """`rollout step 3/6: stop default/web-a1 (drained); drain default/web-a2 while starting
    default/web-b3` (what the stage changes)."""
    return f"{label}: {stage_words(current, stage) or 'pods and routing'}"
