"""The store's values are one contract: every record reads what it writes, strictly."""

from __future__ import annotations

import pytest

from podplay.node.contract.errors import ContractError
from podplay.node.contract.store import (
    Binding,
    Cursor,
    Event,
    Leader,
    NodeLease,
    NodeSpec,
    NodeStatus,
    Requests,
    Table,
)
from podplay.node.store import keys

MANIFEST = {"name": "web-1", "namespace": "default", "ip": "10.244.2.5", "containers": []}

RECORDS = [
    NodeLease("node1", "172.30.0.11", "boot-1", 1700000000.5, "0.1.0"),
    Leader("node2", 1700000001.0, 4242),
    Binding(
        "default",
        "web-1",
        "node2",
        "10.244.2.5",
        "web",
        "abc123",
        {"disk": "ssd"},
        Requests(250, 64 << 20),
        MANIFEST,
        "controller",
        "node3",
        1700000002.0,
        "NodeNotReady",
    ),
    Binding(
        "default",
        "web-1",
        "node2",
        "10.244.2.5",
        "web",
        "abc123",
        {},
        Requests(),
        MANIFEST,
        "plan",
        None,
        None,
        None,
    ),
    NodeSpec(
        "node1",
        "172.30.0.11",
        "10.244.1.0/24",
        {"zone": "a"},
        None,
        2 << 30,
        110,
        "10.244.1.7",
        True,
    ),
    Cursor("10.244.1.9", "10.244.1.7"),
    Table(7, "sha", 3.0, 1700000003.0),
    NodeStatus("node3", False, 1700000004.0, "NodeLeaseExpired", "no heartbeat for 3 s"),
    Event(
        1700000005.0,
        "Normal",
        "Rescheduled",
        "from node3 to node2",
        "Pod",
        "default",
        "web-1",
        "node2",
        "controller",
    ),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_every_record_reads_back_what_it_writes(record) -> None:
    again = type(record).from_bytes(record.to_text().encode(), "x")
    assert again == record
    assert again.to_text() == record.to_text()


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_a_field_renamed_on_one_side_only_is_refused(record) -> None:
    doc = record.to_json()
    first = next(iter(doc))
    doc["x_" + first] = doc.pop(first)
    with pytest.raises(ContractError, match=r"x_\w+: unknown field"):
        type(record).from_json(doc)


def test_a_binding_and_its_manifest_agree_on_name_and_ip() -> None:
    doc = RECORDS[2].to_json()
    doc["ip"] = "10.244.2.6"
    with pytest.raises(ContractError, match="manifest's name and ip"):
        Binding.from_json(doc)


@pytest.mark.parametrize(
    ("record", "field", "value", "message"),
    [
        (
            RECORDS[2],
            "placed_by",
            "someone",
            "placed_by: expected one of plan, controller, got 'someone'",
        ),
        (RECORDS[6], "node_grace", 0, "node_grace: expected a number > 0, got 0"),
        (RECORDS[8], "type", "Info", "type: expected one of Normal, Warning, got 'Info'"),
        (RECORDS[7], "ready", "yes", "ready: expected true or false, got 'yes'"),
        (RECORDS[4], "max_pods", True, "max_pods: expected an integer, got True"),
    ],
)
def test_bad_values_name_the_field(record, field, value, message) -> None:
    doc = record.to_json()
    doc[field] = value
    with pytest.raises(ContractError, match=message):
        type(record).from_json(doc)


def test_per_node_keys_parse_back() -> None:
    for build, kind in [
        (keys.node_key, keys.NODES),
        (keys.nodespec_key, keys.NODESPECS),
        (keys.cursor_key, keys.CURSORS),
        (keys.status_key, keys.STATUS),
    ]:
        key = build("shop", "node2")
        assert key.startswith(keys.kind_prefix("shop", kind))
        parsed = keys.parse_key(key)
        assert (parsed.cluster, parsed.kind, parsed.node) == ("shop", kind, "node2")
    assert keys.parse_key(keys.table_key("shop")).kind == keys.TABLE
    with pytest.raises(ValueError):
        keys.kind_prefix("shop", keys.BINDINGS)
