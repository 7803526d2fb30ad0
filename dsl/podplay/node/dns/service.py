"""Cluster DNS as a service of its own: a zone rebuilt whole at every change of the cluster
state (or of its ready endpoints) and a server answering from whichever zone is current.

The proxy process feeds it (`update`), but nothing here knows the proxy: the state is read
duck-typed by `zone.records_from_state`.
"""

from __future__ import annotations

from typing import AbstractSet, Any, Optional, Tuple

from podplay.node.contract import defaults
from podplay.node.dns.server import DnsServer, Resolver, Upstreams
from podplay.node.dns.zone import Zone, build_zone, records_from_state


class ClusterDns:
    """The current zone, replaced whole and read without locks (one reference swap)."""

    def __init__(self) -> None:
        self.zone = build_zone([], defaults.CLUSTER_DOMAIN, defaults.SERVICE_CIDR)
        self.serial = 0
        self._server: Optional[DnsServer] = None

    def update(self, state: Any, ready: AbstractSet[Any]) -> None:
        """A new zone from the cluster state and its ready endpoints."""
        self.serial += 1
        self.zone = build_zone(
            records_from_state(state, ready),
            state.cluster_domain,
            state.service_cidr,
            serial=self.serial,
        )

    def get(self) -> Zone:
        return self.zone

    def serve(self, address: str, port: int, resolv_conf: str, exclude: Tuple[str, ...]) -> None:
        """Answer on `address:port` (UDP and TCP); what is not in the zone goes to the
        resolvers in `resolv_conf`, except `exclude` (ourselves)."""
        upstreams = Upstreams(resolv_conf, exclude=exclude)
        self._server = DnsServer(Resolver(self.get, upstreams.get), address, port)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
