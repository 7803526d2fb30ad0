"""`/etc/podplay/store.json`: how a node reaches the cluster's store (written by the
`control_plane` role through `files apply store`, read by every store client on the node:
the agent, the proxy, the controller and `store ...`; the one definition of the format, see
the node README).

    {"apiVersion": "podplay/v1", "kind": "StoreConfig", "cluster": "shop", "node": "node1",
     "members": [{"name": "node1", "endpoint": "https://172.30.5.11:2379"}, ...],
     "ca": "/etc/podplay/pki/ca.crt", "cert": "/etc/podplay/pki/node.crt",
     "key": "/etc/podplay/pki/node.key"}

`endpoints` puts this node's own member first (no network hop when it is one), then the
others in the file's order. Messages start with the file's path ("/etc/podplay/store.json:
members[0].endpoint: missing (a non-empty string is required)").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from podplay.node.contract import defaults, fields
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import FileRecord

CA_FILE = defaults.CA_FILE
CERT_FILE = defaults.NODE_CERT
KEY_FILE = defaults.NODE_KEY
KIND = "StoreConfig"


@dataclass(frozen=True)
class Member:
    name: str
    endpoint: str  # https://<address>:<client port>


@dataclass(frozen=True)
class StoreConfig(FileRecord):
    cluster: str
    node: str
    members: Tuple[Member, ...]
    ca: Optional[str] = CA_FILE
    cert: Optional[str] = CERT_FILE
    key: Optional[str] = KEY_FILE

    DEFAULT_PATH = defaults.STORE_JSON

    @classmethod
    def _read(cls, doc: Any, path: str) -> StoreConfig:
        return _config(doc, path)

    @property
    def endpoints(self) -> List[str]:
        """Member endpoints to try, this node's own first."""
        own = [m.endpoint for m in self.members if m.name == self.node]
        return own + [m.endpoint for m in self.members if m.name != self.node]

    @property
    def is_member(self) -> bool:
        return any(m.name == self.node for m in self.members)

    def to_json(self) -> Dict[str, Any]:
        return {
            "apiVersion": defaults.API_VERSION,
            "kind": KIND,
            "cluster": self.cluster,
            "node": self.node,
            "members": [{"name": m.name, "endpoint": m.endpoint} for m in self.members],
            "ca": self.ca,
            "cert": self.cert,
            "key": self.key,
        }


def _config(doc: Any, path: str) -> StoreConfig:
    fields.document(doc, path)
    if doc.get("kind", KIND) != KIND:
        raise ContractError("%s: kind: expected %s, got %r" % (path, KIND, doc.get("kind")))
    members = doc.get("members")
    if not isinstance(members, list) or not members:
        raise ContractError(
            "%s: members: expected a non-empty list of {name, endpoint}, got %r" % (path, members)
        )
    return StoreConfig(
        cluster=fields.string(doc, "cluster", path),
        node=fields.string(doc, "node", path),
        members=tuple(_member(m, "%s: members[%d]" % (path, i)) for i, m in enumerate(members)),
        ca=_optional_string(doc, "ca", path),
        cert=_optional_string(doc, "cert", path),
        key=_optional_string(doc, "key", path),
    )


def _member(raw: Any, where: str) -> Member:
    fields.document(raw, where, "an object")
    endpoint = fields.string(raw, "endpoint", where, ".")
    if not endpoint.startswith(("https://", "http://")):
        raise ContractError(
            "%s.endpoint: expected https://<address>:<port>, got %r" % (where, endpoint)
        )
    return Member(name=fields.string(raw, "name", where, "."), endpoint=endpoint)


def _optional_string(doc: Dict[str, Any], field: str, path: str) -> Optional[str]:
    """A path that may be null (no TLS), but not empty."""
    return None if doc.get(field) is None else fields.string(doc, field, path)
