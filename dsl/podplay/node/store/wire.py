"""etcd's v3 JSON gateway, as data: request bodies in, typed results out (pure).

The gateway (etcd 3.4, `/v3/...` on the client port) speaks the gRPC messages as JSON:
keys and values are base64, 64-bit integers are strings, and fields holding their zero value
(0, false, empty) are left out. Everything here is plain functions, unit-tested without a
server; `client.py` moves the bytes.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union

Value = Union[str, bytes]


def b64(data: Value) -> str:
    """A key or value as the gateway wants it."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def unb64(text: Optional[str]) -> bytes:
    return base64.b64decode(text or "")


def prefix_end(prefix: Value) -> bytes:
    """The range end covering every key that starts with `prefix` (etcd's GetPrefixRangeEnd)."""
    raw = bytearray(prefix.encode("utf-8") if isinstance(prefix, str) else prefix)
    while raw and raw[-1] == 0xFF:
        raw.pop()
    if not raw:
        return b"\0"  # every key
    raw[-1] += 1
    return bytes(raw)


def _int(value: Any) -> int:
    return int(value or 0)


@dataclass(frozen=True)
class KeyValue:
    """One key as the store holds it; revisions order every change in the cluster."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0

    @property
    def text(self) -> str:
        return self.value.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.value.decode("utf-8"))


@dataclass(frozen=True)
class Range:
    """What a range read returned, and the store's revision it was read at."""

    kvs: List[KeyValue]
    revision: int


@dataclass(frozen=True)
class Event:
    """A change seen by a watch: `PUT` (created or updated) or `DELETE` (kv: key + revision)."""

    type: str
    kv: KeyValue
    prev: Optional[KeyValue] = None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@dataclass(frozen=True)
class TxnResult:
    """Whether the comparisons held, the revision after, and each operation's response."""

    succeeded: bool
    revision: int
    responses: List[Dict[str, Any]]

    def ranges(self) -> List[Range]:
        """The results of the `get` operations that ran, in order."""
        return [
            Range(kvs=parse_kvs(r["response_range"]), revision=self.revision)
            for r in self.responses
            if "response_range" in r
        ]


@dataclass(frozen=True)
class Lease:
    id: int
    ttl: int


def parse_kv(doc: Dict[str, Any]) -> KeyValue:
    return KeyValue(
        key=unb64(doc.get("key")).decode("utf-8", "replace"),
        value=unb64(doc.get("value")),
        create_revision=_int(doc.get("create_revision")),
        mod_revision=_int(doc.get("mod_revision")),
        version=_int(doc.get("version")),
        lease=_int(doc.get("lease")),
    )


def parse_kvs(doc: Dict[str, Any]) -> List[KeyValue]:
    return [parse_kv(kv) for kv in doc.get("kvs") or []]


def revision_of(doc: Dict[str, Any]) -> int:
    """The store revision in a response's header."""
    return _int((doc.get("header") or {}).get("revision"))


def parse_range(doc: Dict[str, Any]) -> Range:
    return Range(kvs=parse_kvs(doc), revision=revision_of(doc))


def parse_txn(doc: Dict[str, Any]) -> TxnResult:
    return TxnResult(
        succeeded=bool(doc.get("succeeded")),
        revision=revision_of(doc),
        responses=list(doc.get("responses") or []),
    )


def parse_event(doc: Dict[str, Any]) -> Event:
    prev = doc.get("prev_kv")
    return Event(
        type=doc.get("type") or "PUT",  # PUT is the enum's zero value: left out
        kv=parse_kv(doc.get("kv") or {}),
        prev=parse_kv(prev) if prev else None,
    )


# ---- requests -----------------------------------------------------------------------------


def range_request(key: Value, prefix: bool = False, revision: int = 0) -> Dict[str, Any]:
    body: Dict[str, Any] = {"key": b64(key)}
    if prefix:
        body["range_end"] = b64(prefix_end(key))
    if revision:
        body["revision"] = revision
    return body


def put_request(key: Value, value: Value, lease: int = 0) -> Dict[str, Any]:
    body: Dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        body["lease"] = str(lease)
    return body


def delete_request(key: Value, prefix: bool = False) -> Dict[str, Any]:
    body: Dict[str, Any] = {"key": b64(key)}
    if prefix:
        body["range_end"] = b64(prefix_end(key))
    return body


def watch_request(
    prefix: Value, start_revision: int = 0, progress_notify: bool = True
) -> Dict[str, Any]:
    create: Dict[str, Any] = {"key": b64(prefix), "range_end": b64(prefix_end(prefix))}
    if start_revision:
        create["start_revision"] = start_revision
    if progress_notify:
        create["progress_notify"] = True
    return {"create_request": create}


# ---- transactions: compare-and-swap building blocks ---------------------------------------


def compare_created(key: Value, revision: int) -> Dict[str, Any]:
    """Holds when the key's create revision is `revision` (0: the key does not exist)."""
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": revision}


def compare_mod_revision(key: Value, revision: int) -> Dict[str, Any]:
    """Holds when the key was last changed at `revision` (nobody wrote it since we read it)."""
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": revision}


def compare_value(key: Value, value: Value) -> Dict[str, Any]:
    return {"key": b64(key), "target": "VALUE", "result": "EQUAL", "value": b64(value)}


def op_put(key: Value, value: Value, lease: int = 0) -> Dict[str, Any]:
    return {"request_put": put_request(key, value, lease)}


def op_delete(key: Value, prefix: bool = False) -> Dict[str, Any]:
    return {"request_delete_range": delete_request(key, prefix)}


def op_get(key: Value, prefix: bool = False) -> Dict[str, Any]:
    return {"request_range": range_request(key, prefix)}


def txn_request(
    compare: List[Dict[str, Any]],
    success: List[Dict[str, Any]],
    failure: Optional[List[Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    return {"compare": list(compare), "success": list(success), "failure": list(failure or [])}
