"""Running one probe: HTTP GET or TCP connect to the pod IP, or a command in the container.

The effectful half of probing (the state machines are in `probes`). Every probe returns
(ok, message) within its timeout and never raises.
"""

from __future__ import annotations

import http.client
import socket
import threading
from typing import Callable, List, Optional, Tuple

from .manifest import ProbeSpec

Exec = Callable[[str, List[str]], Tuple[int, str]]  # (container id, argv) -> (exit, output)

USER_AGENT = "podplay-agent-probe/1"


def http_probe(ip: str, port: int, path: str, timeout: float) -> Tuple[bool, str]:
    conn = http.client.HTTPConnection(ip, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": USER_AGENT, "Connection": "close"})
        resp = conn.getresponse()
        resp.read(4096)
        if 200 <= resp.status < 400:
            return True, "HTTP %d" % resp.status
        return False, "HTTP probe failed with status code %d" % resp.status
    except (OSError, http.client.HTTPException) as err:
        return False, "HTTP GET http://%s:%d%s: %s" % (ip, port, path, _why(err))
    finally:
        conn.close()


def tcp_probe(ip: str, port: int, timeout: float) -> Tuple[bool, str]:
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True, "connected"
    except OSError as err:
        return False, "TCP connect %s:%d: %s" % (ip, port, _why(err))


class ExecProber:
    """Exec probes with a timeout; a command that hangs is not started again until it ends."""

    def __init__(self, run: Exec) -> None:
        self._run = run
        self._stuck: dict = {}  # (container id, argv) -> thread still running
        self._lock = threading.Lock()

    def __call__(self, cid: str, command: List[str], timeout: float) -> Tuple[bool, str]:
        key = (cid, tuple(command))
        with self._lock:
            previous = self._stuck.get(key)
            if previous is not None and previous.is_alive():
                return False, "exec probe %s: the previous run has not ended" % command[0]
        result: List[Optional[Tuple[int, str]]] = [None]
        error: List[Optional[BaseException]] = [None]

        def run() -> None:
            try:
                result[0] = self._run(cid, list(command))
            except Exception as err:  # a probe never raises into the agent
                error[0] = err

        t = threading.Thread(target=run, name="exec-probe", daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            with self._lock:
                self._stuck[key] = t
            return False, "exec probe %s timed out after %gs" % (command[0], timeout)
        with self._lock:
            self._stuck.pop(key, None)
        if error[0] is not None:
            return False, "exec probe %s: %s" % (command[0], _why(error[0]))
        code, out = result[0] or (-1, "")
        if code == 0:
            return True, out
        return False, "exec probe %s exited %d%s" % (command[0], code, (": " + out) if out else "")


def run_probe(
    spec: ProbeSpec, ip: str, cid: str, exec_prober: Optional[ExecProber]
) -> Tuple[bool, str]:
    """One probe run; (ok, message)."""
    try:
        if spec.type == "http":
            return http_probe(ip, spec.port or 80, spec.path, spec.timeout)
        if spec.type == "tcp":
            return tcp_probe(ip, spec.port or 80, spec.timeout)
        if spec.type == "exec" and exec_prober is not None:
            return exec_prober(cid, list(spec.command), spec.timeout)
    except Exception as err:  # a probe never raises into the agent
        return False, "probe error: %s" % _why(err)
    return False, "unknown probe type %s" % spec.type


def _why(err: BaseException) -> str:
    if isinstance(err, socket.timeout):
        return "timed out"
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return str(text)
