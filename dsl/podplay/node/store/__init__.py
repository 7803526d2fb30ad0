"""The cluster's store (etcd) as the node side uses it: a client over etcd's v3 JSON gateway
and the key layout. How a node reaches the store (`store.json`) is a contract record,
`podplay.node.contract.store_config`. See the node README."""

from podplay.node.contract.store_config import Member, StoreConfig

from .client import Compacted, Store, StoreError, Unavailable
from .wire import Event, KeyValue, Lease, Range, TxnResult

__all__ = [
    "Compacted",
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
]
