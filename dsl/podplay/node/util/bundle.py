"""Where this node bundle is: the systemd units it writes must run this very file."""

from __future__ import annotations

import hashlib
import os
import sys

from podplay.node.contract.defaults import BUNDLE_PATH


def bundle_path() -> str:
    """This bundle's own path: the zipapp, also when it runs from its unpacked copy (the
    bootstrap records which zipapp it started from; a unit that names the zipapp picks up a
    new bundle when restarted); the installed default when running from a source tree."""
    started = getattr(sys.modules.get("__main__"), "BUNDLE_FILE", None)
    if isinstance(started, str) and started:
        return started
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
