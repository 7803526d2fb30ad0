"""The cluster's store (etcd) as the node side uses it: a client over etcd's v3 JSON gateway,
the key layout, and `store.json` (how a node reaches the store). See the node README."""

from .client import Compacted, Store, StoreError, Unavailable
from .config import DEFAULT_CONFIG, ConfigError, Member, StoreConfig, load_config, parse_config
from .wire import Event, KeyValue, Lease, Range, TxnResult

__all__ = [
    "DEFAULT_CONFIG",
    "Compacted",
    "ConfigError",
    "Event",
    "KeyValue",
    "Lease",
    "Member",
    "Range",
    "Store",
    "StoreConfig",
    "StoreError",
    "TxnResult",
    "Unavailable",
    "load_config",
    "parse_config",
]
