"""An in-memory container engine with the DockerRuntime interface (for loop tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from podplay.node.agent.manifest import SANDBOX, ContainerSpec, PodSpec
from podplay.node.agent.observed import Observed, container_name


class FakeRuntime:
    def __init__(self, clock: Callable[[], float], images: dict[str, str]) -> None:
        self.clock = clock
        self.image_map = dict(images)
        self.containers: dict[str, Observed] = {}
        self.calls: list[tuple] = []
        self.network = True
        self.up = True
        self.gate: threading.Event | None = None  # set: list_observed waits for it (a hang)
        self._n = 0

    # -- what the agent reads
    def list_observed(self, fresh=()) -> list[Observed]:
        if self.gate is not None:
            self.gate.wait()
        if not self.up:
            raise OSError("engine down")
        return list(self.containers.values())

    def images(self) -> dict[str, str]:
        return dict(self.image_map)

    def network_ready(self) -> bool:
        return self.network

    # -- what the agent does
    def _new(self, spec: PodSpec, name: str, attempt: int, config_hash: str) -> str:
        self._n += 1
        cid = f"c{self._n:04d}"
        self.containers[cid] = Observed(
            id=cid, name=container_name(spec.namespace, spec.name, name, spec.uid, attempt),
            namespace=spec.namespace, pod=spec.name, container=name, uid=spec.uid,
            attempt=attempt, config_hash=config_hash, grace_period=spec.grace_period,
            state="running", started_at=self.clock(),
        )  # fmt: skip
        return cid

    def create_sandbox(self, spec: PodSpec, attempt: int) -> str:
        self.calls.append(("sandbox", spec.name, attempt))
        return self._new(spec, SANDBOX, attempt, spec.sandbox_hash)

    def run_container(self, spec: PodSpec, c: ContainerSpec, attempt: int, sandbox_id: str) -> str:
        self.calls.append(("run", spec.name, c.name, attempt))
        return self._new(spec, c.name, attempt, c.config_hash)

    def started(self, cid: str) -> Observed | None:
        """What DockerRuntime reports for a container it just started (as listed)."""
        o = self.containers.get(cid)
        return o if o is not None and o.running else None

    def started_here(self, cid: str) -> bool:
        return cid in self.containers

    def stop(self, o: Observed, grace=None) -> None:
        self.calls.append(("stop", o.id))
        self.exit(o.id, 143)

    def remove(self, o: Observed) -> None:
        self.calls.append(("remove", o.id))
        self.containers.pop(o.id, None)

    def exec(self, cid, command):
        return 0, ""

    # -- what the world does
    def exit(self, cid: str, code: int) -> None:
        o = self.containers[cid]
        if o.running:
            self.containers[cid] = replace(
                o, state="exited", exit_code=code, finished_at=self.clock()
            )

    def running(self, pod: str, container: str) -> Observed:
        found = [
            o for o in self.containers.values()
            if o.pod == pod and o.container == container and o.running
        ]  # fmt: skip
        assert len(found) == 1, found
        return found[0]
