"""`read_view` reads every kind of record at one revision: a view must never mix the
bindings of one moment with the leases of a later one (the controller may move a pod between
two reads)."""

from __future__ import annotations

from typing import Any

from podplay.control.cluster_store import StoreAccess, read_view
from podplay.node.contract.store import NodeLease
from podplay.node.store import keys
from podplay.node.store.wire import KeyValue, Range


class RecordingStore:
    """A store whose revision moves on with every read (others write meanwhile) and that
    answers a read at an older revision with what it held then."""

    endpoints: list[str] = []

    def __init__(self, held: dict[int, list[KeyValue]]) -> None:
        self.held = held
        self.now = max(held)
        self.asked: list[tuple[str, int]] = []

    def get_prefix(self, prefix: str, revision: int = 0) -> Range:
        self.asked.append((prefix, revision))
        at = revision or self.now
        self.now += 1  # a write lands between two reads
        self.held.setdefault(self.now, self.held[at])
        return Range([kv for kv in self.held[at] if kv.key.startswith(prefix)], at)


def lease_kv(node: str, revision: int) -> KeyValue:
    lease = NodeLease(node, "10.1.0.9", "boot", 1.0, "1")
    return KeyValue(keys.node_key("c", node), lease.to_text().encode(), revision, revision, 1)


def test_every_read_of_a_view_is_pinned_to_the_first_reads_revision() -> None:
    store = RecordingStore({5: [lease_kv("node1", 5)]})
    store.held[6] = [lease_kv("node1", 5), lease_kv("node2", 6)]  # written after the first read
    access: Any = StoreAccess("c", ["https://10.1.0.9:2379"], "/nonexistent")
    view = read_view(access, store)  # type: ignore[arg-type]
    assert [revision for _, revision in store.asked[1:]] == [5] * (len(store.asked) - 1)
    assert sorted(view.leases) == ["node1"]
