"""The cluster's certificates, made on the machine that runs podplay (never in the repository).

The store (etcd) answers only clients holding a certificate signed by the cluster's own CA,
and its members authenticate each other the same way. Per cluster, in
`<PODPLAY_HOME>/clusters/<cluster>/pki/` beside the SSH key and the agent token (for every
kind of cluster: local, `pp.Node` hosts and inventories; `podplay.paths.cluster_dir`):

    ca.crt  ca.key                    the cluster CA (10 years)
    nodes/<node>.crt  nodes/<node>.key   one per node: CN = node name, SAN = the node's
                                         address, 127.0.0.1 (and its name when a DNS name);
                                         serverAuth + clientAuth: etcd server and peer on
                                         members, the store client of every node's agent
    client.crt  client.key            podplay itself (the CLI on this machine): clientAuth

    issued.json                       what was last issued and checked (below)

Private keys are 0600 in a 0700 directory. `ensure_pki` is idempotent: files that exist
are reused; a node certificate is re-issued only when the node's name or address changed,
the CA changed, or it expires within 30 days. ECDSA P-256 keys: small, fast to make, and
what etcd (Go's TLS) handles natively (`podplay.artifacts.certificates` makes and checks
them). `issued.json` records, for each certificate checked, its name, address, expiry and
the digests of its files: when every file still has its digest and nothing is due, the
certificates are known good without parsing one (a compile of 100 nodes checked them all
on every run, `cryptography` imported, for nothing).
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podplay import paths
from podplay.errors import UserInputError
from podplay.files import write_atomic

PKI_DIR = "pki"
RECORD = "issued.json"
RENEW_BEFORE = datetime.timedelta(days=30)  # a certificate expiring sooner is made again
CLIENT_NAME = "podplay"


@dataclass(frozen=True)
class Pki:
    """Where one cluster's certificates are (paths on this machine)."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.directory / "client.key"

    def node_cert(self, node: str) -> Path:
        return self.directory / "nodes" / f"{node}.crt"

    def node_key(self, node: str) -> Path:
        return self.directory / "nodes" / f"{node}.key"


def pki_dir(cluster: str) -> Path:
    """The cluster's certificate directory on this machine."""
    return paths.cluster_dir(cluster) / PKI_DIR


def ensure_pki(
    directory: Path,
    cluster: str,
    nodes: Iterable[tuple[str, str | None]],
    now: datetime.datetime | None = None,
) -> Pki:
    """The CA, podplay's client certificate and one certificate per (node, address).

    Nodes whose address is not known yet (a local cluster compiled before it exists) get
    none until it is."""
    pki = Pki(directory)
    now = now or datetime.datetime.now(datetime.UTC)
    wanted = [(name, address) for name, address in nodes if address]
    for name, _ in wanted:
        _check_name(name)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    (directory / "nodes").mkdir(mode=0o700, exist_ok=True)
    with _locked(directory):
        if not _recorded(pki, wanted, now):
            _issue(pki, cluster, wanted, now)
    return pki


def _issue(pki: Pki, cluster: str, wanted: list[tuple[str, str]], now: datetime.datetime) -> None:
    """Check (and make what is missing or due) with `cryptography`; record what is good."""
    from podplay.artifacts import certificates  # only when the record does not say it all

    ca_key, ca_cert = certificates.ensure_ca(pki.ca_cert, pki.ca_key, cluster, now)
    client = certificates.Leaf(CLIENT_NAME, None, server=False)
    made = certificates.ensure_leaf(
        pki.client_cert, pki.client_key, client, ca_key, ca_cert, now, RENEW_BEFORE
    )
    record: dict[str, Any] = {"client": _leaf_record(None, made.not_valid_after_utc), "nodes": {}}
    for name, address in wanted:
        leaf = certificates.Leaf(name, address, server=True)
        made = certificates.ensure_leaf(
            pki.node_cert(name), pki.node_key(name), leaf, ca_key, ca_cert, now, RENEW_BEFORE
        )
        record["nodes"][name] = _leaf_record(address, made.not_valid_after_utc)
    record["files"] = _digests(pki, [n for n, _ in wanted])
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    path = pki.directory / RECORD
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8") == text:
            return
    write_atomic(path, text, mode=0o600)


def _leaf_record(address: str | None, not_after: datetime.datetime) -> dict[str, Any]:
    return {"address": address, "not_after": not_after.isoformat()}


def _recorded(pki: Pki, wanted: list[tuple[str, str]], now: datetime.datetime) -> bool:
    """Whether the record vouches for every certificate wanted: same files (digests), same
    names and addresses, none due for renewal."""
    try:
        record = json.loads((pki.directory / RECORD).read_text(encoding="utf-8"))
        entries = [(record["client"], None)]
        entries += [(record["nodes"][name], address) for name, address in wanted]
        for entry, address in entries:
            expires = datetime.datetime.fromisoformat(entry["not_after"])
            if entry["address"] != address or expires - RENEW_BEFORE < now:
                return False
        digests = _digests(pki, [n for n, _ in wanted])
        return all(record["files"].get(path) == digest for path, digest in digests.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _digests(pki: Pki, nodes: list[str]) -> dict[str, str]:
    """sha256 of every file the wanted certificates consist of, by path under the directory."""
    paths_ = [pki.ca_cert, pki.ca_key, pki.client_cert, pki.client_key]
    for name in nodes:
        paths_ += [pki.node_cert(name), pki.node_key(name)]
    return {
        p.relative_to(pki.directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in paths_
    }


def _check_name(name: str) -> None:
    if not name or "/" in name or name.startswith(".") or "\0" in name:
        raise UserInputError(f'node name "{name}" cannot name a certificate file')


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One writer at a time (two commands on the same cluster must not make two CAs)."""
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
