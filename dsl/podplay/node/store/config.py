"""`/etc/podplay/store.json`: how a node reaches the cluster's store (written by the
`control_plane` role; the one definition of the format, see the node README).

    {"apiVersion": "podplay/v1", "kind": "StoreConfig", "cluster": "shop", "node": "node1",
     "members": [{"name": "node1", "endpoint": "https://172.30.5.11:2379"}, ...],
     "ca": "/etc/podplay/pki/ca.crt", "cert": "/etc/podplay/pki/node.crt",
     "key": "/etc/podplay/pki/node.key"}

`endpoints` puts this node's own member first (no network hop when it is one), then the
others in the file's order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from podplay.node.contract import defaults

DEFAULT_CONFIG = defaults.STORE_JSON
PKI_DIR = defaults.PKI_DIR
CA_FILE = defaults.CA_FILE
CERT_FILE = defaults.NODE_CERT
KEY_FILE = defaults.NODE_KEY
API_VERSION = "podplay/v1"
KIND = "StoreConfig"


class ConfigError(ValueError):
    """store.json is missing, unreadable or wrong; the message names the field."""


@dataclass(frozen=True)
class Member:
    name: str
    endpoint: str  # https://<address>:<client port>


@dataclass(frozen=True)
class StoreConfig:
    cluster: str
    node: str
    members: Tuple[Member, ...]
    ca: Optional[str] = CA_FILE
    cert: Optional[str] = CERT_FILE
    key: Optional[str] = KEY_FILE

    @property
    def endpoints(self) -> List[str]:
        """Member endpoints to try, this node's own first."""
        own = [m.endpoint for m in self.members if m.name == self.node]
        return own + [m.endpoint for m in self.members if m.name != self.node]

    @property
    def is_member(self) -> bool:
        return any(m.name == self.node for m in self.members)

    def to_doc(self) -> Dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "cluster": self.cluster,
            "node": self.node,
            "members": [{"name": m.name, "endpoint": m.endpoint} for m in self.members],
            "ca": self.ca,
            "cert": self.cert,
            "key": self.key,
        }


def config_text(cfg: StoreConfig) -> str:
    """Canonical text: same config, same bytes."""
    return json.dumps(cfg.to_doc(), indent=1, sort_keys=True) + "\n"


def _string(doc: Dict[str, Any], field: str, path: str, optional: bool = False) -> Any:
    value = doc.get(field)
    if optional and value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError("%s: %s: a non-empty string is required" % (path, field))
    return value


def parse_config(doc: Any, path: str = DEFAULT_CONFIG) -> StoreConfig:
    """Validate store.json's content; raises ConfigError with a sentence naming the field."""
    if not isinstance(doc, dict):
        raise ConfigError("%s: expected a JSON object" % path)
    if doc.get("kind", KIND) != KIND:
        raise ConfigError("%s: kind: expected %s, got %r" % (path, KIND, doc.get("kind")))
    members = doc.get("members")
    if not isinstance(members, list) or not members:
        raise ConfigError("%s: members: a non-empty list of {name, endpoint} is required" % path)
    parsed = []
    for i, m in enumerate(members):
        if not isinstance(m, dict):
            raise ConfigError("%s: members[%d]: expected an object" % (path, i))
        endpoint = _string(m, "endpoint", "%s: members[%d]" % (path, i))
        if not endpoint.startswith(("https://", "http://")):
            raise ConfigError(
                "%s: members[%d].endpoint: expected https://<address>:<port>, got %r"
                % (path, i, endpoint)
            )
        parsed.append(
            Member(name=_string(m, "name", "%s: members[%d]" % (path, i)), endpoint=endpoint)
        )
    return StoreConfig(
        cluster=_string(doc, "cluster", path),
        node=_string(doc, "node", path),
        members=tuple(parsed),
        ca=_string(doc, "ca", path, optional=True),
        cert=_string(doc, "cert", path, optional=True),
        key=_string(doc, "key", path, optional=True),
    )


def load_config(path: str = DEFAULT_CONFIG) -> StoreConfig:
    """Read and validate store.json."""
    try:
        with open(path) as handle:
            doc = json.load(handle)
    except OSError as err:
        raise ConfigError("%s: cannot read: %s" % (path, err.strerror or err)) from None
    except ValueError as err:
        raise ConfigError("%s: not JSON: %s" % (path, err)) from None
    return parse_config(doc, path)
