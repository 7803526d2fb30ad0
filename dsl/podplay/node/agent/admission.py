"""Admission: which parsed manifests can run on this node right now.

A manifest can be well-formed and still not runnable here: its image is not on the node,
the pause image is missing, or another pod already holds its IP. Those pods are reported
Failed with the reason and re-admitted as soon as the cause goes away (an image arrives).
Pure: the engine's images come in as a mapping, the pods that run as a set of keys.

Two manifests with one IP: the pod that already runs (containers of it are on the engine)
keeps it and the newcomer is refused; a running pod is never evicted by a manifest that
arrives later. Between two that both run, or neither, the first by name keeps it.
"""

from __future__ import annotations

from typing import AbstractSet, Dict, Mapping, Optional, Tuple

from .manifest import InvalidPod, Manifest, PodSpec

IMAGE_NOT_PRESENT = "ImageNotPresent"
IP_CONFLICT = "IPConflict"

PodKey = Tuple[str, str]


def normalize_ref(ref: str) -> str:
    """`busybox` -> `busybox:latest`; drops Docker Hub prefixes so refs compare like RepoTags."""
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
    if "@" in ref:
        return ref
    if ":" not in ref.rsplit("/", 1)[-1]:
        ref += ":latest"
    return ref


def image_problem(ref: str, want_id: Optional[str], images: Mapping[str, str]) -> Optional[str]:
    """Why `ref` cannot be used on this node (None when it can). `images`: ref -> image id."""
    have = images.get(normalize_ref(ref))
    if have is None:
        return "image %s is not on this node (nodes pull nothing: it must be side-loaded)" % ref
    if want_id and have != want_id:
        return "image %s on this node is %s, the pod was planned with %s" % (
            ref,
            have[:19],
            want_id[:19],
        )
    return None


def admit(
    manifests: Mapping[PodKey, Manifest],
    images: Mapping[str, str],
    pause_image: str,
    running: AbstractSet[PodKey] = frozenset(),
) -> Tuple[Dict[PodKey, PodSpec], Dict[PodKey, InvalidPod]]:
    """Split manifests into pods to run and pods to report as Failed. `running`: pods with
    containers on the engine (they keep their IP against a newcomer)."""
    desired: Dict[PodKey, PodSpec] = {}
    failed: Dict[PodKey, InvalidPod] = {}
    ips: Dict[str, PodKey] = {}
    if pause_image:
        pause = image_problem(pause_image, None, images)
    else:
        pause = "image is not configured for this node (the agent role's podplay_pause_image)"
    for key in sorted(manifests, key=lambda k: (k not in running, k)):
        m = manifests[key]
        if isinstance(m, InvalidPod):
            failed[key] = m
            continue
        problem = None
        if pause is not None:
            problem = (IMAGE_NOT_PRESENT, "pause %s" % pause)
        for c in m.containers:
            if problem is None:
                why = image_problem(c.image, c.image_id, images)
                if why is not None:
                    problem = (IMAGE_NOT_PRESENT, "container %s: %s" % (c.name, why))
        holder = ips.get(m.ip)
        if problem is None and holder is not None:
            problem = (
                IP_CONFLICT,
                "ip %s is already held by pod %s/%s on this node" % (m.ip, holder[0], holder[1]),
            )
        if problem is not None:
            failed[key] = InvalidPod(
                m.namespace,
                m.name,
                problem[0],
                "%s: %s" % (m.file, problem[1]) if m.file else problem[1],
                file=m.file,
                uid=m.uid,
                ip=m.ip,
                labels=m.labels,
            )
            continue
        ips[m.ip] = key
        desired[key] = m
    return desired, failed
