"""Fixtures every unit test directory may use: a throwaway cluster PKI, made by the same code
that makes a real cluster's (`podplay.artifacts.pki`), once per test session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from podplay.artifacts.pki import ensure_pki


@dataclass(frozen=True)
class ClusterPki:
    """One cluster's CA and node1's certificate (SAN 127.0.0.1) as agent.json names them."""

    ca: str
    cert: str
    key: str
    other_cert: str  # node2's: SAN 127.0.0.2 (and 127.0.0.1, as every node's)
    other_key: str
    directory: Path

    def agent_fields(self) -> dict[str, str]:
        return {"tls_cert": self.cert, "tls_key": self.key, "tls_ca": self.ca}


def make_pki(tmp_path_factory: pytest.TempPathFactory, cluster: str) -> ClusterPki:
    """A throwaway PKI for `cluster`: node1 on 127.0.0.1, node2 on 127.0.0.2."""
    directory = tmp_path_factory.mktemp(cluster) / "pki"
    pki = ensure_pki(directory, cluster, [("node1", "127.0.0.1"), ("node2", "127.0.0.2")])
    return ClusterPki(
        str(pki.ca_cert),
        str(pki.node_cert("node1")),
        str(pki.node_key("node1")),
        str(pki.node_cert("node2")),
        str(pki.node_key("node2")),
        directory,
    )


@pytest.fixture(scope="session")
def cluster_pki(tmp_path_factory: pytest.TempPathFactory) -> ClusterPki:
    return make_pki(tmp_path_factory, "unit")


@pytest.fixture(scope="session")
def foreign_pki(tmp_path_factory: pytest.TempPathFactory) -> ClusterPki:
    """Another cluster's: same names and addresses, another CA."""
    return make_pki(tmp_path_factory, "foreign")
