"""The binding table Ansible writes (`store apply-table`): the plan's bindings and node specs
put where they differ, the past deleted, the table last; a pod the controller moved is kept
when the template is the same; a second apply changes nothing; check mode writes nothing."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator

import pytest
from store_builders import CLUSTER, Etcd, binding, desired, pod, put_binding

from podplay.node.contract.errors import ContractError
from podplay.node.contract.store import Binding, NodeSpec, Table
from podplay.node.store import keys
from podplay.node.store import table as tb
from podplay.node.store.wire import KeyValue


@pytest.fixture
def etcd() -> Iterator[Etcd]:
    cluster = Etcd()
    yield cluster
    cluster.stop()


def kv(key: str, text: str, rev: int = 5) -> KeyValue:
    return KeyValue(key, text.encode(), rev, rev, 1)


def stored_of(*records: object) -> dict[str, KeyValue]:
    out = {}
    for r in records:
        if isinstance(r, Binding):
            key = keys.binding_key(CLUSTER, r.namespace, r.name)
        elif isinstance(r, NodeSpec):
            key = keys.nodespec_key(CLUSTER, r.name)
        else:
            key = keys.table_key(CLUSTER)
        out[key] = kv(key, r.to_text())  # type: ignore[attr-defined]
    return out


TWO_PODS = {"node1": [pod("web-a", "10.244.1.2")], "node2": [pod("web-b", "10.244.2.2")]}


def test_the_desired_table_reads_pods_by_node_with_their_deployment_and_requests() -> None:
    selectors = {"default/web": {"disk": "ssd"}}
    want = tb.parse_desired(desired(TWO_PODS, selectors=selectors))
    bound = {b.name: b for b in want.bindings.values()}
    assert (bound["web-a"].node, bound["web-a"].ip) == ("node1", "10.244.1.2")
    assert bound["web-b"].deployment == "web" and bound["web-b"].template_hash == "t1"
    assert bound["web-b"].node_selector == {"disk": "ssd"}
    assert bound["web-b"].requests.cpu_millis == 100 and bound["web-b"].placed_by == "plan"
    assert sorted(s.name for s in want.nodes.values()) == ["node1", "node2", "node3"]
    assert want.sha == tb.parse_desired(desired(TWO_PODS, selectors=selectors)).sha


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"node_grace": 0}, "desired table: node_grace: expected a number > 0, got 0"),
        ({"cluster": ""}, "desired table: cluster: expected a non-empty string"),
        ({"pods": {"node1": [{"name": "x"}]}}, "desired table: pods.node1[0]"),
        ({"pods": {"node1": [pod("a", "10.244.1.2")], "node2": [pod("a", "10.244.2.2")]}},
         "pod default/a is bound twice"),
        ({"nodes": [{"name": "node1"}]},
         "desired table: nodes[0].address: missing (a string is required)"),
        ({"colour": 1}, "desired table: colour: unknown field"),
        ({"node_selectors": {"default/web": {"a": 1}}, "pods": TWO_PODS},
         "node selector must map strings"),
    ],
)  # fmt: skip
def test_a_bad_desired_table_names_the_field(change: dict, words: str) -> None:
    with pytest.raises(ContractError) as err:
        tb.parse_desired({**desired({}), **change})
    assert words in str(err.value)


def test_first_write_puts_every_spec_and_binding_then_the_table() -> None:
    plan = tb.changes(tb.parse_desired(desired(TWO_PODS)), {})
    assert [c.key.split("/", 3)[3] for c in plan.changes] == [
        "nodespecs/node1", "nodespecs/node2", "nodespecs/node3",
        "bindings/default/web-a", "bindings/default/web-b",
    ]  # fmt: skip
    assert plan.table is not None and plan.table.generation == 1 and plan.table.node_grace == 3.0


def test_nothing_differs_nothing_is_written() -> None:
    want = tb.parse_desired(desired(TWO_PODS))
    table = Table(4, want.sha, 3.0, 1.0)
    stored = stored_of(*want.nodes.values(), *want.bindings.values(), table)
    plan = tb.changes(want, stored)
    assert plan.changes == [] and plan.table is None


def test_a_pod_the_controller_moved_is_kept_for_the_same_template_only() -> None:
    plan_binding = binding(2, "web-b", 2)
    moved = plan_binding.moved_to("node3", "10.244.3.9", 100.0, "node node2 NotReady for 3.0s")
    want = tb.parse_desired(desired(TWO_PODS))
    plan = tb.changes(want, stored_of(moved))
    assert plan.kept == ["default/web-b"]
    assert keys.binding_key(CLUSTER, "default", "web-b") not in [c.key for c in plan.changes]
    newer = {"node1": TWO_PODS["node1"], "node2": [pod("web-b", "10.244.2.2", template="t2")]}
    replaced = tb.changes(tb.parse_desired(desired(newer)), stored_of(moved))
    assert replaced.kept == []
    assert keys.binding_key(CLUSTER, "default", "web-b") in [c.key for c in replaced.changes]


def test_bindings_and_nodes_no_longer_planned_are_deleted_and_the_generation_grows() -> None:
    gone = binding(3, "web-old", 4)
    want = tb.parse_desired(desired(TWO_PODS, nodes=2))
    stored = stored_of(*want.nodes.values(), *want.bindings.values(), gone, Table(7, "x", 3.0, 1))
    old_node = NodeSpec("node3", "a", "10.244.3.0/24", {}, None, None, 110, None, False)
    stored.update(stored_of(old_node))
    plan = tb.changes(want, stored)
    deleted = [c.key for c in plan.changes if c.text is None]
    assert deleted == [
        keys.binding_key(CLUSTER, "default", "web-old"),
        keys.nodespec_key(CLUSTER, "node3"),
    ]
    assert plan.table is not None and plan.table.generation == 8


def test_apply_twice_then_check_mode_against_the_store(etcd: Etcd) -> None:
    store = etcd.client()
    doc = desired(TWO_PODS)
    check = tb.apply_table(store, doc, check=True, diff=True)
    assert check["changed"] and store.get_prefix(keys.cluster_prefix(CLUSTER)).kvs == []
    first = tb.apply_table(store, doc, check=False, diff=True)
    assert first["changed"] and first["generation"] == 1 and first["bindings"] == 2
    assert "pod default/web-a on node1 10.244.1.2 (plan)" in first["diff"][0]["after"]
    table = store.get(keys.table_key(CLUSTER))
    assert table is not None and Table.from_bytes(table.value, "t").generation == 1
    again = tb.apply_table(store, doc, check=False, diff=True)
    assert not again["changed"] and again["generation"] == 1 and "diff" not in again
    assert not tb.apply_table(store, doc, check=True, diff=False)["changed"]


def test_the_table_goes_last_so_a_reader_never_trusts_half_a_table(etcd: Etcd) -> None:
    store = etcd.client()
    tb.apply_table(store, desired(TWO_PODS), check=False, diff=False)
    history = [e["kv"]["key"] for e in etcd.data.history]
    from podplay.node.store.wire import unb64

    written = [unb64(k).decode() for k in history]
    assert written[-1] == keys.table_key(CLUSTER)


def test_a_moved_pod_survives_a_stale_apply_and_is_reported_kept(etcd: Etcd) -> None:
    store = etcd.client()
    tb.apply_table(store, desired(TWO_PODS), check=False, diff=False)
    before = store.get(keys.binding_key(CLUSTER, "default", "web-b"))
    assert before is not None
    moved = Binding.from_bytes(before.value, "b").moved_to("node3", "10.244.3.7", 5.0, "dead")
    put_binding(store, moved)
    again = tb.apply_table(store, desired(TWO_PODS), check=False, diff=False)
    assert again["kept"] == ["default/web-b"] and not again["changed"]
    now = store.get(keys.binding_key(CLUSTER, "default", "web-b"))
    assert now is not None and Binding.from_bytes(now.value, "b").node == "node3"


def test_the_cli_prints_the_result_and_fails_with_one_sentence(
    etcd: Etcd, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    from podplay.node.store import cli

    config = tmp_path / "store.json"
    members = [{"name": f"node{i}", "endpoint": m.endpoint} for i, m in enumerate(etcd.members, 1)]
    config.write_text(json.dumps({"cluster": CLUSTER, "node": "node1", "members": members,
                                  "ca": None, "cert": None, "key": None}))  # fmt: skip

    def run(doc: object, *flags: str) -> tuple[int, dict]:
        stdin = io.TextIOWrapper(io.BytesIO(json.dumps(doc).encode()))
        monkeypatch.setattr(sys, "stdin", stdin)
        rc = cli.main(["--config", str(config), "apply-table", "--desired", "-", *flags])
        return rc, json.loads(capsys.readouterr().out)

    rc, out = run(desired(TWO_PODS))
    assert rc == 0 and out["changed"] and out["generation"] == 1
    rc, out = run({**desired(TWO_PODS), "node_grace": -1})
    assert rc == 1 and out["failed"] and "node_grace" in out["msg"]


def test_clear_removes_the_table_first_and_keeps_leases_and_the_leader(etcd: Etcd) -> None:
    store = etcd.client()
    tb.apply_table(store, desired(TWO_PODS), check=False, diff=False)
    lease_key, leader = keys.node_key(CLUSTER, "node1"), keys.leader_key(CLUSTER)
    store.put(lease_key, "{}")
    store.put(leader, "{}")
    check = tb.clear_table(store, CLUSTER, check=True)
    assert check["changed"] and keys.table_key(CLUSTER) in check["deleted"]
    assert store.get(keys.table_key(CLUSTER)) is not None  # check mode deletes nothing
    start = len(etcd.data.history)
    done = tb.clear_table(store, CLUSTER, check=False)
    assert done["deleted"] == check["deleted"] and len(done["deleted"]) == 6  # table, 2 + 3
    left = {kv.key for kv in store.get_prefix(keys.cluster_prefix(CLUSTER)).kvs}
    assert left == {lease_key, leader}
    from podplay.node.store.wire import unb64

    first_deleted = unb64(etcd.data.history[start]["kv"]["key"]).decode()
    assert first_deleted == keys.table_key(CLUSTER)
    assert tb.clear_table(store, CLUSTER, check=False) == {"changed": False, "deleted": []}


def test_an_up_after_a_move_finds_the_store_as_it_should_be() -> None:
    """The refreshed plan binds the moved pod where the controller put it, as the plan's
    own binding: it is kept, and with nothing else to write the table stays as it is."""
    want = tb.parse_desired(desired(TWO_PODS))
    moved = binding(2, "web-b", 2).moved_to("node3", "10.244.3.9", 100.0, "node2 NotReady")
    stored = stored_of(
        *want.nodes.values(),
        want.bindings[keys.binding_key(CLUSTER, "default", "web-a")],
        moved,
        Table(4, "sha-before-the-move", 3.0, 1),
    )
    refreshed = {"node1": TWO_PODS["node1"], "node3": [pod("web-b", "10.244.3.9")]}
    plan = tb.changes(tb.parse_desired(desired(refreshed)), stored)
    assert plan.kept == ["default/web-b"] and plan.changes == [] and plan.table is None


def test_a_rollout_step_writes_the_table_as_apply_table_does(
    etcd: Etcd, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """Every node's `rollout step` call of a stage writes the binding table first; a write
    that fails fails the step at once, before its wait looks at anything."""
    from podplay.node.files.changes import ApplyError
    from podplay.node.rollout import cli
    from podplay.node.rollout.wait import Look

    store = etcd.client()
    monkeypatch.setattr(cli.StoreConfig, "load", staticmethod(lambda: object()))
    monkeypatch.setattr(cli.Store, "from_config", staticmethod(lambda cfg: store))
    look = Look(pods=lambda: ([], ""), proxy=dict, clock=lambda: 0.0, sleep=lambda s: None)
    step = {"node": "node1", "table": desired(TWO_PODS)}
    checked = cli.step(step, check=True, diff=False, look=look)
    assert checked["changed"] and checked["table"]["bindings"] == 2
    assert store.get(keys.table_key(CLUSTER)) is None  # check mode writes nothing
    done = cli.step(step, check=False, diff=False, look=look)
    assert done["changed"] and store.get(keys.table_key(CLUSTER)) is not None
    assert not cli.step(step, check=False, diff=False, look=look)["changed"]

    def no_config() -> object:
        raise cli.ContractError("/etc/podplay/store.json: missing")

    monkeypatch.setattr(cli.StoreConfig, "load", staticmethod(no_config))
    looked: list[str] = []
    watched = Look(pods=lambda: (looked.append("agent"), ([], ""))[1], proxy=dict,
                   clock=lambda: 0.0, sleep=lambda s: None)  # fmt: skip
    ready = [{"namespace": "default", "name": "web-a", "node": "node1", "ip": "10.244.1.2"}]
    with pytest.raises(ApplyError, match=r"the binding table: /etc/podplay/store\.json"):
        cli.step({**step, "wait": {"ready": ready}}, check=False, diff=False, look=watched)
    assert looked == []


class Interleaved:
    """A store whose `txn` number `at` first runs `meanwhile` (another writer's whole
    apply): the interleavings of identical writers at once, made deterministic."""

    def __init__(self, store: object, at: int, meanwhile: object) -> None:
        self.store, self.at, self.meanwhile, self.calls = store, at, meanwhile, 0

    def txn(self, compare: list, ops: list) -> object:
        self.calls += 1
        if self.calls == self.at:
            self.meanwhile()  # type: ignore[operator]
        return self.store.txn(compare, ops)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def many_pods(count: int) -> dict[str, list[dict]]:
    return {"node1": [pod(f"web-{i}", f"10.244.1.{i + 2}") for i in range(count)]}


def table_puts(etcd: Etcd, start: int = 0) -> list[dict]:
    from podplay.node.store.wire import unb64

    table = keys.table_key(CLUSTER)
    return [e for e in etcd.data.history[start:] if unb64(e["kv"]["key"]).decode() == table]


def generation(store: object) -> int:
    kv = store.get(keys.table_key(CLUSTER))  # type: ignore[attr-defined]
    return Table.from_bytes(kv.value, "t").generation


def test_identical_writers_at_once_converge_and_only_the_one_that_wrote_says_changed(
    etcd: Etcd,
) -> None:
    """Every node of a rollout stage writes the same table: one read goes stale under the
    other's whole write; it reads again, finds the store done, writes nothing, changed=false,
    and the table's generation moves once."""
    store = etcd.client()
    tb.apply_table(store, desired(TWO_PODS), check=False, diff=False)
    doc = desired({"node1": [pod("web-a", "10.244.1.2"), pod("web-c", "10.244.1.3")]})
    other: dict = {}
    late = Interleaved(store, 2, lambda: other.update(tb.apply_table(store, doc, False, False)))
    mine = tb.apply_table(late, doc, check=False, diff=False)  # type: ignore[arg-type]
    assert other["changed"] and other["generation"] == 2
    assert not mine["changed"] and mine["generation"] == 2
    assert generation(store) == 2
    assert not tb.apply_table(store, doc, check=False, diff=False)["changed"]


