"""The Docker runtime adapter: the only module of the agent that talks to the engine.

A pod is a pause ("sandbox") container holding the pod's network namespace and hostname,
plus app containers joined to it (`network_mode=container:<sandbox>`). The sandbox has no
engine networking: the agent plugs it into the pod bridge itself (podnet.py) and writes its
hosts and resolv.conf (podfiles.py), which the app containers mount. No Docker restart
policy: the agent restarts containers itself, so it can count restarts and back off. Every
container of a pod runs under the node's OCI runtime (`oci_runtime`, crun by default: the
runtime role registers it with the engine); empty, the engine's default. Docker SDK
low-level API only.
"""

from __future__ import annotations

import calendar
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterable, Iterator, List, Optional, Set, Tuple

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.types import LogConfig

from .manifest import SANDBOX, ContainerSpec, PodSpec
from .observed import L_POD, Observed, container_name, from_labels, labels_for
from .podfiles import PodFiles
from .podnet import PodBridge, PodNetwork, PodNetworkError, plugged

log = logging.getLogger("podplay.agent.runtime")

PAUSE_STOP_TIMEOUT = 2
_NO_DETAILS = {"exit_code": None, "started_at": None, "finished_at": None, "oom_killed": False,
               "error": ""}  # fmt: skip
INSPECT_THREADS = 8
_LOGS = LogConfig(type="json-file", config={"max-size": "10m", "max-file": "2"})


