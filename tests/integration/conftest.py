"""Integration tests run against ONE local cluster per test session (see helpers.py).

Fixtures:
- `cluster`: the `podplay.substrate.Cluster` (name, nodes[name, container, address, pod_cidr,
  index], network, subnet, inventory, ssh_key, lb_pool), with site.yml applied once.
- `site_result`: the PlaybookResult of that first site.yml run.
- `busybox_image`: `podplay/busybox:<hash>` built on this machine (side-load it with
  `helpers.load_image`).
"""

from __future__ import annotations

import pytest
from helpers import session_cluster, session_site_result

from podplay.execute import PlaybookResult
from podplay.substrate import Cluster


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Cluster:
    return session_cluster(request)


@pytest.fixture(scope="session")
def site_result(request: pytest.FixtureRequest) -> PlaybookResult:
    return session_site_result(request)


@pytest.fixture(scope="session")
def busybox_image():  # type: ignore[no-untyped-def]
    from podplay.build import images

    return images.ensure_busybox_image()
