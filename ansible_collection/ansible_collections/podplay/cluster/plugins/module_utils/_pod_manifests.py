# Copyright podplay developers. Apache-2.0.
"""Make a node's pod manifest directory exactly a given set of pods (logic of the
`pod_manifests` module; the plan is pure and unit-tested, the apply is atomic per file).

Each pod becomes `<namespace>_<name>.json` in canonical JSON (same pod, same bytes), so an
unchanged set rewrites nothing and reports `changed=false`. Files of pods no longer bound to
this node are removed; the agent sees the directory change and stops those pods.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import hashlib
import json
import os
import re

from ansible_collections.podplay.cluster.plugins.module_utils._files import write_atomic

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class ManifestInputError(ValueError):
    """A pod in the module's input that cannot become a manifest file."""


def manifest_text(pod):
    """Canonical JSON of one pod (sorted keys, fixed separators, trailing newline)."""
    return json.dumps(pod, indent=1, sort_keys=True, separators=(",", ": ")) + "\n"


def manifest_files(pods):
    """{file name: text} for the pods; raises ManifestInputError naming the bad pod."""
    out = {}
    for i, pod in enumerate(pods):
        if not isinstance(pod, dict):
            raise ManifestInputError("pods[%d]: expected a pod manifest (a mapping)" % i)
        ns, name = pod.get("namespace"), pod.get("name")
        for field, value in (("namespace", ns), ("name", name)):
            if not isinstance(value, str) or not _LABEL.match(value) or len(value) > 63:
                raise ManifestInputError(
                    "pods[%d].%s: %r is not a DNS label (lowercase letters, digits, '-')"
                    % (i, field, value)
                )
        fname = "%s_%s.json" % (ns, name)
        if fname in out:
            raise ManifestInputError("pods[%d]: pod %s/%s is listed twice" % (i, ns, name))
        out[fname] = manifest_text(pod)
    return out


def is_manifest_name(name):
    return name.endswith(".json") and not name.startswith(".") and "_" in name


def plan(current, desired):
    """What to do: (write: sorted names, remove: sorted names). Pure.

    `current`: {file name: text} of manifest files on the node; `desired`: the same, wanted.
    """
    write = sorted(n for n, text in desired.items() if current.get(n) != text)
    remove = sorted(n for n in current if n not in desired)
    return write, remove


def read_dir(path):
    """{file name: text} of the manifest files in `path` ({} when it does not exist)."""
    out = {}
    try:
        names = os.listdir(path)
    except OSError:
        return out
    for name in names:
        if not is_manifest_name(name):
            continue
        try:
            with open(os.path.join(path, name), "rb") as f:
                out[name] = f.read().decode("utf-8", "replace")
        except (IOError, OSError):
            continue
    return out


def leftovers(path):
    """Temporary files of an interrupted earlier run."""
    try:
        return sorted(
            n for n in os.listdir(path) if n.startswith(".podplay-") and n.endswith(".tmp")
        )
    except OSError:
        return []


def apply(path, desired, write, remove):
    """Write and remove files (each write is temp file + rename, so readers see whole files)."""
    if not os.path.isdir(path):
        os.makedirs(path, 0o755)
    for name in write:
        write_atomic(os.path.join(path, name), desired[name], 0o644)
    for name in remove:
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(path, name))
    for name in leftovers(path):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(path, name))


def listing(files):
    """One line per file with a short content hash: the diff's before/after."""
    return "".join(
        "%s  %s\n" % (name, hashlib.sha256(text.encode("utf-8")).hexdigest()[:12])
        for name, text in sorted(files.items())
    )
