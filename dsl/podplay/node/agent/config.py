"""The agent's configuration: agent.json (a contract record) and the API token file."""

from __future__ import annotations

from typing import Any

from podplay.node.contract.agent import AgentConfig
from podplay.node.contract.defaults import AGENT_JSON
from podplay.node.contract.errors import ContractError

from .backoff import BackoffPolicy

DEFAULT_CONFIG = AGENT_JSON

__all__ = ["DEFAULT_CONFIG", "AgentConfig", "backoff_policy", "load_config", "parse_config"]


def parse_config(doc: Any, path: str = DEFAULT_CONFIG) -> AgentConfig:
    """Validate agent.json's content; raises ContractError with a sentence naming the field."""
    return AgentConfig.from_json(doc, path)


def load_config(path: str = DEFAULT_CONFIG) -> AgentConfig:
    return AgentConfig.load(path)


def backoff_policy(cfg: AgentConfig) -> BackoffPolicy:
    """The crash-loop backoff agent.json asks for."""
    return BackoffPolicy(cfg.backoff.initial, cfg.backoff.maximum, cfg.backoff.reset_after)


def read_token(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as err:
        raise ContractError("%s: cannot read the API token (%s)" % (path, err.strerror)) from None
    if not token:
        raise ContractError("%s: the API token file is empty" % path)
    return token
