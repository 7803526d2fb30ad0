"""Manifest parsing: good manifests become specs, bad ones a Failed reason, never a crash."""

from __future__ import annotations

import json

import pytest
from agent_builders import CIDR, manifest

from podplay.node.agent.manifest import (
    INVALID_MANIFEST,
    IP_OUTSIDE_CIDR,
    InvalidPod,
    PodSpec,
    key_from_filename,
    parse_manifest,
)


def parse(doc, fname="default_web-1.json", cidr=CIDR):
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return parse_manifest(fname, data, cidr)


def test_readme_example_parses_with_defaults() -> None:
    spec = parse(manifest())
    assert isinstance(spec, PodSpec)
    assert spec.key == ("default", "web-1")
    c = spec.containers[0]
    assert c.env == (("MODE", "prod"),)
    assert c.cpu_millis == 250 and c.memory_bytes == 64 * 1024 * 1024
    assert c.readiness is not None and c.readiness.period == 10.0 and c.readiness.port == 8080
    assert c.liveness is None
    assert spec.dns is not None and spec.dns.nameservers == ("10.96.0.10",)


def test_probe_defaults_are_kubernetes_defaults() -> None:
    doc = manifest()
    doc["containers"][0]["liveness"] = {"type": "tcp", "port": 8080}
    p = parse(doc).containers[0].liveness
    assert (p.period, p.timeout, p.failure_threshold, p.success_threshold, p.initial_delay) == (
        10.0,
        1.0,
        3,
        1,
        0.0,
    )


def test_config_hash_ignores_probes_but_not_image() -> None:
    a = parse(manifest()).containers[0]
    doc = manifest()
    doc["containers"][0]["readiness"]["period"] = 3
    assert parse(doc).containers[0].config_hash == a.config_hash
    doc["containers"][0]["image"] = "podplay/web:2"
    assert parse(doc).containers[0].config_hash != a.config_hash


def _set(doc, path, value):
    target = doc
    for p in path[:-1]:
        target = target[p]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


_DELETE = object()

BAD = [
    # (path, value, reason, words the message must contain)
    (("containers",), [], INVALID_MANIFEST, "containers: expected a non-empty list"),
    (("containers", 0, "image"), _DELETE, INVALID_MANIFEST, "containers[0].image: missing"),
    (("name",), _DELETE, INVALID_MANIFEST, "name: missing"),
    (("ip",), "10.244.2.9", IP_OUTSIDE_CIDR, "outside this node's pod CIDR 10.244.1.0/24"),
    (("ip",), "10.244.1.1", IP_OUTSIDE_CIDR, "gateway"),
    (("ip",), "10.244.1.255", IP_OUTSIDE_CIDR, "reserved"),
    (("ip",), "nope", INVALID_MANIFEST, "not an IPv4 address"),
    (("restart_policy",), "Sometimes", INVALID_MANIFEST, "restart_policy: 'Sometimes'"),
    (("containers", 0, "env"), {"A": 1}, INVALID_MANIFEST, "containers[0].env.A"),
    (("containers", 0, "readiness", "type"), "grpc", INVALID_MANIFEST, "readiness.type"),
    (("containers", 0, "readiness", "period"), 0, INVALID_MANIFEST, "readiness.period"),
    (("containers", 0, "readiness", "failure_threshold"), 0, INVALID_MANIFEST, "failure_threshold"),
    (("containers", 0, "readiness", "port"), 70000, INVALID_MANIFEST, "readiness.port"),
    (("containers", 0, "name"), "Web_1", INVALID_MANIFEST, "not a DNS label"),
    (("containers", 0, "resources", "memory_bytes"), 1024, INVALID_MANIFEST, "6 MiB"),
    (("uid",), "a/b", INVALID_MANIFEST, "uid"),
    (("termination_grace_period",), -1, INVALID_MANIFEST, "must be 0 to 2147483647 seconds"),
    (("termination_grace_period",), 10**30, INVALID_MANIFEST, "must be 0 to 2147483647 seconds"),
    (("containers", 0, "ports"), 1, INVALID_MANIFEST, "containers[0].ports: expected a list"),
    (("containers", 0, "readiness", "period"), float("nan"), INVALID_MANIFEST, "readiness.period"),
    (("containers", 0, "readiness", "timeout"), float("inf"), INVALID_MANIFEST, "timeout"),
    (("kind",), "Deployment", INVALID_MANIFEST, "apiVersion/kind"),
    (("dns", "nameservers"), ["x"], INVALID_MANIFEST, "dns.nameservers"),
]


@pytest.mark.parametrize(("path", "value", "reason", "words"), BAD)
def test_bad_field_is_a_failed_pod_with_a_sentence(path, value, reason, words) -> None:
    out = parse(_set(manifest(), path, value))
    assert isinstance(out, InvalidPod)
    assert out.reason == reason
    assert words in out.message
    assert out.message.startswith("default_web-1.json: ")
    assert out.key == ("default", "web-1")


def test_duplicate_container_names() -> None:
    doc = manifest()
    doc["containers"].append(dict(doc["containers"][0]))
    out = parse(doc)
    assert isinstance(out, InvalidPod) and "used twice" in out.message


@pytest.mark.parametrize(
    "data", [b"{not json", b"\xff\xfe", b"", b"[1, 2]", b"null", b"[" * 100_000]
)
def test_not_json_or_not_an_object(data) -> None:
    out = parse(data)
    assert isinstance(out, InvalidPod)
    assert out.reason == INVALID_MANIFEST
    assert out.key == ("default", "web-1")


def test_file_name_must_match_pod() -> None:
    out = parse(manifest(), fname="default_other.json")
    assert isinstance(out, InvalidPod)
    assert "default_web-1.json" in out.message
    assert out.key == ("default", "other")


def test_invalid_keeps_labels_and_ip_for_reporting() -> None:
    out = parse(manifest(ip="10.9.9.9"))
    assert isinstance(out, InvalidPod)
    assert out.ip == "10.9.9.9" and dict(out.labels) == {"app": "web"}


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("default_web.json", ("default", "web")),
        ("kube-system_dns-1.json", ("kube-system", "dns-1")),
        ("web.json", None),
        (".default_web.json.tmp", None),
        ("default_web.json.tmp", None),
        (".default_web.json", None),
    ],
)
def test_key_from_filename(name, key) -> None:
    assert key_from_filename(name) == key


def test_a_shape_nobody_foresaw_is_still_one_failed_pod(monkeypatch) -> None:
    # whatever the parser trips over, the agent gets a Failed pod, never an exception
    from podplay.node.agent import manifest as m

    def boom(doc, f):
        raise TypeError("'int' object is not iterable")

    monkeypatch.setattr(m, "_pod", boom)
    out = parse(manifest())
    assert isinstance(out, InvalidPod) and out.reason == INVALID_MANIFEST
    assert out.message == (
        "default_web-1.json: cannot be read (TypeError: 'int' object is not iterable)"
    )
