"""Where this node bundle is: the systemd units it writes must run this very file."""

from __future__ import annotations

import hashlib
import os

from podplay.node.contract.defaults import BUNDLE_PATH


def bundle_path() -> str:
    """This bundle's own path; the installed default when running from a source tree."""
    import podplay.node

    here = os.path.abspath(podplay.node.__file__)
    marker = ".pyz" + os.sep
    return here.split(marker, 1)[0] + ".pyz" if marker in here else BUNDLE_PATH


def sha256_file(path: str) -> str:
    """Hex sha256 of a file's bytes, or "missing" (a unit naming it changes with the bundle)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return "missing"
    return digest.hexdigest()
