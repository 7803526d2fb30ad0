"""The store client against a fake etcd gateway: encoding, members tried in turn, txn
building, leases, and watches that resume after the last revision they delivered."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fake_etcd import FakeMember, FakeStore

from podplay.node.store import Compacted, Store, StoreError, Unavailable, wire


@pytest.fixture
def members() -> Iterator[list[FakeMember]]:
    store = FakeStore()
    started = [FakeMember(store, f"m{i}").start() for i in (1, 2, 3)]
    yield started
    for member in started:
        member.stop()


def client(members: list[FakeMember], **kwargs: float) -> Store:
    return Store([m.endpoint for m in members], timeout=2.0, connect_timeout=0.5, **kwargs)


def paths(store: FakeStore) -> list[tuple[str, str]]:
    return [(member, path) for member, path, _ in store.requests]


def test_put_get_and_prefix_round_trip_keys_and_values(members: list[FakeMember]) -> None:
    s = client(members)
    rev = s.put("/podplay/c/nodes/node1", '{"ready": true}')
    s.put("/podplay/c/nodes/node2", b"\xff\x00binary")
    s.put("/podplay/c/leader", "node1")
    kv = s.get("/podplay/c/nodes/node1")
    assert kv is not None and kv.json() == {"ready": True}
    assert (kv.create_revision, kv.mod_revision, kv.version) == (rev, rev, 1)
    found = s.get_prefix("/podplay/c/nodes/")
    assert [k.key for k in found.kvs] == ["/podplay/c/nodes/node1", "/podplay/c/nodes/node2"]
    assert found.kvs[1].value == b"\xff\x00binary"
    assert found.revision == rev + 2
    assert s.get("/podplay/c/nodes/node3") is None
    assert s.get_prefix("/podplay/other/").kvs == []
    body = members[0].store.requests[0][2]
    assert body["key"] == wire.b64("/podplay/c/nodes/node1")  # base64 on the wire


def test_delete_one_key_or_a_prefix(members: list[FakeMember]) -> None:
    s = client(members)
    for name in ("a", "b", "c"):
        s.put(f"/p/{name}", name)
    assert s.delete("/p/a") == 1
    assert s.delete("/p/a") == 0  # "deleted" left out when zero
    assert s.delete("/p/", prefix=True) == 2
    assert s.get_prefix("/p/").kvs == []


def test_a_stopped_member_is_skipped_and_the_one_that_answered_is_tried_first(
    members: list[FakeMember],
) -> None:
    s = client(members)
    members[0].stop()
    s.put("/k", "v")
    s.get("/k")
    assert paths(members[1].store) == [("m2", "/v3/kv/put"), ("m2", "/v3/kv/range")]


def test_a_member_without_leader_is_skipped(members: list[FakeMember]) -> None:
    members[0].unavailable = True
    s = client(members)
    s.put("/k", "v")
    assert paths(members[0].store) == [("m1", "/v3/kv/put"), ("m2", "/v3/kv/put")]


def test_no_member_answering_raises_unavailable_naming_each(members: list[FakeMember]) -> None:
    for m in members:
        m.unavailable = True
    with pytest.raises(Unavailable) as err:
        client(members).get("/k")
    assert all(m.endpoint in str(err.value) for m in members)
    assert "no leader" in str(err.value)


def test_an_answer_that_says_no_is_not_retried_elsewhere(members: list[FakeMember]) -> None:
    s = client(members)
    s.lease_revoke(424242)  # unknown lease: no error, once
    assert paths(members[0].store) == [("m1", "/v3/lease/revoke")]


def test_create_only_if_absent_and_update_only_if_unchanged(members: list[FakeMember]) -> None:
    s = client(members)
    assert s.create("/podplay/c/bindings/default/web-1", "node2") is True
    assert s.create("/podplay/c/bindings/default/web-1", "node3") is False
    kv = s.get("/podplay/c/bindings/default/web-1")
    assert kv is not None and kv.text == "node2"
    assert s.update(kv.key, "node3", kv.mod_revision) is True
    assert s.update(kv.key, "node1", kv.mod_revision) is False  # someone wrote since
    now = s.get(kv.key)
    assert now is not None and now.text == "node3"
    assert s.delete_if(kv.key, kv.mod_revision) is False
    assert s.delete_if(kv.key, now.mod_revision) is True
    assert s.get(kv.key) is None


def test_txn_is_built_as_the_gateway_expects() -> None:
    body = wire.txn_request(
        [wire.compare_created("/k", 0), wire.compare_mod_revision("/j", 7)],
        [wire.op_put("/k", "v", lease=12), wire.op_delete("/p/", prefix=True)],
        [wire.op_get("/k")],
    )
    assert body == {
        "compare": [
            {"key": "L2s=", "target": "CREATE", "result": "EQUAL", "create_revision": 0},
            {"key": "L2o=", "target": "MOD", "result": "EQUAL", "mod_revision": 7},
        ],
        "success": [
            {"request_put": {"key": "L2s=", "value": "dg==", "lease": "12"}},
            {"request_delete_range": {"key": "L3Av", "range_end": "L3Aw"}},
        ],
        "failure": [{"request_range": {"key": "L2s="}}],
    }


def test_txn_failure_branch_reads(members: list[FakeMember]) -> None:
    s = client(members)
    s.put("/k", "first")
    result = s.txn([wire.compare_created("/k", 0)], [wire.op_put("/k", "x")], [wire.op_get("/k")])
    assert result.succeeded is False
    assert [kv.text for r in result.ranges() for kv in r.kvs] == ["first"]


def test_leases_grant_keepalive_revoke(members: list[FakeMember]) -> None:
    s = client(members)
    lease = s.lease_grant(1)
    assert lease.ttl == 2  # the store raised it to its minimum
    s.put("/podplay/c/nodes/node1", "{}", lease=lease.id)
    assert s.get("/podplay/c/nodes/node1").lease == lease.id  # type: ignore[union-attr]
    assert s.lease_keepalive(lease.id) == 2
    assert s.lease_ttl(lease.id) == 2
    s.lease_revoke(lease.id)
    assert s.get("/podplay/c/nodes/node1") is None
    assert s.lease_keepalive(lease.id) == 0  # expired or unknown: TTL left out
    assert s.lease_ttl(lease.id) == -1


def test_prefix_end_follows_etcd() -> None:
    assert wire.prefix_end("/a/") == b"/a0"
    assert wire.prefix_end(b"a\xff") == b"b"
    assert wire.prefix_end(b"\xff\xff") == b"\0"
    assert wire.prefix_end("") == b"\0"


def _collect(s: Store, prefix: str, start: int, count: int) -> list[tuple[str, str, int]]:
    stop = threading.Event()
    seen: list[tuple[str, str, int]] = []

    def run() -> None:
        for event in s.watch_prefix(prefix, start_revision=start, stop=stop):
            seen.append((event.type, event.kv.key, event.revision))
            if len(seen) >= count:
                stop.set()
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    stop.set()
    return seen


def test_watch_from_a_revision_sees_puts_and_deletes_once(members: list[FakeMember]) -> None:
    s = client(members)
    first = s.put("/w/a", "1")
    s.put("/other", "x")
    s.put("/w/b", "2")
    s.delete("/w/a")
    assert _collect(s, "/w/", first, 3) == [
        ("PUT", "/w/a", first),
        ("PUT", "/w/b", first + 2),
        ("DELETE", "/w/a", first + 3),
    ]


def test_watch_resumes_after_the_last_revision_when_streams_end(
    members: list[FakeMember],
) -> None:
    """Each stream ends after one event: the client reconnects (to the next member) asking
    for the revision after the one it delivered, so nothing is missed or repeated."""
    s = client(members)
    members[0].store.watch_close_after = 1
    revs = [s.put(f"/w/{i}", str(i)) for i in range(4)]
    seen = _collect(s, "/w/", revs[0], 4)
    assert [r for _, _, r in seen] == revs
    starts = [
        (member, body["create_request"].get("start_revision"))
        for member, path, body in members[0].store.requests
        if path == "/v3/watch"
    ]
    assert [rev for _, rev in starts[:4]] == revs
    assert len({member for member, _ in starts}) > 1  # it moved on to other members


def test_watch_from_now_survives_a_member_stopping(members: list[FakeMember]) -> None:
    s = client(members)
    stop = threading.Event()
    seen: list[str] = []

    def run() -> None:
        for event in s.watch_prefix("/w/", stop=stop):
            seen.append(event.kv.text)

    threading.Thread(target=run, daemon=True).start()
    deadline = time.monotonic() + 5
    while not any(p == "/v3/watch" for _, p in paths(members[0].store)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    s.put("/w/1", "before")
    _wait(lambda: seen == ["before"])
    members[0].stop()  # the member the watch is on
    s.put("/w/2", "after")
    _wait(lambda: seen == ["before", "after"])
    stop.set()


def test_watch_of_compacted_revisions_raises(members: list[FakeMember]) -> None:
    s = client(members)
    members[0].store.compacted = 5
    with pytest.raises(Compacted) as err:
        next(iter(s.watch_prefix("/w/", start_revision=3)))
    assert err.value.compact_revision == 5


def test_a_refused_request_raises_the_store_message_and_is_not_repeated(
    members: list[FakeMember],
) -> None:
    with pytest.raises(StoreError, match="/v3/kv/txn: bad request: NOPE") as err:
        client(members).call("/v3/kv/txn", {"compare": [{"key": "", "target": "NOPE"}]})
    assert not isinstance(err.value, Unavailable)
    assert err.value.code == 3
    assert paths(members[0].store) == [("m1", "/v3/kv/txn")]


def _wait(probe, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
