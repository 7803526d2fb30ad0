# -*- coding: utf-8 -*-
# Copyright podplay developers. Apache-2.0.
"""Machine-readable results of a playbook run, next to the normal human output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: stats_json
type: notification
short_description: write per-host stats and the changed/failed tasks of a run to a JSON file
description:
  - A notification callback; the usual output still streams from the stdout callback.
  - At the end of the run it writes one JSON document to the file named by
    C(PODPLAY_STATS_FILE) with, per host, the counts ansible-playbook prints in its recap
    (ok, changed, failures, unreachable, skipped, rescued, ignored), the list of tasks that
    reported changed, failed or unreachable (host, task, play, message), and C(tasks), every
    task result of the run (host, task, role, play, and status ok, changed, skipped, failed or
    unreachable), which tells which roles and tasks ran.
  - Callers assert on this file (for example "the second run changed nothing") instead of
    parsing log text.
author: podplay developers (!UNKNOWN)
requirements:
  - enable with C(ANSIBLE_CALLBACKS_ENABLED=podplay.cluster.stats_json)
  - When C(PODPLAY_PLAYS_FILE) is set, the name of each play and of each task is appended
    to that file as a line the moment it starts, so a caller knows how far a run got even
    when it was interrupted (podplay up journals the stage a rollout reached from it, a
    rollout's stages are tasks of one play).
options:
  plays_file:
    description:
      - Where to append each play's and each task's name as it starts. Nothing is written
        when unset.
    env:
      - name: PODPLAY_PLAYS_FILE
    type: path
  stats_file:
    description: Where to write the JSON document. Nothing is written when unset.
    env:
      - name: PODPLAY_STATS_FILE
    type: path
"""

import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from ansible.plugins.callback import CallbackBase  # noqa: E402


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "podplay.cluster.stats_json"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._events = []
        self._tasks = []
        self._play = None
        self._started = time.time()

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()
        self._started_now(self._play)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started_now(task.get_name())

    def _started_now(self, name):
        path = self.get_option("plays_file")
        if path:
            with open(path, "a") as handle:
                handle.write(" ".join(name.split()) + "\n")

    def _record(self, status, result, msg=None):
        self._events.append(
            {
                "status": status,
                "host": result._host.get_name(),
                "task": result._task.get_name(),
                "action": result._task.action,
                "play": self._play,
                "msg": msg,
            }
        )

    def _ran(self, status, result):
        role = getattr(result._task, "_role", None)
        self._tasks.append(
            {
                "status": status,
                "host": result._host.get_name(),
                "task": result._task.name or result._task.get_name(),
                "action": result._task.action,
                "role": role.get_name(include_role_fqcn=False) if role is not None else None,
                "play": self._play,
            }
        )

    @staticmethod
    def _message(res):
        for item in res.get("results") or []:  # a loop: the first item that went wrong
            if isinstance(item, dict) and (item.get("failed") or item.get("unreachable")):
                return CallbackModule._message(item)
        for key in ("msg", "stderr", "module_stderr", "stdout"):
            value = res.get(key)
            if value:
                return str(value)[-2000:]
        return None

    def v2_runner_on_ok(self, result):
        changed = bool(result._result.get("changed"))
        self._ran("changed" if changed else "ok", result)
        if changed:
            self._record("changed", result)

    def v2_runner_on_skipped(self, result):
        self._ran("skipped", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._ran("failed", result)
        self._record(
            "ignored" if ignore_errors else "failed", result, self._message(result._result)
        )

    def v2_runner_on_unreachable(self, result):
        self._ran("unreachable", result)
        self._record("unreachable", result, self._message(result._result))

    def v2_playbook_on_stats(self, stats):
        path = self.get_option("stats_file")
        if not path:
            return
        hosts = {}
        for host in sorted(stats.processed):
            hosts[host] = stats.summarize(host)
        doc = {
            "hosts": hosts,
            "events": self._events,
            "tasks": self._tasks,
            "duration": round(time.time() - self._started, 3),
        }
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".stats-", dir=directory)
        with os.fdopen(fd, "w") as handle:
            json.dump(doc, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
