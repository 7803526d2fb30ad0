"""A small client of the cluster's store (etcd 3.4) over its v3 JSON gateway, HTTPS with the
node's client certificate (standard library + `requests`, which the node bundle carries).

    store = Store.from_config(StoreConfig.load())     # /etc/podplay/store.json
    store.put(node_key("shop", "node1"), "{...}", lease=lease.id)
    kv = store.get(leader_key("shop"))                # KeyValue or None
    for event in store.watch_prefix(bindings_prefix("shop"), start_revision=r + 1): ...

Every call tries the members in turn: the last one that answered first, then the others, on
connection errors, timeouts of calls that are safe to repeat, and "unavailable" answers (a
member without a leader). A call nobody answers raises `Unavailable`; an answer that says no
raises `StoreError`. Watches reconnect by themselves, resuming after the last revision seen.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import requests

from podplay.node.contract.store_config import StoreConfig
from podplay.node.util.backoff import Backoff

from . import wire
from .wire import Event, KeyValue, Lease, Range, TxnResult, Value

CONNECT_TIMEOUT = 1.0
REQUEST_TIMEOUT = 3.0
# A watch hears a progress notification every 5 s (the role configures etcd so), skipped once
# after a message with events: at most 10 s of silence. Longer means the member is gone, so
# reconnect elsewhere.
WATCH_TIMEOUT = 15.0
RECONNECT_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0)
UNAVAILABLE_STATUS = (502, 503)  # gRPC Unavailable (no leader, stopping) and gateway errors
# gRPC metadata through the gateway: a member without a leader ends the stream instead of
# staying silent, so a watcher on a cut-off member moves to one that has a leader.
REQUIRE_LEADER = {"Grpc-Metadata-hasleader": "true"}


class StoreError(Exception):
    """The store answered, and said no (the message is the store's)."""

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code


class Unavailable(StoreError):
    """No member answered (all down, unreachable, or without a leader)."""


class Compacted(StoreError):
    """A watch asked for revisions the store no longer keeps: list again, then watch on."""

    def __init__(self, compact_revision: int) -> None:
        super().__init__("revisions before %d are compacted" % compact_revision)
        self.compact_revision = compact_revision


class _Retry(Exception):
    """This member cannot serve the call now; try the next one."""


def _first_json(text: str) -> Dict[str, Any]:
    """The first JSON document of a (possibly streamed, newline-separated) body."""
    for line in text.splitlines():
        if line.strip():
            return json.loads(line)
    return {}


class Store:
    """The store's key-value, lease and watch API (thread-safe for calls; one session each
    for watches)."""

    def __init__(
        self,
        endpoints: Sequence[str],
        ca: Optional[str] = None,
        cert: Optional[str] = None,
        key: Optional[str] = None,
        timeout: float = REQUEST_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        watch_timeout: float = WATCH_TIMEOUT,
    ) -> None:
        if not endpoints:
            raise ValueError("a store client needs at least one endpoint")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.ca, self.cert, self.key = ca, cert, key
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.watch_timeout = watch_timeout
        self._preferred = self.endpoints[0]
        self._lock = threading.Lock()
        self._session = self.new_session()

    @classmethod
    def from_config(cls, cfg: StoreConfig, **kwargs: Any) -> "Store":
        return cls(cfg.endpoints, ca=cfg.ca, cert=cfg.cert, key=cfg.key, **kwargs)

    def new_session(self) -> requests.Session:
        """An HTTP session carrying the client certificate and trusting only the cluster CA."""
        session = requests.Session()
        session.trust_env = False  # no proxies from the environment between us and the store
        session.verify = self.ca if self.ca else True
        if self.cert:
            session.cert = (self.cert, self.key) if self.key else self.cert
        return session

    def order(self) -> List[str]:
        """Endpoints to try: the one that last answered, then the rest in their order."""
        with self._lock:
            first = self._preferred
        return [first] + [e for e in self.endpoints if e != first]

    def _answered(self, endpoint: str) -> None:
        with self._lock:
            self._preferred = endpoint

    # ---- transport ---------------------------------------------------------------------

    def call(self, path: str, body: Dict[str, Any], idempotent: bool = True) -> Dict[str, Any]:
        """POST `body` to `path` on the first member that can serve it; the response's
        document (a streamed answer's first message, unwrapped)."""
        problems = []
        for endpoint in self.order():
            try:
                doc = self._post(endpoint, path, body, idempotent)
            except _Retry as err:
                problems.append("%s: %s" % (endpoint, err))
                continue
            self._answered(endpoint)
            return doc
        raise Unavailable("no store member answered %s (%s)" % (path, "; ".join(problems)))

    def _post(self, endpoint: str, path: str, body: Dict[str, Any], idempotent: bool) -> Any:
        try:
            resp = self._session.post(
                endpoint + path, json=body, timeout=(self.connect_timeout, self.timeout)
            )
        except requests.exceptions.ConnectTimeout as err:
            raise _Retry("connect timed out") from err
        except requests.exceptions.Timeout as err:
            if not idempotent:
                raise Unavailable(
                    "%s%s timed out; it may or may not have been applied" % (endpoint, path)
                ) from err
            raise _Retry("timed out") from err
        except requests.exceptions.RequestException as err:  # refused, reset, TLS
            raise _Retry(_short(err)) from err
        try:
            doc = _first_json(resp.text)
        except ValueError:
            doc = {}
        if isinstance(doc.get("result"), dict):  # a streamed answer (lease keepalive)
            doc = doc["result"]
        error = doc.get("error")
        if resp.status_code == 200 and not error:
            return doc
        message = doc.get("message") or error or resp.text.strip()[:200] or resp.reason
        if isinstance(error, dict):  # a stream's error: {"error": {"grpc_code", "message"}}
            message = error.get("message") or str(error)
        if resp.status_code in UNAVAILABLE_STATUS or doc.get("code") == 14:
            raise _Retry("unavailable: %s" % message)
        raise StoreError("%s: %s" % (path, message), code=doc.get("code"))

    # ---- keys ------------------------------------------------------------------------

    def get(self, key: str, revision: int = 0) -> Optional[KeyValue]:
        """The key (as it was at `revision`, 0: now), or None."""
        found = self._range(key, False, revision).kvs
        return found[0] if found else None

    def get_prefix(self, prefix: str, revision: int = 0) -> Range:
        """Every key under `prefix` (sorted by key) and the revision they were read at: watch
        from that revision + 1 to miss nothing."""
        return self._range(prefix, True, revision)

    def _range(self, key: str, prefix: bool, revision: int) -> Range:
        body = wire.range_request(key, prefix=prefix, revision=revision)
        return wire.parse_range(self.call("/v3/kv/range", body))

    def put(self, key: str, value: Value, lease: int = 0) -> int:
        """Write the key (attached to `lease` when given); the revision of the write."""
        return wire.revision_of(self.call("/v3/kv/put", wire.put_request(key, value, lease)))

    def delete(self, key: str, prefix: bool = False) -> int:
        """Delete the key (or every key under it); how many were deleted."""
        doc = self.call("/v3/kv/deleterange", wire.delete_request(key, prefix))
        return int(doc.get("deleted") or 0)

    def txn(
        self,
        compare: List[Dict[str, Any]],
        success: List[Dict[str, Any]],
        failure: Optional[List[Dict[str, Any]]] = None,
    ) -> TxnResult:
        """One transaction (build it with `wire.compare_*` and `wire.op_*`). Not repeated
        on a timeout: it may have been applied."""
        body = wire.txn_request(compare, success, failure)
        return wire.parse_txn(self.call("/v3/kv/txn", body, idempotent=False))

    def create(self, key: str, value: Value, lease: int = 0) -> bool:
        """Write the key only if it does not exist; whether it was written."""
        return self.txn([wire.compare_created(key, 0)], [wire.op_put(key, value, lease)]).succeeded

    def update(self, key: str, value: Value, mod_revision: int, lease: int = 0) -> bool:
        """Write the key only if nobody changed it since `mod_revision`; whether it was."""
        compare = [wire.compare_mod_revision(key, mod_revision)]
        return self.txn(compare, [wire.op_put(key, value, lease)]).succeeded

    def delete_if(self, key: str, mod_revision: int) -> bool:
        """Delete the key only if nobody changed it since `mod_revision`."""
        compare = [wire.compare_mod_revision(key, mod_revision)]
        return self.txn(compare, [wire.op_delete(key)]).succeeded

    # ---- leases ----------------------------------------------------------------------

    def lease_grant(self, ttl: int, lease_id: int = 0) -> Lease:
        """A new lease of `ttl` seconds (the store may raise it to its minimum)."""
        body: Dict[str, Any] = {"TTL": int(ttl)}
        if lease_id:
            body["ID"] = str(lease_id)
        doc = self.call("/v3/lease/grant", body, idempotent=False)
        if doc.get("error"):
            raise StoreError("lease grant: %s" % doc["error"])
        return Lease(id=int(doc.get("ID") or 0), ttl=int(doc.get("TTL") or 0))

    def lease_keepalive(self, lease_id: int) -> int:
        """Renew the lease; its TTL in seconds, 0 when it has expired (or never was)."""
        doc = self.call("/v3/lease/keepalive", {"ID": str(lease_id)})
        return int(doc.get("TTL") or 0)

    def lease_revoke(self, lease_id: int) -> None:
        """End the lease now: its keys are deleted. An unknown lease is no error."""
        try:
            self.call("/v3/lease/revoke", {"ID": str(lease_id)})
        except StoreError as err:
            if "not found" not in str(err):
                raise

    def lease_ttl(self, lease_id: int) -> int:
        """Seconds the lease has left; -1 when it does not exist."""
        doc = self.call("/v3/lease/timetolive", {"ID": str(lease_id)})
        return int(doc.get("TTL") or 0)

    # ---- cluster ---------------------------------------------------------------------

    def members(self) -> List[Dict[str, Any]]:
        """The store's members as it lists them (name, peer and client URLs, ID)."""
        return list(self.call("/v3/cluster/member/list", {}).get("members") or [])

    def status(self, endpoint: str) -> Dict[str, Any]:
        """One member's own status (leader ID, raft term, revision), asked of that member."""
        try:
            return self._post(endpoint, "/v3/maintenance/status", {}, idempotent=True)
        except _Retry as err:
            raise Unavailable("%s: %s" % (endpoint, err)) from None

    def health(self, endpoint: str) -> Tuple[bool, str]:
        """Whether a member has a leader and serves a quorum read (etcd's `/health`)."""
        try:
            resp = self._session.get(
                endpoint + "/health", timeout=(self.connect_timeout, self.timeout)
            )
            doc = resp.json()
        except (requests.exceptions.RequestException, ValueError) as err:
            return False, _short(err)
        healthy = str(doc.get("health")).lower() == "true"
        return healthy, "" if healthy else (doc.get("reason") or resp.text.strip()[:200])

    # ---- watch -----------------------------------------------------------------------

    def watch_prefix(
        self,
        prefix: str,
        start_revision: int = 0,
        stop: Optional[threading.Event] = None,
        sleep: Any = None,
    ) -> Iterator[Event]:
        """Changes under `prefix` from `start_revision` (0: from now on), forever or until
        `stop` is set (checked at every message: within 10 s). Reconnects (to the next
        member) when a stream ends or goes silent, resuming after the last revision seen, so
        no change is missed or repeated. Raises `Compacted` when the revisions asked for are
        gone."""
        stop = stop or threading.Event()
        wait = sleep or stop.wait
        cursor = _Cursor(start_revision)
        backoff = Backoff.stepped(RECONNECT_DELAYS)
        session = self.new_session()
        try:
            while not stop.is_set():
                for endpoint in self.order():
                    if stop.is_set():
                        return
                    try:
                        for event in self._stream(session, endpoint, prefix, cursor, stop):
                            backoff.succeeded()
                            yield event
                    except _Retry:
                        wait(backoff.failed())
        finally:
            session.close()

    def _stream(
        self,
        session: requests.Session,
        endpoint: str,
        prefix: str,
        cursor: "_Cursor",
        stop: threading.Event,
    ) -> Iterator[Event]:
        body = wire.watch_request(prefix, cursor.next)
        try:
            with session.post(
                endpoint + "/v3/watch",
                json=body,
                headers=REQUIRE_LEADER,
                stream=True,
                timeout=(self.connect_timeout, self.watch_timeout),
            ) as resp:
                if resp.status_code != 200:
                    raise _Retry("watch answered %d" % resp.status_code)
                self._answered(endpoint)
                for line in resp.iter_lines():
                    if stop.is_set():
                        return
                    if line:
                        yield from cursor.take(json.loads(line))
        except (requests.exceptions.RequestException, ValueError) as err:
            raise _Retry(_short(err)) from err
        raise _Retry("watch stream ended")


class _Cursor:
    """Where a watch resumes: after the last revision it delivered (or was told about)."""

    def __init__(self, start_revision: int) -> None:
        self.next = start_revision

    def take(self, doc: Dict[str, Any]) -> Iterator[Event]:
        if doc.get("error"):
            raise _Retry("watch error: %s" % doc["error"])
        result = doc.get("result") or {}
        compacted = int(result.get("compact_revision") or 0)
        if compacted:
            raise Compacted(compacted)
        if result.get("canceled"):
            raise _Retry("watch canceled: %s" % (result.get("cancel_reason") or "no reason"))
        header = wire.revision_of(result)
        events = result.get("events") or []
        if result.get("created"):
            if not self.next:  # "from now on": everything after the revision it started at
                self.next = header + 1
            return
        for item in events:
            event = wire.parse_event(item)
            self.next = max(self.next, event.revision + 1)
            yield event
        if not events and header:  # a progress notification: nothing missed up to `header`
            self.next = max(self.next, header + 1)


def _short(err: BaseException) -> str:
    text = str(err)
    return text if len(text) <= 160 else text[:157] + "..."
