"""A fake etcd v3 JSON gateway: one in-memory store served by several local HTTP "members".

It answers the way etcd 3.4's gateway does where the client depends on it (base64 keys and
values, 64-bit integers as strings, zero values left out, streamed watch and keepalive
answers as `{"result": ...}` lines in chunked encoding). Each member can be stopped (its
port refuses connections) or made unavailable (503, as a member without a leader answers).
Every request is recorded as (member, path, body).
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _b(text: str | None) -> bytes:
    return base64.b64decode(text or "")


def _e(data: bytes) -> str:
    return base64.b64encode(data).decode()


class FakeStore:
    """The shared state: keys, revisions, history, leases."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.revision = 1
        self.kvs: dict[bytes, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []  # watch events, oldest first
        self.leases: dict[int, int] = {}
        self.next_lease = 1000
        self.compacted = 0
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self.watch_close_after: int | None = None  # end each watch stream after N events

    # -- key space ----------------------------------------------------------------------
    def _matching(self, key: bytes, end: bytes | None) -> list[bytes]:
        if not end:
            return [key] if key in self.kvs else []
        return sorted(k for k in self.kvs if key <= k and (end == b"\0" or k < end))

    def _kv_doc(self, kv: dict[str, Any]) -> dict[str, Any]:
        doc = {
            "key": _e(kv["key"]),
            "create_revision": str(kv["create"]),
            "mod_revision": str(kv["mod"]),
            "version": str(kv["version"]),
            "value": _e(kv["value"]),
        }
        if kv["lease"]:
            doc["lease"] = str(kv["lease"])
        return doc

    def header(self) -> dict[str, Any]:
        return {"cluster_id": "1", "member_id": "2", "revision": str(self.revision)}

    def range(self, body: dict[str, Any]) -> dict[str, Any]:
        keys = self._matching(_b(body["key"]), _b(body.get("range_end")) or None)
        doc: dict[str, Any] = {"header": self.header()}
        if keys:
            doc["kvs"] = [self._kv_doc(self.kvs[k]) for k in keys]
            doc["count"] = str(len(keys))
        return doc

    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        key, lease = _b(body["key"]), int(body.get("lease") or 0)
        self.revision += 1
        old = self.kvs.get(key)
        kv = {
            "key": key,
            "value": _b(body.get("value")),
            "create": old["create"] if old else self.revision,
            "mod": self.revision,
            "version": old["version"] + 1 if old else 1,
            "lease": lease,
        }
        self.kvs[key] = kv
        self.history.append({"kv": self._kv_doc(kv)})  # type PUT: the zero value, left out
        self.lock.notify_all()
        return {"header": self.header()}

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        keys = self._matching(_b(body["key"]), _b(body.get("range_end")) or None)
        if keys:
            self.revision += 1
        for k in keys:
            del self.kvs[k]
            self.history.append(
                {"type": "DELETE", "kv": {"key": _e(k), "mod_revision": str(self.revision)}}
            )
        self.lock.notify_all()
        doc: dict[str, Any] = {"header": self.header()}
        if keys:
            doc["deleted"] = str(len(keys))
        return doc

    def _holds(self, cmp: dict[str, Any]) -> bool:
        kv = self.kvs.get(_b(cmp["key"]))
        target = cmp.get("target", "VERSION")
        if target == "CREATE":
            actual, wanted = (kv["create"] if kv else 0), int(cmp.get("create_revision") or 0)
        elif target == "MOD":
            actual, wanted = (kv["mod"] if kv else 0), int(cmp.get("mod_revision") or 0)
        elif target == "VALUE":
            actual, wanted = (kv["value"] if kv else None), _b(cmp.get("value"))
        else:
            raise ValueError(target)
        assert cmp.get("result", "EQUAL") == "EQUAL"
        return actual == wanted

    def txn(self, body: dict[str, Any]) -> dict[str, Any]:
        ok = all(self._holds(c) for c in body.get("compare") or [])
        responses = []
        for op in body.get("success" if ok else "failure") or []:
            if "request_put" in op:
                responses.append({"response_put": self.put(op["request_put"])})
            elif "request_delete_range" in op:
                responses.append({"response_delete_range": self.delete(op["request_delete_range"])})
            else:
                responses.append({"response_range": self.range(op["request_range"])})
        doc: dict[str, Any] = {"header": self.header(), "responses": responses}
        if ok:
            doc["succeeded"] = True
        return doc

    # -- leases ----------------------------------------------------------------------------
    def grant(self, body: dict[str, Any]) -> dict[str, Any]:
        self.next_lease += 1
        self.leases[self.next_lease] = max(int(body["TTL"]), 2)
        return {
            "header": self.header(),
            "ID": str(self.next_lease),
            "TTL": str(self.leases[self.next_lease]),
        }

    def keepalive(self, body: dict[str, Any]) -> dict[str, Any]:
        lease = int(body["ID"])
        doc: dict[str, Any] = {"header": self.header(), "ID": str(lease)}
        if lease in self.leases:
            doc["TTL"] = str(self.leases[lease])
        return {"result": doc}

    def timetolive(self, body: dict[str, Any]) -> dict[str, Any]:
        lease = int(body["ID"])
        return {"header": self.header(), "ID": str(lease), "TTL": str(self.leases.get(lease, -1))}

    def revoke(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        lease = int(body["ID"])
        if lease not in self.leases:
            return 404, {"error": "etcdserver: requested lease not found", "code": 5,
                         "message": "etcdserver: requested lease not found"}  # fmt: skip
        del self.leases[lease]
        for key in [k for k, kv in self.kvs.items() if kv["lease"] == lease]:
            self.delete({"key": _e(key)})
        return 200, {"header": self.header()}

    def expire(self, lease: int) -> None:
        """The lease ran out (what the real store does after its TTL)."""
        with self.lock:
            self.revoke({"ID": str(lease)})


class FakeMember:
    """One member's HTTP endpoint over the shared FakeStore."""

    def __init__(self, store: FakeStore, name: str) -> None:
        self.store, self.name = store, name
        self.unavailable = False
        self.server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeMember:
        member = self

        class Handler(_Handler):
            pass

        Handler.member = member
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        with self.store.lock:
            self.store.lock.notify_all()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    member: FakeMember

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        store = self.member.store
        with store.lock:
            store.requests.append((self.member.name, self.path, {}))
        if self.member.unavailable:
            self._send(503, {"health": "false", "reason": "no leader"})
        else:
            self._send(200, {"health": "true"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        store = self.member.store
        with store.lock:
            store.requests.append((self.member.name, self.path, body))
        if self.member.unavailable:
            self._send(503, {"error": "etcdserver: no leader", "code": 14,
                             "message": "etcdserver: no leader"})  # fmt: skip
            return
        if self.path == "/v3/watch":
            self._watch(body["create_request"])
            return
        handlers = {
            "/v3/kv/range": store.range,
            "/v3/kv/put": store.put,
            "/v3/kv/deleterange": store.delete,
            "/v3/kv/txn": store.txn,
            "/v3/lease/grant": store.grant,
            "/v3/lease/keepalive": store.keepalive,
            "/v3/lease/timetolive": store.timetolive,
        }
        with store.lock:
            if self.path == "/v3/lease/revoke":
                self._send(*store.revoke(body))
                return
            try:
                answer = handlers[self.path](body)
            except (KeyError, ValueError) as err:  # as the gateway: InvalidArgument, 400
                self._send(400, {"error": str(err), "code": 3, "message": f"bad request: {err}"})
                return
            self._send(200, answer)

    def _chunk(self, doc: dict[str, Any]) -> None:
        data = (json.dumps(doc) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, create: dict[str, Any]) -> None:
        store = self.member.store
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        key, end = _b(create["key"]), _b(create.get("range_end"))
        with store.lock:
            start = int(create.get("start_revision") or 0)
            if start and start <= store.compacted:
                self._chunk({"result": {"header": store.header(),
                                        "compact_revision": str(store.compacted)}})  # fmt: skip
                self.wfile.write(b"0\r\n\r\n")
                return
            self._chunk({"result": {"header": store.header(), "created": True}})
            start = start or store.revision + 1
            sent = 0
            seen = 0
            while self.member.server is not None:
                for event in store.history[seen:]:
                    seen += 1
                    k = _b(event["kv"]["key"])
                    if int(event["kv"]["mod_revision"]) < start or not key <= k < end:
                        continue
                    self._chunk({"result": {"header": store.header(), "events": [event]}})
                    sent += 1
                    if store.watch_close_after is not None and sent >= store.watch_close_after:
                        self.wfile.write(b"0\r\n\r\n")
                        return
                store.lock.wait(0.05)
            self.wfile.write(b"0\r\n\r\n")
