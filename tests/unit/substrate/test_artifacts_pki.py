"""The cluster's certificates: what each says, private keys private, made once, a node's
re-issued only when its name or address (or the CA) changed."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from podplay.artifacts import pki

NODES = [("node1", "172.30.0.11"), ("node2", "172.30.0.12")]


def cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_node_certificates_name_the_node_and_its_addresses(tmp_path: Path) -> None:
    made = pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    ca = cert(made.ca_cert)
    node = cert(made.node_cert("node1"))
    assert node.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "node1"
    assert node.issuer == ca.subject
    san = node.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("172.30.0.11"),
        ipaddress.ip_address("127.0.0.1"),
    }
    usage = node.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usage) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    client = cert(made.client_cert)
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    ca.public_key().verify(  # type: ignore[call-arg]
        client.signature,
        client.tbs_certificate_bytes,
        ec.ECDSA(client.signature_hash_algorithm),  # type: ignore[arg-type]
    )


def test_private_keys_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    made = pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    assert made.directory.stat().st_mode & 0o777 == 0o700
    for key in (made.ca_key, made.client_key, made.node_key("node1"), made.node_key("node2")):
        assert key.stat().st_mode & 0o777 == 0o600, key
    assert made.ca_cert.stat().st_mode & 0o777 == 0o644


def test_a_second_run_reuses_every_file(tmp_path: Path) -> None:
    pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    before = snapshot(tmp_path / "pki")
    pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    assert snapshot(tmp_path / "pki") == before


def test_only_the_node_whose_address_changed_is_reissued(tmp_path: Path) -> None:
    made = pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    before = snapshot(tmp_path / "pki")
    pki.ensure_pki(tmp_path / "pki", "shop", [("node1", "172.30.0.11"), ("node2", "172.30.0.99")])
    after = snapshot(tmp_path / "pki")
    changed = sorted(name for name in before if before[name] != after[name])
    assert changed == ["issued.json", "node2.crt", "node2.key"]
    san = cert(made.node_cert("node2")).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert ipaddress.ip_address("172.30.0.99") in san.value.get_values_for_type(x509.IPAddress)


def test_a_new_ca_reissues_every_certificate(tmp_path: Path) -> None:
    made = pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    old_node = made.node_cert("node1").read_bytes()
    made.ca_key.unlink()
    pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    assert made.node_cert("node1").read_bytes() != old_node
    assert cert(made.node_cert("node1")).issuer == cert(made.ca_cert).subject


def test_a_certificate_close_to_expiry_is_reissued(tmp_path: Path) -> None:
    made = pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    old = made.node_cert("node1").read_bytes()
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=365 * 5 - 10)
    pki.ensure_pki(tmp_path / "pki", "shop", NODES, now=later)
    assert made.node_cert("node1").read_bytes() != old


def test_nodes_without_an_address_get_no_certificate_yet(tmp_path: Path) -> None:
    made = pki.ensure_pki(tmp_path / "pki", "shop", [("node1", None)])
    assert made.ca_cert.exists() and made.client_cert.exists()
    assert not made.node_cert("node1").exists()


def test_an_unchanged_cluster_is_vouched_for_by_the_record_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second run parses no certificate: `cryptography` is not even imported."""
    pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    before = snapshot(tmp_path / "pki")
    monkeypatch.setitem(sys.modules, "podplay.artifacts.certificates", None)  # import fails
    monkeypatch.delattr("podplay.artifacts.certificates", raising=False)
    pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    pki.ensure_pki(tmp_path / "pki", "shop", NODES[:1])  # fewer nodes: still all recorded
    assert snapshot(tmp_path / "pki") == before
    with pytest.raises(ImportError):  # anything the record does not vouch for is checked
        pki.ensure_pki(tmp_path / "pki", "shop", [*NODES, ("node3", "172.30.0.13")])


def test_a_file_that_changed_since_the_record_is_checked_again(tmp_path: Path) -> None:
    made = pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    shutil.copy(made.node_cert("node2"), made.node_cert("node1"))  # valid, but node2's
    shutil.copy(made.node_key("node2"), made.node_key("node1"))
    pki.ensure_pki(tmp_path / "pki", "shop", NODES)
    node1 = cert(made.node_cert("node1"))
    assert node1.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "node1"
