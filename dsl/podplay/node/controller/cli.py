"""`python3 podplay-node.pyz controller [--config /etc/podplay/store.json]`: run the
controller (systemd unit `podplay-controller.service` on every control-plane member).

Runs until SIGTERM/SIGINT, then gives its leadership up (another member leads at once).
Exit status 2 when store.json is unusable (after a pause, so systemd's restart does not
spin). Touches no pod itself: it only rewrites bindings, which agents and proxies follow.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from typing import List, Optional

from podplay.node.contract import defaults
from podplay.node.contract.errors import ContractError
from podplay.node.contract.store_config import StoreConfig
from podplay.node.store.client import Store
from podplay.node.util.logs import setup_logging

from .loop import Controller

log = logging.getLogger("podplay.controller")
CONFIG_ERROR_PAUSE = 2.0
LEASE_TIMEOUT = 1.0  # a renewal that takes longer is tried on the next member


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="podplay-node controller", description=__doc__)
    parser.add_argument("--config", default=defaults.STORE_JSON, help="store.json (%(default)s)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        cfg = StoreConfig.load(args.config)
    except ContractError as err:
        print("podplay-controller: %s" % err, file=sys.stderr)
        time.sleep(CONFIG_ERROR_PAUSE)
        return 2
    store = Store.from_config(cfg)
    quick = Store.from_config(cfg, timeout=LEASE_TIMEOUT, connect_timeout=0.5)
    controller = Controller(store, cfg.cluster, cfg.node, lease_store=quick)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %d: giving the leadership up", signum)
        stop.set()
        controller.wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "controller of cluster %s on %s: store %s", cfg.cluster, cfg.node, ", ".join(cfg.endpoints)
    )
    controller.run(stop)
    return 0
