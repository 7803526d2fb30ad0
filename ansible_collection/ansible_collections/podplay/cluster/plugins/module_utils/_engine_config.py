# Copyright podplay developers. Apache-2.0.
"""The Docker engine's daemon.json as the runtime role wants it: the OCI runtime pods run
under is registered (`runtimes`), and nothing else of the file is touched (pure; the module
engine_runtime reads, writes and reloads)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json


class EngineConfigError(ValueError):
    """daemon.json cannot be read as the engine would read it."""


def with_runtime(text, name, path):
    """daemon.json's text with runtime `name` registered at `path`, or None when it already
    is (under any path: an entry the host's owner made is theirs). `text` None: no file."""
    doc = {}
    if text is not None and text.strip():
        try:
            doc = json.loads(text)
        except ValueError as err:
            raise EngineConfigError("not valid JSON (%s)" % err) from None
        if not isinstance(doc, dict):
            raise EngineConfigError("expected a JSON object, got %s" % type(doc).__name__)
    runtimes = doc.get("runtimes")
    if runtimes is None:
        runtimes = {}
    if not isinstance(runtimes, dict):
        raise EngineConfigError("runtimes: expected an object, got %s" % type(runtimes).__name__)
    if name in runtimes:
        return None
    doc["runtimes"] = dict(runtimes, **{name: {"path": path}})
    return json.dumps(doc, indent=2) + "\n"


def runtimes_listed(info_json):
    """Runtime name -> its binary (as given; "" when the engine names none) from
    `docker info --format '{{json .Runtimes}}'` output."""
    try:
        listed = json.loads(info_json or "{}")
    except ValueError:
        return {}
    if not isinstance(listed, dict):
        return {}
    return dict(
        (name, (entry.get("path") or "") if isinstance(entry, dict) else "")
        for name, entry in listed.items()
    )
