# -*- coding: utf-8 -*-
"""Files on the managed node, as the podplay modules write them: atomically, mode first.

Shared by the modules that own files under /etc/podplay and the units they install, so that a
reader (the agent, the proxy, systemd) never sees half a file and a secret is never readable by
others, not even for an instant.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import tempfile


def read_text(path):
    """The file's text, or None when it does not exist or cannot be read."""
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


def file_mode(path):
    """The permission bits of `path`, or None when it does not exist."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return None


def write_atomic(path, text, mode):
    """Replace `path` with `text` (mode set before any content is written); fsync, rename."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".podplay-", suffix=".tmp")
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def sha256_file(path):
    """Hex sha256 of a file's bytes, or "missing"."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except (IOError, OSError):
        return "missing"
    return h.hexdigest()
