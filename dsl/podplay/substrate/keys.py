"""Per-cluster secrets on the controller: the SSH key nodes trust, the agent API token.

They live in `podplay.paths.cluster_dir(name)` (mode 0700, files 0600), never in the
repository, and are made once per cluster.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

from podplay.errors import EnvironmentProblem

KEY_NAME = "id_ed25519"
TOKEN_NAME = "token"


def ensure_cluster_dir(directory: Path) -> Path:
    """Create the cluster's private directory (0700)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    return directory


def ensure_ssh_key(directory: Path, comment: str) -> Path:
    """An ed25519 key pair in `directory` (private part 0600); returns the private key path."""
    key = directory / KEY_NAME
    if key.exists() and key.with_suffix(".pub").exists():
        return key
    key.unlink(missing_ok=True)
    key.with_suffix(".pub").unlink(missing_ok=True)
    try:
        done = subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise EnvironmentProblem(
            "ssh-keygen was not found: install openssh-client (`make setup` does)"
        ) from None
    if done.returncode != 0:
        raise EnvironmentProblem(f"ssh-keygen failed: {done.stderr.strip()}")
    key.chmod(0o600)
    return key


def ensure_token(directory: Path) -> Path:
    """A random bearer token for the node agents' API (0600)."""
    path = directory / TOKEN_NAME
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    return path


def public_key(private_key: Path) -> str:
    """The public half, one line."""
    return private_key.with_suffix(".pub").read_text().strip()
