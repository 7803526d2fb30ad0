"""Small images built locally and exported for side-loading (there is no registry).

An image is built from a context directory with the Docker SDK, tagged by a hash of that
context (so an unchanged context never rebuilds and a changed one never reuses a tag), and
saved with `docker save` to an archive under the cache, named by the image id. What comes
back (`ref`, `id`, `archive`) is exactly the `podplay_images` / `podplay_pause_image` entry
the `agent` role side-loads onto nodes that lack that id (as `kind load` does).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from docker.errors import BuildError, DockerException

from podplay import paths
from podplay.artifacts import engine
from podplay.errors import EnvironmentProblem, UserInputError
from podplay.files import atomic_output

RECIPES = Path(__file__).resolve().parent / "recipe"
BUSYBOX = Path("/bin/busybox")
PAUSE_REPOSITORY = "podplay/pause"
BUSYBOX_REPOSITORY = "podplay/busybox"


@dataclass(frozen=True)
class BuiltImage:
    """An image on the local engine and its archive, ready to side-load."""

    ref: str
    id: str
    archive: str

    def as_var(self) -> dict[str, str]:
        """The shape of `podplay_pause_image` / each `podplay_images` entry."""
        return {"ref": self.ref, "id": self.id, "archive": self.archive}


def context_hash(context: Path) -> str:
    """Hash of every file in a build context: relative path, executable bit, content."""
    h = hashlib.sha256(b"podplay-image-context/1\0")
    files = sorted(p for p in context.rglob("*") if p.is_file())
    for p in files:
        rel = p.relative_to(context).as_posix()
        mode = b"x" if os.access(p, os.X_OK) else b"-"
        h.update(rel.encode() + b"\0" + mode + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()[:12]


def build_image(context: Path, repository: str, *, force: bool = False) -> BuiltImage:
    """Build `context` as `<repository>:<context hash>` unless present; save its archive."""
    context = Path(context)
    if not (context / "Dockerfile").is_file():
        raise UserInputError(f"image {repository}: no Dockerfile in build context {context}")
    ref = f"{repository}:{context_hash(context)}"
    cli = engine.client()
    with _lock(ref):
        image_id = None if force else engine.image_id(cli, ref)
        if image_id is None:
            try:
                image, _ = cli.images.build(path=str(context), tag=ref, rm=True, pull=False)
            except BuildError as err:
                lines = [c.get("stream", "").strip() for c in err.build_log if c.get("stream")]
                tail = "; ".join(x for x in lines[-3:] if x)
                raise UserInputError(
                    f"image {repository}: build failed: {err.msg} {tail}"
                ) from None
            except DockerException as err:
                raise EnvironmentProblem(f"image {repository}: build failed: {err}") from None
            image_id = image.id
        return BuiltImage(ref, image_id, str(_save(ref, image_id)))


def export_image(ref: str) -> BuiltImage:
    """An image already on the local engine (built by the user), saved for side-loading."""
    cli = engine.client()
    image_id = engine.image_id(cli, ref)
    if image_id is None:
        raise UserInputError(
            f"image {ref} is not on the local Docker engine; build it first (nothing is pulled)"
        )
    with _lock(ref):
        return BuiltImage(ref, image_id, str(_save(ref, image_id)))


def ensure_pause_image() -> BuiltImage:
    """The pod sandbox image `podplay/pause:<hash>`: scratch + busybox-static, sleeps forever."""
    return _busybox_recipe("pause", PAUSE_REPOSITORY)


def ensure_busybox_image() -> BuiltImage:
    """`podplay/busybox:<hash>`: sh, httpd, nc, sleep ... for examples, tests and benchmarks."""
    return _busybox_recipe("busybox", BUSYBOX_REPOSITORY)


def archive_path(image_id: str) -> Path:
    """Where the archive of an image id lives in the cache."""
    return paths.cache_dir() / "images" / f"{image_id.replace(':', '-')}.tar"


def _busybox_recipe(name: str, repository: str) -> BuiltImage:
    if not BUSYBOX.is_file():
        raise EnvironmentProblem(
            f"{BUSYBOX} is missing: install Debian's busybox-static (`make setup` does)"
        )
    with tempfile.TemporaryDirectory(prefix=f"podplay-{name}-") as tmp:
        ctx = Path(tmp)
        shutil.copy2(RECIPES / name / "Dockerfile", ctx / "Dockerfile")
        shutil.copy2(BUSYBOX, ctx / "busybox")
        return build_image(ctx, repository)


def _save(ref: str, image_id: str) -> Path:
    """`docker save` of `ref` into the cache (named by id: written once, reused after)."""
    dest = archive_path(image_id)
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    cli = engine.client()
    try:
        with atomic_output(dest) as f:
            for chunk in cli.images.get(ref).save(named=True):
                f.write(chunk)
    except DockerException as err:
        raise EnvironmentProblem(f"image {ref}: docker save failed: {err}") from None
    return dest


@contextlib.contextmanager
def _lock(ref: str) -> Iterator[None]:
    """One build of one image at a time on this machine (parallel test sessions)."""
    lock_dir = paths.cache_dir() / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(ref.encode()).hexdigest()[:16]
    with open(lock_dir / f"image-{name}.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
