"""This node's live state for `rollout step`: its agent's pods (the local API over TLS, its
certificate checked against the cluster CA, with the node's token) and its proxy's status
file."""

from __future__ import annotations

import http.client
import json
from typing import Any, Dict, List, Optional, Tuple

from podplay.node.contract import defaults
from podplay.node.contract.agent import AgentConfig
from podplay.node.contract.errors import ContractError
from podplay.node.rollout.wait import Look
from podplay.node.util import tls

PROXY_STATUS = defaults.PROXY_STATUS_JSON
TIMEOUT = 5.0


def local_look(agent_json: str = defaults.AGENT_JSON, proxy_status: str = PROXY_STATUS) -> Look:
    """A Look at this node's agent (as agent.json says where it listens) and proxy."""
    return Look(pods=lambda: agent_pods(agent_json), proxy=lambda: proxy_state(proxy_status))


def agent_pods(agent_json: str) -> Tuple[Optional[List[Dict[str, Any]]], str]:
    """The pods this node's agent reports, or (None, why) when it cannot be asked."""
    try:
        config = AgentConfig.load(agent_json)
        with open(config.token_file, encoding="utf-8") as handle:
            token = handle.read().strip()
    except (ContractError, OSError) as err:
        return None, str(err)
    host = config.listen_address
    if host in ("0.0.0.0", "::"):  # listening everywhere: dial the address its certificate names
        host = config.address
    try:
        context = tls.client_context(config.tls_ca)
    except OSError as err:  # ssl.SSLError too
        return None, "cluster CA %s: %s" % (config.tls_ca, err)
    conn = http.client.HTTPSConnection(host, config.api_port, timeout=TIMEOUT, context=context)
    try:
        conn.connect()
    except (OSError, ValueError) as err:
        conn.close()
        return None, "agent at %s:%d: %s" % (host, config.api_port, tls.describe(err))
    try:
        conn.request("GET", "/v1/pods", headers={"Authorization": "Bearer " + token})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            return None, "HTTP %d" % response.status
        pods = json.loads(body.decode("utf-8")).get("pods")
        return (pods, "") if isinstance(pods, list) else (None, "no pods in its answer")
    except (OSError, ValueError, http.client.HTTPException) as err:
        return None, str(err) or type(err).__name__
    finally:
        conn.close()


def proxy_state(path: str) -> Optional[Dict[str, Any]]:
    """The proxy's status document, None while it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