def test_writers_that_each_wrote_a_part_both_say_changed_and_the_table_is_put_once(
    etcd: Etcd,
) -> None:
    """More than one batch: the first writer's second batch finds the other writer done
    (it read after the first batch); both wrote, both say so, one put the table, last."""
    store = etcd.client()
    tb.apply_table(store, desired(TWO_PODS), check=False, diff=False)
    doc = desired(many_pods(tb.BATCH + 10))
    other: dict = {}
    slow = Interleaved(store, 3, lambda: other.update(tb.apply_table(store, doc, False, False)))
    mine = tb.apply_table(slow, doc, check=False, diff=False)  # type: ignore[arg-type]
    assert mine["changed"] and other["changed"]
    assert generation(store) == 2
    assert len(table_puts(etcd)) == 2  # the first apply's and this round's one
    bound = store.get_prefix(keys.bindings_prefix(CLUSTER)).kvs
    assert sorted(kv.key for kv in bound) == sorted(tb.parse_desired(doc).bindings)
    assert not tb.apply_table(store, doc, check=False, diff=False)["changed"]


def test_a_table_put_by_another_writer_meanwhile_is_not_put_again(etcd: Etcd) -> None:
    """Only the table to write (the bindings are there, the table is not): the writer whose
    table compare fails reads again and finds it written; one put, one `changed`."""
    store = etcd.client()
    doc = desired(TWO_PODS)
    tb.apply_table(store, doc, check=False, diff=False)
    store.delete(keys.table_key(CLUSTER))
    start = len(etcd.data.history)
    other: dict = {}
    late = Interleaved(store, 2, lambda: other.update(tb.apply_table(store, doc, False, False)))
    mine = tb.apply_table(late, doc, check=False, diff=False)  # type: ignore[arg-type]
    assert other["changed"] and not mine["changed"] and generation(store) == 1
    assert len(table_puts(etcd, start)) == 1
