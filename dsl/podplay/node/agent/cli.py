"""`python3 podplay-node.pyz agent [--config /etc/podplay/agent.json]`: run the node agent.

Exit status: 0 after SIGTERM or when agent.json, the token or the bundle changed (systemd
starts it again with the new ones); 2 when the configuration is wrong.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from typing import List, Optional

from .config import DEFAULT_CONFIG, ConfigError, load_config, read_token

log = logging.getLogger("podplay.agent")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="podplay-node agent", description=__doc__)
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="agent.json (%(default)s)")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        cfg = load_config(args.config)
        token = read_token(cfg.token_file)
    except ConfigError as err:
        print("podplay-agent: %s" % err, file=sys.stderr)
        return 2

    from .agent import Agent
    from .api import serve

    watch = [args.config, cfg.token_file]
    bundle = _bundle_path()
    if bundle:
        watch.append(bundle)
    agent = Agent(cfg, watch_files=tuple(watch))

    def on_signal(signum: int, frame: object) -> None:
        agent.stop("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = None
    while server is None and not agent.exit_reason:
        try:
            server = serve(agent, cfg.listen_address, cfg.api_port, token)
        except OSError as err:  # the node address may not be up yet at boot
            log.warning(
                "cannot listen on %s:%d (%s); retrying", cfg.listen_address, cfg.api_port, err
            )
            time.sleep(1)
    log.info(
        "agent for node %s: API on %s:%d, pods from %s",
        cfg.node,
        cfg.listen_address,
        server.server_address[1] if server else cfg.api_port,
        cfg.pods_dir,
    )
    agent.run()
    if server is not None:
        server.shutdown()
        server.server_close()
    log.info("agent stopped (%s); pods keep running", agent.exit_reason or "asked to")
    return 0


def _bundle_path() -> Optional[str]:
    """The zipapp this code runs from, if it runs from one (so a new bundle restarts it)."""
    here = os.path.abspath(__file__)
    if os.path.exists(here):
        return None  # plain files (a source checkout), not a bundle
    while here and here != os.path.dirname(here):
        here = os.path.dirname(here)
        if os.path.isfile(here):
            return here
    return None
