"""Running Ansible: ansible-playbook as a subprocess, results as data (`run_playbook`)."""

from podplay.execute.ansible import HostStats, PlaybookResult, TaskEvent, TaskRun, run_playbook

__all__ = ["HostStats", "PlaybookResult", "TaskEvent", "TaskRun", "run_playbook"]
