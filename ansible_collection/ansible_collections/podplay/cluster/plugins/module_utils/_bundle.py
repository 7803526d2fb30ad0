# -*- coding: utf-8 -*-
# Copyright podplay developers. Apache-2.0.
"""Hand a module's desired state to the node bundle, which validates and writes it.

`python3 <bundle_path> files apply <kind> --desired - [--check] [--diff]` reads the desired
state as JSON on stdin, checks it with the node contract (the parsers the agent and the proxy
use), writes what differs and prints a JSON result; the modules return that result. The file
formats live in the node bundle only (podplay.node.contract), never here. The binding table
goes the same way into the store (`store apply-table --desired -`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

BUNDLE_PATH = "/opt/podplay/podplay-node.pyz"


def files_apply(module, kind, desired, prefix="", would_change=None):
    """The bundle's result for `desired` (a dict); fails the module with the bundle's message.

    In check mode on a node whose bundle is not installed yet (or predates `files apply`),
    the module exits reporting a change it cannot compute, with `would_change` as its
    return values and a message saying why, instead of failing.
    """
    what = "the %s files" % kind
    return bundle_apply(module, ["files", "apply", kind], what, desired, prefix, would_change)


def bundle_apply(module, command, what, desired, prefix="", would_change=None):
    """`python3 <bundle> <command...> --desired - [--check] [--diff]`, as `files_apply`
    (`what` names what is written, for messages)."""
    bundle = module.params["bundle_path"]
    if not os.path.exists(bundle):
        why = "node bundle %s is missing (the node role installs it)" % bundle
        _bundle_unusable(module, what, would_change, prefix + why)
    argv = ["python3", bundle, *list(command), "--desired", "-"]
    if module.check_mode:
        argv.append("--check")
    if module._diff:
        argv.append("--diff")
    rc, out, err = module.run_command(argv, data=json.dumps(desired))
    try:
        result = json.loads(out)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        detail = ((err or out).strip().splitlines() or ["exit status %d" % rc])[-1]
        why = "node bundle %s cannot apply %s: %s" % (bundle, what, detail)
        _bundle_unusable(module, what, would_change, prefix + why)
    if rc != 0 or result.get("failed"):
        module.fail_json(msg=prefix + str(result.get("msg") or err.strip()))
    result.pop("failed", None)
    return result


def _bundle_unusable(module, what, would_change, failure):
    """Check mode: report the change a real run makes (it installs the bundle first)."""
    if module.check_mode:
        module.exit_json(
            changed=True,
            msg="the node bundle %s is missing or outdated on this node; a real run installs "
            "it and writes %s with it" % (module.params["bundle_path"], what),
            **(would_change or {}),
        )
    module.fail_json(msg=failure)
