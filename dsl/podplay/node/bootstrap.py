"""The node bundle's entry point: run the bundle from a byte-compiled copy of itself.

A zipapp has no bytecode (Python cannot write .pyc files into a zip), so every start of
`python3 podplay-node.pyz ...` compiled what it imported: 0.3-0.5 s of every module call.
The first run of a bundle therefore unpacks it beside itself, into `node-<digest>/` (the
first 16 hex digits of the zipapp's sha256, `cache_dir`): into a temporary directory,
byte-compiled with unchecked-hash .pyc files (Python never stats the sources nor rewrites
the .pyc), then renamed into place, so the copy appears whole or not at all and two racing
runs both use the one rename that won. Every run, systemd units and module calls alike,
then imports from that copy: the one artifact shipped and named everywhere stays the
zipapp, so a unit restarted after a new bundle arrived runs the new one.

Each run holds a shared lock on its copy (`.in-use`) for its whole life; a run that finds
copies of other bundles removes those nobody holds (the processes of an older bundle hold
theirs until they restart), so a node keeps the bundles it runs and no other.
A run with `--check` never writes: without a copy yet it runs from the zip itself. Where
the copy cannot be written (a read-only /opt), it runs from the zip too.

This file is the bundle's `__main__.py` (podplay.artifacts.bundle puts it there). Standard
library only, and it imports nothing of podplay before it has chosen where podplay is
imported from. Hashing the zipapp costs about 1 ms a run; in return the copy is always the
very file that was run, however it was built.
"""

import fcntl
import hashlib
import os
import sys

# Only what every run needs is imported here; unpacking and removing import the rest (the
# zip, compiler and file tree modules cost more than the lookup they serve).

DIGEST_LENGTH = 16  # hex digits of the zipapp's sha256 that name its copy
BUNDLE_FILE = None  # the zipapp this run started from (podplay.node.util.bundle reads it)
CACHE_PREFIX = "node-"  # <directory of the bundle>/node-<digest>/
LOCK_NAME = ".in-use"  # every run holds a shared flock on its copy's lock file
UNPACKING_PREFIX = ".unpacking-"  # a copy being written (temporary directory)
TRASH_PREFIX = ".removing-"  # a copy being removed (renamed first, then deleted)
ABANDONED_AFTER = 3600.0  # seconds: an unpacking directory this old was left by a crash

_held = []  # the lock files of this process, open for its whole life


def cache_dir(bundle, digest):
    """Where the zipapp `bundle` (a path) whose sha256 is `digest` is unpacked: beside it."""
    name = CACHE_PREFIX + digest[:DIGEST_LENGTH]
    return os.path.join(os.path.dirname(os.path.abspath(bundle)), name)


def hold(directory):
    """Take a shared lock on the copy `directory`; False when it is not there (or was being
    removed as we locked it: the lock file we hold is no longer the one at its path)."""
    path = os.path.join(directory, LOCK_NAME)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False
    fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a remover holds it (a rename long)
    try:
        same = os.stat(path).st_ino == os.fstat(fd).st_ino
    except OSError:
        same = False
    if not same:
        os.close(fd)
        return False
    _held.append(fd)
    return True


def unpack(data, target):
    """Extract and byte-compile the zipapp `data` (its bytes) into a temporary directory
    beside `target`, then rename it to `target`. Losing a race to another run is no error:
    its copy (of the same bytes) is used."""
    import compileall
    import errno
    import io
    import py_compile
    import shutil
    import tempfile
    import zipfile

    parent = os.path.dirname(target)
    work = tempfile.mkdtemp(prefix=UNPACKING_PREFIX + os.path.basename(target) + ".", dir=parent)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(work)
        open(os.path.join(work, LOCK_NAME), "w").close()
        # a file this python3 cannot compile stays source only, as it was in the zip
        compileall.compile_dir(
            work,
            maxlevels=64,
            ddir=target,  # tracebacks name the files where they will be
            quiet=2,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        os.chmod(work, 0o755)
        try:
            os.rename(work, target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)  # gone after the rename, or a lost race


def remove_unused(parent, keep):
    """Remove the copies in `parent` other than `keep` that no process holds, and what
    interrupted runs left (an unpacking older than ABANDONED_AFTER, a removal)."""
    import shutil
    import time

    now = time.time()
    for name in stale_names(os.listdir(parent), os.path.basename(keep)):
        path = os.path.join(parent, name)
        if name.startswith(CACHE_PREFIX):
            _remove_if_unheld(parent, name)
        elif name.startswith(TRASH_PREFIX) or _older(path, now - ABANDONED_AFTER):
            shutil.rmtree(path, ignore_errors=True)


def stale_names(names, keep):
    """The entries of a bundle's directory that may have to go (pure): other copies, and
    unpacking or removal directories. Everything else there (the bundle itself) stays."""
    prefixes = (CACHE_PREFIX, UNPACKING_PREFIX, TRASH_PREFIX)
    return sorted(n for n in names if n != keep and n.startswith(prefixes))


def _remove_if_unheld(parent, name):
    import shutil
    import tempfile

    path = os.path.join(parent, name)
    try:
        fd = os.open(os.path.join(path, LOCK_NAME), os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        fd = None  # no lock file: never a complete copy of ours that anyone runs
    trash = None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        trash = tempfile.mkdtemp(prefix=TRASH_PREFIX + name + ".", dir=parent)
        os.rename(path, os.path.join(trash, name))
    except OSError:
        pass  # held by a running process (or removed by another run meanwhile)
    finally:
        if fd is not None:
            os.close(fd)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


def _older(path, than):
    try:
        return os.lstat(path).st_mtime < than
    except OSError:
        return False


def select(bundle, write):
    """The copy of the zipapp `bundle` to import from, unpacked first when missing and
    `write` allows; None to run from the zip itself. With `write`, unused copies of other
    bundles go."""
    try:
        with open(bundle, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    target = cache_dir(bundle, hashlib.sha256(data).hexdigest())
    if not hold(target):
        if not write:
            return None
        try:
            unpack(data, target)
        except Exception:
            return None  # (a read-only directory, a full disk, not a zip)
        if not hold(target):
            return None
    if write:
        try:
            if len(stale_names(os.listdir(os.path.dirname(target)), "")) > 1:
                remove_unused(os.path.dirname(target), target)
        except OSError:
            pass  # leftovers stay for the next run; this one runs regardless
    return target


def run(argv=None):
    """Choose where podplay is imported from, then run the command."""
    global BUNDLE_FILE
    argv = list(sys.argv[1:] if argv is None else argv)
    here = os.path.dirname(os.path.abspath(__file__))
    if os.path.isfile(here):  # this file is inside the zipapp `here`
        BUNDLE_FILE = here
        target = select(here, write="--check" not in argv)
        if target is not None:
            sys.path[:] = [target] + [p for p in sys.path if os.path.abspath(p) != here]
    elif os.path.basename(here).startswith(CACHE_PREFIX):
        hold(here)  # run as `python3 <copy>`: the copy is in use too
    from podplay.node.__main__ import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(run())
