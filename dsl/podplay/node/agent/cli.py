"""`python3 podplay-node.pyz agent [--config /etc/podplay/agent.json]`: run the node agent.

Exit status: 0 after SIGTERM (pods keep running; the next agent adopts them), 2 when the
configuration is wrong (after a pause, so systemd's quick restart does not spin).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, List, Optional

from podplay.node.contract.errors import ContractError
from podplay.node.util.logs import setup_logging

from .config import DEFAULT_CONFIG, AgentConfig, load_config, read_token

if TYPE_CHECKING:  # imported when needed: the board is served before the Docker SDK loads
    from .agent import Agent
    from .api import AgentServer
    from .board import EventLog, StatusBoard

log = logging.getLogger("podplay.agent")
CONFIG_ERROR_PAUSE = 2.0


def main(argv: Optional[List[str]] = None) -> int:
    args = _parse_args(argv)
    try:
        cfg = load_config(args.config)
        token = read_token(cfg.token_file)
    except ContractError as err:
        print("podplay-agent: %s" % err, file=sys.stderr)
        # systemd restarts a crashed agent within 200 ms; a configuration that stays wrong
        # must not turn that into a busy loop of Python starts
        time.sleep(CONFIG_ERROR_PAUSE)
        return 2

    from . import memory
    from .board import EventLog, StatusBoard

    # Serve what the previous agent last published before loading the Docker SDK (the
    # slow part of starting): watchers of this node see no gap across a restart.
    remembered = memory.load(cfg.state_dir)
    boot = memory.this_boot()
    board = StatusBoard()
    # statuses saved before the node restarted are served unready (their containers are gone)
    board.restore(
        remembered.get("generation"),
        remembered.get("pods"),
        memory.from_this_boot(remembered, boot),
    )
    events = EventLog()
    signals = _Signals()
    server = _serve(cfg, board, events, token, signals)
    if server is None:
        return 0
    log.info(
        "agent for node %s: API on %s:%d, pods from %s",
        cfg.node,
        cfg.listen_address,
        server.server_address[1],
        cfg.pods_dir,
    )

    from .storelink import StoreLink

    link = StoreLink.from_file(cfg.node, cfg.address)
    if link is not None:
        link.start_lease(threading.Event())  # until the process ends: the node is alive

    from .agent import Agent

    agent = Agent(cfg, board=board, events=events, remembered=remembered, boot=boot)
    agent.attach_store(link)
    signals.attach(agent)
    server.agent = agent
    agent.run()
    if link is not None and not agent.node_stopping:  # a restart of the agent alone
        link.hand_over()
    server.shutdown()
    server.server_close()
    log.info("agent stopped (%s); pods keep running", agent.exit_reason or "asked to")
    return 0


def _parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="podplay-node agent", description=__doc__)
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="agent.json (%(default)s)")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    return args


class _Signals:
    """SIGTERM/SIGINT: remembered while the agent is not built yet, then passed to it."""

    def __init__(self) -> None:
        self.received: List[int] = []
        self._agent: Optional["Agent"] = None
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.received.append(signum)
        if self._agent is not None:
            self._agent.stop("signal %d" % signum)

    def attach(self, agent: "Agent") -> None:
        self._agent = agent
        if self.received:
            agent.stop("signal %d" % self.received[0])


def _serve(
    cfg: AgentConfig, board: "StatusBoard", events: "EventLog", token: str, signals: _Signals
) -> Optional["AgentServer"]:
    """The API server, retried every second until it listens (None: stopped meanwhile).
    It serves TLS only: without its certificate and key it waits for them."""
    from podplay.node.util.tls import ServerTls

    from .api import serve

    while not signals.received:
        try:
            tls = ServerTls(cfg.tls_cert, cfg.tls_key)
        except OSError as err:  # ssl.SSLError too: a file missing or not a certificate/key
            log.warning(
                "cannot load the API's certificate %s and key %s (%s); retrying",
                cfg.tls_cert, cfg.tls_key, err,
            )  # fmt: skip
            time.sleep(1)
            continue
        try:
            return serve(cfg, board, events, token, tls=tls)
        except OSError as err:  # the node address may not be up yet at boot
            log.warning(
                "cannot listen on %s:%d (%s); retrying", cfg.listen_address, cfg.api_port, err
            )
            time.sleep(1)
    return None
