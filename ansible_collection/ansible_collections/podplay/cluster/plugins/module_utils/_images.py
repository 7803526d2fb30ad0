# Copyright podplay developers. Apache-2.0.
"""Side-loading images onto a node only when it lacks them (logic of the `images` action;
pure, unit-tested). As `kind load` does, the comparison is by image id: a node that has the
id under the wanted name needs nothing; one that has the id under another name only needs a
tag; otherwise the archive is copied and loaded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# `docker images` output this module parses: one "<id> <repository>:<tag>" per line
LIST_FORMAT = "{{.ID}} {{.Repository}}:{{.Tag}}"

PRESENT = "present"
TAG = "tag"
LOAD = "load"


class ImageInputError(ValueError):
    """An image entry the action cannot use."""


def wanted_images(entries):
    """Validated, de-duplicated `{ref, id, archive}` entries (None and empty ones skipped)."""
    out = []
    seen = {}
    for i, e in enumerate(entries or []):
        if not e:
            continue
        if not isinstance(e, dict):
            raise ImageInputError("images[%d]: expected {ref, id, archive}, got %r" % (i, e))
        if not isinstance(e.get("ref"), str) or not e.get("ref"):
            raise ImageInputError("images[%d].ref: a non-empty string is required" % i)
        image_id = e.get("id") or None  # unknown until built: then the name alone is compared
        if image_id is not None and (
            not isinstance(image_id, str) or not image_id.startswith("sha256:")
        ):
            raise ImageInputError("images[%d].id: expected sha256:<hex>, got %r" % (i, image_id))
        ref = normalize_ref(e["ref"])
        if ref in seen:
            if seen[ref]["id"] != image_id:
                raise ImageInputError(
                    "images[%d]: %s is listed twice with different ids (%s, %s)"
                    % (i, ref, seen[ref]["id"], image_id)
                )
            continue
        entry = {"ref": ref, "id": image_id, "archive": e.get("archive") or ""}
        seen[ref] = entry
        out.append(entry)
    return out


def normalize_ref(ref):
    """`busybox` -> `busybox:latest` (how `docker images` shows it)."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
    if "@" not in ref and ":" not in ref.rsplit("/", 1)[-1]:
        ref += ":latest"
    return ref


def parse_image_list(text):
    """(ref -> id, set of ids) from `docker images --no-trunc --format LIST_FORMAT`."""
    refs = {}
    ids = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        image_id, ref = parts
        if not image_id.startswith("sha256:"):
            image_id = "sha256:" + image_id
        ids.add(image_id)
        if "<none>" not in ref:
            refs[ref] = image_id
    return refs, ids


def side_load_plan(wanted, refs, ids):
    """[(entry, PRESENT|TAG|LOAD)] for each wanted image, in order: an id loaded for one
    entry is only tagged for a later entry of the same id (one copy of each archive)."""
    out = []
    loading = set()
    for e in wanted:
        have = refs.get(e["ref"])
        if have is not None and (e["id"] is None or have == e["id"]):
            out.append((e, PRESENT))
        elif e["id"] is not None and (e["id"] in ids or e["id"] in loading):
            out.append((e, TAG))
        else:
            out.append((e, LOAD))
            if e["id"] is not None:
                loading.add(e["id"])
    return out


def listing(wanted, refs):
    """Diff text: each wanted ref and the id the node has for it."""
    return "".join("%s  %s\n" % (e["ref"], (refs.get(e["ref"]) or "(absent)")[:19]) for e in wanted)