class RuntimeError_(Exception):
    """A runtime call failed; `reason` is the status reason (CamelCase)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_time(value: Optional[str]) -> Optional[float]:
    """Docker's RFC 3339 nanosecond timestamps -> epoch seconds; Docker's zero time -> None."""
    if not value or value.startswith("0001-01-01"):
        return None
    main = value
    frac = 0.0
    if main.endswith("Z"):
        main = main[:-1]
    elif len(main) > 6 and main[-6] in "+-" and main[-3] == ":":
        # an offset: Docker reports UTC ("Z"), anything else is converted
        sign = 1 if main[-6] == "+" else -1
        offset = sign * (int(main[-5:-3]) * 3600 + int(main[-2:]) * 60)
        return (parse_time(main[:-6] + "Z") or 0.0) - offset
    if "." in main:
        main, digits = main.split(".", 1)
        frac = float("0." + digits[:9]) if digits else 0.0
    return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + frac


def client_from_env(timeout: Optional[int] = 60, version: str = "auto") -> docker.APIClient:
    """A client of the local engine. It takes nothing from the environment beyond DOCKER_*:
    no proxy settings and no ~/.netrc (requests looks for one on every request otherwise)."""
    kwargs = docker.utils.kwargs_from_env()
    api = docker.APIClient(version=version, timeout=timeout, **kwargs)
    api.trust_env = False
    return api


class DockerRuntime:
    """Pods as Docker containers on this node's engine."""

    def __init__(
        self,
        network: str,
        pause_image: str,
        api: Optional[docker.APIClient] = None,
        oci_runtime: str = "",
    ) -> None:
        self.network = network
        self.pause_image = pause_image
        self.oci_runtime = oci_runtime or None  # None: the engine's default
        self._api = api
        self._inspected: Dict[str, Tuple[str, dict]] = {}  # id -> (state, details)
        # what this agent created (id -> name, labels, image) and started (id -> as seen)
        self._created: Dict[str, Tuple[str, Dict[str, str], str]] = {}
        self._started: Dict[str, Observed] = {}
        self._networked: Set[str] = set()  # sandboxes plugged in (or being plugged) by us
        self._own_starts: Set[str] = set()
        self._files = PodFiles(lambda: self.api)
        self._net = PodNetwork(self.pod_bridge)
        self._lock = threading.Lock()

    # -- connection ---------------------------------------------------------------------

    @property
    def api(self) -> docker.APIClient:
        if self._api is None:
            self._api = client_from_env()
        return self._api

    def new_client(self) -> docker.APIClient:
        """A separate connection without read timeout, for long streams (events, logs -f)."""
        return client_from_env(timeout=None, version=self.api.api_version)

    def ping(self) -> bool:
        try:
            return bool(self.api.ping())
        except (DockerException, OSError):
            self._api = None
            return False

    # -- what exists ----------------------------------------------------------------------

    def list_observed(self, fresh: Iterable[str] = ()) -> List[Observed]:
        """Every podplay container on the engine (found by label), with its state.

        The engine's list can lag its events by a moment; containers named in `fresh` (ids
        from events just seen) are inspected, which reports the state the event announced.
        """
        out = []
        fresh = set(fresh)
        summaries = self.api.containers(all=True, filters={"label": L_POD})
        present = set()
        known = self._all_details(summaries, fresh)
        for s in summaries:
            cid = s["Id"]
            present.add(cid)
            found = known.get(cid)
            if found is None:
                continue
            state, details = found
            names = s.get("Names") or ["/" + cid[:12]]
            labels = s.get("Labels") or {}
            o = from_labels(cid, names[0], labels, state, image=s.get("Image", ""), **details)
            if o is not None:
                out.append(o)
        self._stop_unplugged(out)
        with self._lock:
            for cid in list(self._inspected):
                if cid not in present:
                    del self._inspected[cid]
            self._own_starts &= present
            for cid in [c for c in self._started if c not in present]:
                del self._started[cid]
            self._networked &= present
        return out

    def _stop_unplugged(self, observed: List[Observed]) -> None:
        """A running sandbox without its veth pair (an agent that stopped between starting
        and plugging it in) would hold its pod unready for good: it is killed, so the pod
        starts afresh. Looked at once per sandbox, on the first list that shows it."""
        for o in observed:
            if not (o.is_sandbox and o.running):
                continue
            with self._lock:
                if o.id in self._networked:
                    continue
                self._networked.add(o.id)
            if self._files.written(o.id) and not plugged(o.id):
                log.warning("sandbox %s has no network: killed, its pod starts afresh", o.name)
                try:
                    self.api.kill(o.id)
                except DockerException as err:
                    log.warning("killing sandbox %s: %s", o.name, short_error(err))

    def started(self, cid: str) -> Optional[Observed]:
        """A container this runtime just started, as a list would show it (once)."""
        with self._lock:
            return self._started.pop(cid, None)

    def started_here(self, cid: str) -> bool:
        """Whether this agent is starting or started the container: its first `start` event
        is old news (asked once per start; a later start by anyone else is news)."""
        with self._lock:
            if cid not in self._own_starts:
                return False
            self._own_starts.discard(cid)
            return True

    def _all_details(
        self, summaries: List[dict], fresh: Set[str]
    ) -> Dict[str, Optional[Tuple[str, dict]]]:
        """Each listed container's state details; the inspections this needs (containers not
        seen before in their state, e.g. every one after an agent restart) run in parallel,
        so the first pass of a restarted agent on a full node stays short."""
        todo = [(s["Id"], s.get("State") or "unknown") for s in summaries]
        if sum(1 for cid, state in todo if self._needs_inspect(cid, state, cid in fresh)) < 4:
            return {cid: self._details(cid, state, cid in fresh) for cid, state in todo}
        with ThreadPoolExecutor(max_workers=INSPECT_THREADS) as pool:
            return dict(pool.map(lambda t: (t[0], self._details(t[0], t[1], t[0] in fresh)), todo))

    def _needs_inspect(self, cid: str, state: str, force: bool) -> bool:
        """Not when the cache holds this state, nor for one never started (a burst of pod
        starts lists many), unless an event just named it (`force`)."""
        with self._lock:
            cached = self._inspected.get(cid)
        return force or not ((cached is not None and cached[0] == state) or state == "created")

    def _details(self, cid: str, state: str, force: bool = False) -> Optional[Tuple[str, dict]]:
        if not self._needs_inspect(cid, state, force):
            with self._lock:
                cached = self._inspected.get(cid)
            return cached if cached is not None and cached[0] == state else (state, _NO_DETAILS)
        try:
            info = self.api.inspect_container(cid)
        except NotFound:
            return None
        st = info.get("State") or {}
        state = st.get("Status") or state
        details = {
            "exit_code": st.get("ExitCode") if state not in ("running", "created") else None,
            "started_at": parse_time(st.get("StartedAt")),
            "finished_at": parse_time(st.get("FinishedAt")) if state != "running" else None,
            "oom_killed": bool(st.get("OOMKilled")),
            "error": st.get("Error") or "",
        }
        with self._lock:
            self._inspected[cid] = (state, details)
        return state, details

    def images(self) -> Dict[str, str]:
        """ref -> image id for every tagged image on the engine."""
        out = {}
        for img in self.api.images():
            for tag in img.get("RepoTags") or []:
                if tag and tag != "<none>:<none>":
                    out[tag] = img["Id"]
        return out

    def network_ready(self) -> bool:
        try:
            return bool(self.api.networks(names=[self.network]))
        except (DockerException, OSError):
            return False

    def pod_bridge(self) -> PodBridge:
        """The bridge of the pod network (the network role made it as a Docker network)."""
        found = [n for n in self.api.networks(names=[self.network]) if n["Name"] == self.network]
        if not found:
            raise PodNetworkError("network %s not found" % self.network)
        return PodBridge.from_network(found[0])

    # -- making pods ----------------------------------------------------------------------

    def create_sandbox(self, spec: PodSpec, attempt: int) -> str:
        name = container_name(spec.namespace, spec.name, SANDBOX, spec.uid, attempt)
        labels = labels_for(
            spec.namespace,
            spec.name,
            SANDBOX,
            spec.uid,
            spec.template_hash,
            attempt,
            spec.sandbox_hash,
            spec.grace_period,
        )
        for k, v in spec.labels:
            labels.setdefault("io.podplay.label." + k, v)
        cid = self._create(
            name,
            image=self.pause_image,
            hostname=spec.hostname,
            labels=labels,
            host_config=self.api.create_host_config(log_config=_LOGS, runtime=self.oci_runtime),
            network_disabled=True,  # its own empty namespace; the agent plugs it in
            stop_timeout=PAUSE_STOP_TIMEOUT,
        )
        with self._lock:
            self._networked.add(cid)
        try:
            self._files.write(cid, spec.ip, spec.hostname, spec.dns)
            self._start(cid, name)
            # the one inspect of a pod start: the namespace to plug into is the sandbox's
            pid = int((self.api.inspect_container(cid).get("State") or {}).get("Pid") or 0)
            self._net.attach(cid, pid, spec.ip)
        except (PodNetworkError, OSError, DockerException) as err:
            with self._lock:
                self._created.pop(cid, None)
                self._own_starts.discard(cid)
                self._started.pop(cid, None)
            self._remove_quietly(cid)
            raise RuntimeError_(
                "CreatePodSandboxError", "network of %s (%s): %s" % (name, spec.ip, err)
            ) from None
        return cid

    def run_container(self, spec: PodSpec, c: ContainerSpec, attempt: int, sandbox_id: str) -> str:
        name = container_name(spec.namespace, spec.name, c.name, spec.uid, attempt)
        labels = labels_for(
            spec.namespace,
            spec.name,
            c.name,
            spec.uid,
            spec.template_hash,
            attempt,
            c.config_hash,
            spec.grace_period,
        )
        host_config = self.api.create_host_config(
            network_mode="container:" + sandbox_id,
            binds=self._files.binds(sandbox_id) or None,
            nano_cpus=c.cpu_millis * 1000000 if c.cpu_millis else None,
            mem_limit=c.memory_bytes if c.memory_bytes else None,
            log_config=_LOGS,
            runtime=self.oci_runtime,
        )
        cid = self._create(
            name,
            image=c.image,
            # Kubernetes' command/args are Docker's entrypoint/cmd; a command alone drops the
            # image's CMD (Docker does the same when the entrypoint is set).
            entrypoint=list(c.command) if c.command is not None else None,
            command=list(c.args) if c.args is not None else None,
            environment=["%s=%s" % kv for kv in c.env],
            labels=labels,
            host_config=host_config,
            stop_timeout=spec.grace_period,
        )
        self._start(cid, name)
        return cid

    def _create(self, name: str, **kwargs) -> str:
        kwargs.setdefault("detach", True)
        for attempt in (0, 1):
            try:
                cid = self.api.create_container(name=name, use_config_proxy=False, **kwargs)["Id"]
                with self._lock:
                    self._created[cid] = (name, dict(kwargs.get("labels") or {}), kwargs["image"])
                return cid
            except APIError as err:
                if err.status_code == 409 and attempt == 0:  # a leftover holds the name
                    self._remove_quietly(name)
                    continue
                reason = "ImageNotPresent" if err.status_code == 404 else "CreateContainerError"
                raise RuntimeError_(reason, "creating %s: %s" % (name, _explain(err))) from None
        raise AssertionError("unreachable")

    def _start(self, cid: str, name: str) -> None:
        with self._lock:  # before the call: the engine sends the event before it answers
            self._own_starts.add(cid)
        try:
            self.api.start(cid)
        except APIError as err:
            with self._lock:
                self._created.pop(cid, None)
                self._own_starts.discard(cid)
            self._remove_quietly(cid)
            raise RuntimeError_("StartError", "starting %s: %s" % (name, _explain(err))) from None
        # We know it is running and since when: no inspect for it until its state changes
        # (a burst of pod starts would otherwise inspect every new container on the loop).
        details = {
            "exit_code": None,
            "started_at": time.time(),
            "finished_at": None,
            "oom_killed": False,
            "error": "",
        }
        with self._lock:
            self._inspected[cid] = ("running", details)
            created = self._created.pop(cid, None)
            if created is not None:
                o = from_labels(cid, created[0], created[1], "running", image=created[2], **details)
                if o is not None:
                    self._started[cid] = o

    # -- stopping -------------------------------------------------------------------------

    def stop(self, o: Observed, grace: Optional[int] = None) -> None:
        """SIGTERM, then SIGKILL after the grace period (the pause container: 2 s)."""
        timeout = (
            PAUSE_STOP_TIMEOUT if o.is_sandbox else (o.grace_period if grace is None else grace)
        )
        try:
            self.api.stop(o.id, timeout=timeout)
        except NotFound:
            pass
        except APIError as err:
            if err.status_code != 304:
                raise

    def remove(self, o: Observed) -> None:
        self._remove_quietly(o.id)

    def _remove_quietly(self, name_or_id: str) -> None:
        try:
            self.api.remove_container(name_or_id, force=True)
        except NotFound:
            pass
        except APIError as err:
            if err.status_code != 409:  # removal already in progress
                raise

    # -- probes and logs ------------------------------------------------------------------

    def exec(self, cid: str, command: List[str]) -> Tuple[int, str]:
        """Run a command in a container: (exit code, last line of output)."""
        ex = self.api.exec_create(cid, command, stdout=True, stderr=True)
        output = self.api.exec_start(ex["Id"]) or b""
        code = self.api.exec_inspect(ex["Id"]).get("ExitCode")
        text = output.decode("utf-8", "replace").strip().splitlines()
        return (code if code is not None else -1, text[-1] if text else "")

    def logs(self, cid: str, tail: Optional[int], follow: bool) -> Iterator[bytes]:
        api = self.new_client() if follow else self.api
        kwargs = {"stream": True, "follow": follow, "tail": tail if tail is not None else "all"}
        return api.logs(cid, **kwargs)

    def events(self) -> Iterator[dict]:
        """Engine events (containers, images, networks); blocks; ends when the engine goes."""
        api = self.new_client()
        return api.events(decode=True, filters={"type": ["container", "image", "network"]})


def short_error(err: BaseException) -> str:
    """The last line of an error's text (Docker's errors carry a whole response)."""
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__


def _explain(err: APIError) -> str:
    text = getattr(err, "explanation", None) or str(err)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip()
