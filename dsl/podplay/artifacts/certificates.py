"""Making and checking the cluster's certificates (the `cryptography` package).

`podplay.artifacts.pki` decides when this is needed: only when its record of what was issued
does not match the files (a new cluster, a node's new address, a file changed or close to
expiry), so an unchanged cluster's compile never imports `cryptography` at all.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 10
LEAF_YEARS = 5
BACKDATE = datetime.timedelta(days=1)  # a node's clock a little behind ours still accepts it
LOOPBACK = "127.0.0.1"
_DNS_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9-]{1,63})*")


@dataclass(frozen=True)
class Leaf:
    """What a leaf certificate must say."""

    name: str
    address: str | None
    server: bool

    def ips(self) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        if not self.server:
            return set()
        return {ipaddress.ip_address(self.address or LOOPBACK), ipaddress.ip_address(LOOPBACK)}

    def dns(self) -> set[str]:
        return {self.name} if self.server and _DNS_NAME.fullmatch(self.name) else set()


def ensure_ca(
    cert_path: Path, key_path: Path, cluster: str, now: datetime.datetime
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The cluster CA: the one there when both files load, else a new one."""
    existing = _load_pair(cert_path, key_path)
    if existing is not None:
        return existing
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"podplay {cluster} CA")])
    cert = (
        _builder(subject, subject, key.public_key(), now, CA_YEARS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return key, cert


def ensure_leaf(
    cert_path: Path,
    key_path: Path,
    leaf: Leaf,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    now: datetime.datetime,
    renew_before: datetime.timedelta,
) -> x509.Certificate:
    """The leaf's certificate: the one there when it is still good (and not expiring within
    `renew_before`, the caller's renewal policy), else a new one."""
    existing = _load_pair(cert_path, key_path)
    if existing is not None and _still_good(existing[1], leaf, ca_cert, now + renew_before):
        return existing[1]
    key = ec.generate_private_key(ec.SECP256R1())
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if leaf.server:
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        _builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, leaf.name)]),
            ca_cert.subject,
            key.public_key(),
            now,
            LEAF_YEARS,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in sorted(leaf.dns())]
    names += [x509.IPAddress(ip) for ip in sorted(leaf.ips(), key=str)]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    return cert


def _still_good(
    cert: x509.Certificate, leaf: Leaf, ca_cert: x509.Certificate, valid_until: datetime.datetime
) -> bool:
    """Signed by this CA, for this name and these addresses, valid until `valid_until`."""
    try:
        ca_cert.public_key().verify(  # type: ignore[call-arg,union-attr]
            cert.signature,
            cert.tbs_certificate_bytes,
            ec.ECDSA(cert.signature_hash_algorithm),  # type: ignore[arg-type]
        )
    except (InvalidSignature, TypeError, ValueError):
        return False
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names or names[0].value != leaf.name or cert.issuer != ca_cert.subject:
        return False
    if cert.not_valid_after_utc < valid_until:
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ips = set(san.get_values_for_type(x509.IPAddress))
        dns = set(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        ips, dns = set(), set()
    return ips == leaf.ips() and dns == leaf.dns()


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: object, now: datetime.datetime, years: int
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=365 * years))
    )


def _usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not cert_sign,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _load_pair(
    cert_path: Path, key_path: Path
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
    """The key and certificate when both exist, parse and belong together."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        return None
    return key, cert


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(path, data, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    _write(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Atomically, with the mode set before any byte is written."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
