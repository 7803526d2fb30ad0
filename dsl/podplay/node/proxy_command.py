"""`podplay-node proxy`: service routing and cluster DNS in one process, the DNS zone fed by
the proxy's cluster state and ready endpoints. The two packages know nothing of each other
(import-linter keeps agent, proxy, network and dns independent); this is where they meet.
"""

from __future__ import annotations

from typing import List, Optional

from podplay.node.dns.service import ClusterDns
from podplay.node.proxy import cli


def main(argv: Optional[List[str]] = None) -> int:
    return cli.main(argv, dns=ClusterDns())
