# Copyright podplay developers. Apache-2.0.
"""Action plugin podplay.cluster.images: side-load images a node lacks, in one task.

Runs on the controller: asks the node which image ids it has (`docker images`), then copies
and `docker load`s only the archives of images it lacks (by id, as `kind load` does), and
tags ids it has under another name. Supports check mode and diff. Nodes pull nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shlex

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.podplay.cluster.plugins.module_utils._images import (
    LIST_FORMAT,
    LOAD,
    PRESENT,
    TAG,
    ImageInputError,
    listing,
    parse_image_list,
    side_load_plan,
    wanted_images,
)

REPORTED_AS = {PRESENT: "present", TAG: "tagged", LOAD: "loaded"}


class ActionModule(ActionBase):
    # False: Ansible would make a remote tmp before every run (two more remote commands on
    # each node, even with nothing to load) and _side_load's own would then replace it in the
    # shell's record, leaving the first behind. _side_load makes one only when it loads.
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("images", "docker"))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        docker = self._task.args.get("docker") or "docker"
        try:
            wanted = wanted_images(self._task.args.get("images") or [])
        except ImageInputError as err:
            raise AnsibleActionFail("images: %s" % err) from None
        result.update(changed=False, loaded=[], tagged=[], present=[])
        if not wanted:
            return result
        refs, ids = self._node_images(docker)
        plan = side_load_plan(wanted, refs, ids)
        self._report_plan(result, plan, task_vars.get("inventory_hostname"))
        if self._play_context.diff and result["changed"]:
            result["diff"] = images_diff(wanted, refs)
        if self._play_context.check_mode or not result["changed"]:
            return result
        self._side_load(docker, plan)
        self._check_loaded(docker, wanted)
        return result

    def _sh(self, cmd, what):
        res = self._low_level_execute_command(cmd)
        if res.get("rc") != 0:
            err = (res.get("stderr") or res.get("stdout") or "").strip()
            raise AnsibleActionFail("images: %s failed on the node: %s" % (what, err))
        return res.get("stdout") or ""

    def _node_images(self, docker):
        """(ref -> id, set of ids) of the images the node has."""
        listed = self._sh(
            "%s images --no-trunc --format %s" % (docker, shlex.quote(LIST_FORMAT)),
            "listing images",
        )
        return parse_image_list(listed)

    @staticmethod
    def _report_plan(result, plan, host):
        """Each ref under present/tagged/loaded; fails, changing nothing, when an image to load
        has no archive on the controller."""
        for e, action in plan:
            result[REPORTED_AS[action]].append(e["ref"])
            if action == LOAD and not os.path.isfile(e["archive"]):
                raise AnsibleActionFail(
                    "images: %s is not on %s and its archive %r is not on the controller"
                    % (e["ref"], host, e["archive"])
                )
        result["changed"] = bool(result["loaded"] or result["tagged"])

    def _side_load(self, docker, plan):
        """Tag and load as planned; the archives go through one remote temporary directory."""
        remote_tmp = None
        try:
            for e, action in plan:
                if action == TAG:
                    self._tag(docker, e)
                elif action == LOAD:
                    if remote_tmp is None:
                        remote_tmp = self._make_tmp_path()
                    self._load(docker, e, remote_tmp)
        finally:
            if remote_tmp is not None:
                self._remove_tmp_path(remote_tmp)

    def _tag(self, docker, e):
        self._sh(
            "%s tag %s %s" % (docker, shlex.quote(e["id"]), shlex.quote(e["ref"])),
            "tagging %s" % e["ref"],
        )

    def _load(self, docker, e, remote_tmp):
        dest = self._connection._shell.join_path(remote_tmp, os.path.basename(e["archive"]))
        self._transfer_file(e["archive"], dest)
        self._sh("%s load -q -i %s" % (docker, shlex.quote(dest)), "loading %s" % e["ref"])
        self._sh("rm -f %s" % shlex.quote(dest), "removing %s" % dest)
        if e["id"] is not None:
            # archives are cached by image id: one saved under another name
            # (two images built from the same context) loads under that name
            self._tag(docker, e)

    def _check_loaded(self, docker, wanted):
        """Fails when a wanted ref is still missing or has another id than planned."""
        refs, _ids = self._node_images(docker)
        wrong = [
            e["ref"]
            for e in wanted
            if e["ref"] not in refs or (e["id"] is not None and refs[e["ref"]] != e["id"])
        ]
        if wrong:
            raise AnsibleActionFail(
                "images: after loading, %s still do not have the planned ids "
                "(the archives hold other images?)" % ", ".join(wrong)
            )


def images_diff(wanted, refs):
    """The diff: each wanted ref's id on the node before, and after the side-load."""
    after = dict(refs)
    after.update((e["ref"], e["id"] or "(loaded)") for e in wanted)
    return dict(
        before_header="images", after_header="images",
        before=listing(wanted, refs), after=listing(wanted, after),
    )  # fmt: skip
