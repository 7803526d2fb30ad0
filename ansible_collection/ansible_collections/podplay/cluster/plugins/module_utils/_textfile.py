# Copyright podplay developers. Apache-2.0.
"""A whole small text file, read or replaced atomically (the modules that write one of the
host's own files themselves, not through the node bundle)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os


def read_text(path):
    """The file's text, or None when it cannot be read (absent)."""
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def write_text(module, path, text, mode=0o644):
    """Replace the file with `text` (a temporary file beside it, renamed into place)."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    tmp = path + ".podplay.tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    module.atomic_move(tmp, path)
