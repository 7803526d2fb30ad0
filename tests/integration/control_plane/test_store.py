"""The cluster's store (etcd) as site.yml makes it: three members with TLS everywhere, a second
run changes nothing, nothing answers without a client certificate of the cluster CA, data
outlives a re-run and a member restart, and losing one member of three keeps it writable."""

from __future__ import annotations

import json

import pytest
from helpers import ExecResult, node_exec, run_playbook, wait_until

from podplay.artifacts import pki
from podplay.node.store import Store
from podplay.substrate import Cluster

pytestmark = pytest.mark.integration

BUNDLE = "/opt/podplay/podplay-node.pyz"
PKI = "/etc/podplay/pki"
KEY = "/podplay/itest/value"  # `store get` reads a prefix: no key here starts with another
FROM_PODPLAY = "/podplay/itest/controller"


def store_cli(cluster: Cluster, node: str, *args: str) -> ExecResult:
    return node_exec(cluster, node, ["python3", BUNDLE, "store", *args], timeout=90)


def health(cluster: Cluster, node: str, *extra: str) -> dict:
    out = store_cli(cluster, node, "health", "--json", *extra)
    return json.loads(out.stdout) if out.stdout.strip() else {"healthy": False, "error": out.stderr}


def all_healthy(cluster: Cluster) -> dict:
    return wait_until(lambda: health(cluster, "node1").get("healthy") and health(cluster, "node1"),
                      timeout=60, what="every store member healthy")  # fmt: skip


def curl(cluster: Cluster, node: str, url: str, *tls: str) -> ExecResult:
    return node_exec(cluster, node, ["curl", "-sS", "-f", "--max-time", "5", *tls, url])


def controller_store(cluster: Cluster) -> Store:
    """The store as podplay reaches it from this machine, with its own client certificate."""
    certs = pki.Pki(pki.pki_dir(cluster.name))
    return Store(
        [f"https://{n.address}:2379" for n in cluster.nodes],
        ca=str(certs.ca_cert),
        cert=str(certs.client_cert),
        key=str(certs.client_key),
    )


def test_site_brings_up_three_healthy_members_with_one_leader(cluster: Cluster) -> None:
    for node in cluster.nodes:
        report = health(cluster, node.name)
        assert report["healthy"], report
        assert [m["name"] for m in report["members"]] == ["node1", "node2", "node3"]
        assert sum(m["leader"] for m in report["members"]) == 1
    members = controller_store(cluster).members()
    assert sorted(m["name"] for m in members) == ["node1", "node2", "node3"]
    assert all(url.startswith("https://") for m in members for url in m["clientURLs"])


def test_every_node_has_its_certificate_and_the_key_is_private(cluster: Cluster) -> None:
    for node in cluster.nodes:
        listing = node_exec(cluster, node.name, f"stat -c '%n %a %U' {PKI}/*", check=True)
        assert listing.stdout.split("\n")[:3] == [
            f"{PKI}/ca.crt 644 root",
            f"{PKI}/node.crt 644 root",
            f"{PKI}/node.key 600 etcd",
        ]
        subject = node_exec(
            cluster,
            node.name,
            f"openssl x509 -in {PKI}/node.crt -noout -subject -ext subjectAltName",
        )
        if subject.ok:  # openssl is not in every image; the TLS tests below cover it too
            assert f"CN = {node.name}" in subject.stdout
            assert node.address in subject.stdout and "127.0.0.1" in subject.stdout


def test_nothing_answers_without_a_client_certificate_of_the_cluster_ca(cluster: Cluster) -> None:
    url = f"https://{cluster.node('node2').address}:2379/version"
    no_cert = curl(cluster, "node1", url, "--cacert", f"{PKI}/ca.crt")
    assert not no_cert.ok and "etcdserver" not in no_cert.stdout
    plain = curl(cluster, "node1", url.replace("https://", "http://"))
    assert not plain.ok and "etcdserver" not in plain.stdout
    peer = curl(cluster, "node1", url.replace(":2379/version", ":2380/members"),
                "--cacert", f"{PKI}/ca.crt")  # fmt: skip
    assert not peer.ok
    with_cert = curl(cluster, "node1", url, "--cacert", f"{PKI}/ca.crt",
                     "--cert", f"{PKI}/node.crt", "--key", f"{PKI}/node.key")  # fmt: skip
    assert with_cert.ok, with_cert.stderr
    assert json.loads(with_cert.stdout)["etcdserver"].startswith("3.4.")


def test_podplay_reaches_the_store_with_its_own_certificate(cluster: Cluster) -> None:
    store = controller_store(cluster)
    store.put(FROM_PODPLAY, "from podplay")
    out = store_cli(cluster, "node3", "get", FROM_PODPLAY)
    assert out.stdout == f"{FROM_PODPLAY}\tfrom podplay\n"


def test_data_survives_site_runs_which_change_nothing_in_the_store(cluster: Cluster) -> None:
    """The store's role changes nothing on a re-run. Tests before this one may have left
    other roles' files otherwise (other variables), so the run after that must be a no-op
    as a whole: site.yml twice, changed=0."""
    assert store_cli(cluster, "node1", "put", KEY, "kept").ok
    again = run_playbook(cluster, "site.yml")
    assert again.ok, again.output_tail[-2000:]
    changed = [f"{e.host}: {e.task}" for e in again.changed_tasks]
    assert not [c for c in changed if "control_plane" in c], changed
    twice = run_playbook(cluster, "site.yml")
    assert twice.ok and twice.changed == 0, [f"{e.host}: {e.task}" for e in twice.changed_tasks]
    assert store_cli(cluster, "node3", "get", KEY).stdout == f"{KEY}\tkept\n"


def test_data_survives_a_member_restart(cluster: Cluster) -> None:
    assert store_cli(cluster, "node1", "put", KEY, "before restart").ok
    node_exec(cluster, "node2", "systemctl restart etcd", check=True)
    all_healthy(cluster)
    assert store_cli(cluster, "node2", "get", KEY).stdout == f"{KEY}\tbefore restart\n"


def test_losing_one_member_of_three_keeps_the_store_writable(cluster: Cluster) -> None:
    leader = next(m["name"] for m in all_healthy(cluster)["members"] if m["leader"])
    others = [n.name for n in cluster.nodes if n.name != leader]
    node_exec(cluster, leader, "systemctl stop etcd", check=True)
    try:
        wrote = wait_until(
            lambda: store_cli(cluster, others[0], "put", KEY, "one member down").ok,
            timeout=30,
            what="a write with the leader's member stopped",
        )
        assert wrote
        assert store_cli(cluster, others[1], "get", KEY).stdout == f"{KEY}\tone member down\n"
        quorum = health(cluster, others[0], "--quorum")
        assert quorum["healthy"] and not health(cluster, others[0])["healthy"]
        stopped = next(m for m in quorum["members"] if m["name"] == leader)
        assert not stopped["healthy"]
    finally:
        node_exec(cluster, leader, "systemctl start etcd", check=True)
    all_healthy(cluster)
    assert store_cli(cluster, leader, "get", KEY).stdout == f"{KEY}\tone member down\n"
