"""The agent's view of its container engine: the podplay containers on it, its images,
whether the pod network exists, and whether the engine answers at all.

Refreshed on the loop thread when an event said something changed (or at the periodic
resync); the engine's event stream runs on its own thread and only posts `EngineChanged`.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Dict, List, Optional, Sequence, Set

from docker.errors import DockerException

from .messages import EngineChanged, Message
from .observed import L_POD, Observed
from .runtime import DockerRuntime, short_error

log = logging.getLogger("podplay.agent")

# Engine events that change what the agent sees. Not among them: exec_* (exec probes),
# create (the agent's own, followed by its own refresh), network connect/disconnect (every
# sandbox start; only a network appearing or going matters).
_CONTAINER_ACTIONS = {"start", "die", "destroy", "oom", "pause", "unpause", "rename"}
_NETWORK_ACTIONS = {"create", "destroy", "remove"}
_DEATHS = {"die", "oom"}


class EngineView:
    """What the engine showed at the last refresh, and whether it is worth a new look."""

    def __init__(
        self,
        runtime: DockerRuntime,
        bridge_network: str,
        resync_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self.rt = runtime
        self.bridge_network = bridge_network
        self.resync_seconds = resync_seconds
        self.clock = clock
        self.observed: List[Observed] = []
        self.images: Optional[Dict[str, str]] = None
        self.ok = False  # the engine answered the last refresh
        self.network_ok = False
        self.seen = False  # it has answered at least once since the agent started
        self.message = "not yet connected to the container engine"
        self.dirty = True  # an event said the containers changed
        self.dirty_images = True  # ... or the images or networks
        self.next_resync = 0.0  # when everything is re-read even without an event
        # containers an event just named: inspect them rather than trust the (lagging) list
        self._fresh_ids: Set[str] = set()

    @property
    def usable(self) -> bool:
        """Pods can be run: the engine answers and the pod network exists."""
        return self.ok and self.network_ok

    def changed(self, news: EngineChanged) -> None:
        """Loop thread: note what an event (or our own action) says is worth a new look."""
        self.dirty = True
        if news.images:
            self.dirty_images = True
        if news.died:
            self._fresh_ids.add(news.died)

    def add_started(self, started: Sequence[Observed]) -> None:
        """Loop thread: containers the agent itself just started, taken into the view as
        they are (their `start` events are skipped): a burst of new pods costs no list of
        the engine per pod, and each new container is probed in the very next pass."""
        ids = {o.id for o in started}
        self.observed = [o for o in self.observed if o.id not in ids] + list(started)

    def refresh_if_needed(self, now: float) -> None:
        if self.dirty or now >= self.next_resync or not self.ok:
            self.refresh(full=self.dirty_images or now >= self.next_resync)

    def refresh(self, full: bool) -> None:
        """List the containers (and with `full`, images and the network) again."""
        now = self.clock()
        try:
            self.observed = self.rt.list_observed(fresh=self._fresh_ids)
            self._fresh_ids = set()
            if full or self.images is None:
                self.images = self.rt.images()
                self.network_ok = self.rt.network_ready()
                self.dirty_images = False
                self.next_resync = now + self.resync_seconds
            self.dirty = False
            if not self.ok:
                log.info("connected to the container engine")
            self.ok = True
            self.seen = True
            missing = "the pod network %r does not exist on this node yet"
            self.message = "" if self.network_ok else missing % self.bridge_network
        except (DockerException, OSError) as err:
            if self.ok:
                log.warning("container engine unreachable: %s", err)
            self.ok = False
            self.message = "container engine unreachable: %s" % short_error(err)

    def watch_events(self, post: Callable[[Message], None], stopping: threading.Event) -> None:
        """Thread: engine events -> inbox; reconnects (and asks for a full resync) when the
        stream ends."""
        while not stopping.is_set():
            try:
                stream = self.rt.events()
                post(EngineChanged(images=True))
                for ev in stream:
                    if stopping.is_set():
                        return
                    news = _news(ev, self.rt.started_here)
                    if news is not None:
                        post(news)
            except Exception as err:  # engine restarting or gone
                log.debug("engine event stream ended: %s", err)
            post(EngineChanged(images=True))
            stopping.wait(1.0)


def _news(
    ev: dict, started_here: Callable[[str], bool] = lambda cid: False
) -> Optional[EngineChanged]:
    """What one engine event means to the agent (None: nothing). The `start` of a container
    the agent started itself is no news: its worker reported it already."""
    typ = ev.get("Type")
    action = (ev.get("Action") or ev.get("status") or "").split(":")[0]
    if typ == "container":
        attrs = (ev.get("Actor") or {}).get("Attributes") or {}
        if L_POD in attrs and action in _CONTAINER_ACTIONS:
            # the list lags a death: inspect what died rather than trust it
            cid = (ev.get("Actor") or {}).get("ID", "")
            if action == "start" and started_here(cid):
                return None
            return EngineChanged(images=False, died=cid if action in _DEATHS else "")
    elif typ == "image" or (typ == "network" and action in _NETWORK_ACTIONS):
        return EngineChanged(images=True)
    return None
