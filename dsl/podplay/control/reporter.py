"""How the apply engine talks to whoever runs it (the CLI's rich display, a benchmark, a test).

The engine calls these methods and never prints; the base class says nothing at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from podplay.control.progress import DeploymentProgress

if TYPE_CHECKING:
    from podplay.execute import PlaybookResult


class Reporter:
    """Silent by default; the CLI overrides what it shows."""

    def phase(self, name: str, detail: str = "") -> None:
        """A phase starts (evaluate, plan, images, cluster, converge, wait)."""

    def info(self, message: str) -> None:
        """Something worth a line."""

    def warn(self, message: str) -> None:
        """Something that did not stop the apply but the user should know."""

    def progress(self, title: str, rows: list[DeploymentProgress]) -> None:
        """Deployments' progress while waiting (called on every poll)."""

    def progress_done(self) -> None:
        """The wait the last `progress` calls belonged to is over."""

    def ansible_line(self, line: str) -> None:
        """One line of ansible-playbook output (only called when asked to stream it)."""

    def playbook(self, name: str, result: PlaybookResult) -> None:
        """An ansible-playbook run ended, ok or not (called before a failure is raised), so
        a caller gets every run's per-host recap as data."""
