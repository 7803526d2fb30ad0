"""Admission: images present (by id), pause image, one pod per IP (pure)."""

from __future__ import annotations

from agent_builders import spec

from podplay.node.agent.admission import admit, normalize_ref
from podplay.node.agent.manifest import InvalidPod

WEB = spec()
IMAGES = {"podplay/web:1": "sha256:aa", "podplay/pause:1": "sha256:pp"}


def test_all_present_is_admitted() -> None:
    desired, failed = admit({WEB.key: WEB}, IMAGES, "podplay/pause:1")
    assert desired == {WEB.key: WEB} and failed == {}


def test_missing_image_fails_the_pod_with_the_image_named() -> None:
    _, failed = admit({WEB.key: WEB}, {"podplay/pause:1": "sha256:pp"}, "podplay/pause:1")
    f = failed[WEB.key]
    assert f.reason == "ImageNotPresent"
    assert "container web: image podplay/web:1 is not on this node" in f.message
    assert f.message.startswith("default_web-1.json: ")


def test_image_with_another_id_fails() -> None:
    images = {**IMAGES, "podplay/web:1": "sha256:bb"}
    _, failed = admit({WEB.key: WEB}, images, "podplay/pause:1")
    assert "planned with sha256:aa" in failed[WEB.key].message


def test_pause_image_missing_or_unconfigured() -> None:
    _, failed = admit({WEB.key: WEB}, {"podplay/web:1": "sha256:aa"}, "podplay/pause:1")
    assert "pause image podplay/pause:1" in failed[WEB.key].message
    _, failed = admit({WEB.key: WEB}, IMAGES, "")
    assert "not configured" in failed[WEB.key].message


def test_second_pod_with_the_same_ip_fails() -> None:
    other = spec(name="web-2")  # same IP as web-1
    desired, failed = admit({WEB.key: WEB, other.key: other}, IMAGES, "podplay/pause:1")
    assert list(desired) == [WEB.key]
    assert failed[other.key].reason == "IPConflict"
    assert "held by pod default/web-1" in failed[other.key].message


def test_invalid_manifests_pass_through() -> None:
    bad = InvalidPod("default", "x", "InvalidManifest", "x")
    _, failed = admit({bad.key: bad}, IMAGES, "podplay/pause:1")
    assert failed[bad.key] is bad


def test_normalize_ref() -> None:
    assert normalize_ref("busybox") == "busybox:latest"
    assert normalize_ref("docker.io/library/busybox:1") == "busybox:1"
    assert normalize_ref("localhost:5000/x") == "localhost:5000/x:latest"
    assert normalize_ref("x@sha256:ab") == "x@sha256:ab"


def test_the_pod_that_runs_keeps_its_ip_against_a_newcomer_first_by_name() -> None:
    """The newcomer `web-0` sorts before the running `web-1`: it is still the one refused."""
    newcomer = spec(name="web-0")  # same IP as web-1
    pods = {WEB.key: WEB, newcomer.key: newcomer}
    desired, failed = admit(pods, IMAGES, "podplay/pause:1", running={WEB.key})
    assert list(desired) == [WEB.key]
    assert failed[newcomer.key].reason == "IPConflict"
    assert "held by pod default/web-1" in failed[newcomer.key].message
    # with neither running, the first by name keeps it (as before)
    desired, failed = admit(pods, IMAGES, "podplay/pause:1")
    assert list(desired) == [newcomer.key] and list(failed) == [WEB.key]
