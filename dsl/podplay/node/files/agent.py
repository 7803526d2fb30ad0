"""`files apply agent`: agent.json, the API token (0600) and the podplay-agent unit.

Desired state on stdin: `{"config": <agent.json, defaults left out>, "token": "...",
"config_path": optional, "unit_path": optional}`; the token goes to `config.token_file`.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List

from podplay.node.contract import defaults
from podplay.node.contract.agent import AgentConfig
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import canonical_text
from podplay.node.files import changes, units
from podplay.node.util.bundle import sha256_file


def agent_files(desired: Dict[str, Any], bundle: str) -> List[changes.Wanted]:
    """The three files, validated (ContractError names the field): config, token, unit."""
    token = desired.get("token")
    if not isinstance(token, str) or not token.strip():
        raise ContractError("token: the agent API token is empty")
    config_path = desired.get("config_path") or defaults.AGENT_JSON
    cfg = AgentConfig.from_json(desired.get("config"), config_path)
    unit = units.agent_unit(bundle, sha256_file(bundle), config_path)
    return [
        changes.Wanted(config_path, canonical_text(cfg.to_json())),
        changes.Wanted(cfg.token_file, token.strip() + "\n", 0o600, secret=True),
        changes.Wanted(desired.get("unit_path") or defaults.AGENT_UNIT, unit),
    ]


def require_tls_files(desired: Dict[str, Any]) -> None:
    """The agent serves its API over TLS only: its certificate, key and the cluster CA must
    be on the node before it starts (the control_plane role writes them, on every node)."""
    config_path = desired.get("config_path") or defaults.AGENT_JSON
    cfg = AgentConfig.from_json(desired.get("config"), config_path)
    for field, path in (("tls_cert", cfg.tls_cert), ("tls_key", cfg.tls_key),
                        ("tls_ca", cfg.tls_ca)):  # fmt: skip
        if not os.path.isfile(path):
            raise ContractError(
                "%s: %s: %s does not exist (the control_plane role writes the node's "
                "certificates: run it before the agent role)" % (config_path, field, path)
            )


def apply_agent(desired: Dict[str, Any], bundle: str, check: bool, diff: bool) -> Dict[str, Any]:
    config, token, unit = agent_files(desired, bundle)
    if not check:  # in check mode the control_plane role has not written them either
        require_tls_files(desired)
    made = changes.converge([config, token, unit], check)
    done = changes.changed_paths(made)
    result: Dict[str, Any] = {
        "changed": bool(done),
        "config_changed": config.path in done,
        "token_changed": token.path in done,
        "unit_changed": unit.path in done,
        "restart": bool(done),  # anything the running agent reads at start changed
        # a new bundle where a proxy runs: restart it first, so that no older proxy (plain
        # HTTP) outlives the older agents (the new agent speaks TLS only)
        "proxy_restart": unit.path in done and os.path.exists(defaults.PROXY_UNIT),
    }
    if diff and made:
        result["diff"] = changes.diffs(made)
    return result
