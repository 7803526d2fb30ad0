"""The program's images: built on the local engine, exported for side-loading onto nodes.

Tags come from `podplay.dsl.images` (`podplay/<name>:<context digest>`), the same reference
`podplay compile` writes, so compile and up agree on pod names and an unchanged context is
neither rebuilt nor replaced. There is no registry: a Dockerfile that copies `busybox` into a
`FROM scratch` image gets the machine's busybox-static binary added to a copy of the context
(the context itself, and so its digest, stays as the user wrote it).

An Image given by reference (`pp.Image(ref=...)`, or a container image a Kubernetes manifest
names) is not built: it must already be in the local engine, checked here before anything is
built (exit 2, naming the manifest line), and is exported for side-loading like the others.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from docker.errors import BuildError, DockerException

from podplay.artifacts import engine
from podplay.artifacts.images import BUSYBOX, BuiltImage, ensure_pause_image, export_image
from podplay.dsl import ImageRef, ProgramError, Stack, local_images
from podplay.dsl.images import context_path, not_in_engine
from podplay.errors import EnvironmentProblem
from podplay.plan import Plan

Log = Callable[[str], None]
_COPY_BUSYBOX = re.compile(r"^\s*(COPY|ADD)\s+(--\S+\s+)*busybox\s", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class BuiltImages:
    """What the planner and the renderer need: refs with ids, archives, the pause image."""

    refs: dict[str, ImageRef]
    archives: dict[str, str]
    pause: BuiltImage
    built: tuple[str, ...] = ()  # names actually built this time (the rest were cached)


def needs_busybox(dockerfile_text: str, context: Path) -> bool:
    """True when the Dockerfile copies `busybox` from a context that does not hold it."""
    return bool(_COPY_BUSYBOX.search(dockerfile_text)) and not (context / "busybox").exists()


def known_images(stack: Stack, previous: Plan | None) -> dict[str, ImageRef]:
    """Refs with ids where already known, building nothing (for `preview`).

    The id is the local engine's (read-only query) or, when the engine cannot say, the id the
    previous plan recorded for the same reference; otherwise unknown.
    """
    refs = local_images(stack)
    recorded = {i.ref: i.id for i in previous.images} if previous else {}
    try:
        cli = engine.client()
    except EnvironmentProblem:
        cli = None
    if cli is not None:
        check_engine_images(stack, cli)
    out = {}
    for name, ref in refs.items():
        image_id = engine.image_id(cli, ref.ref) if cli is not None else None
        out[name] = ImageRef(ref=ref.ref, id=image_id or recorded.get(ref.ref))
    return out


def check_engine_images(stack: Stack, cli: object) -> None:
    """Images given by reference (`pp.Image(ref=...)`, a manifest's container image) must be
    in the local engine: nothing is pulled. Refused (exit 2) before anything is built."""
    for _name, image in sorted(stack.images.items()):
        if image.ref is not None and engine.image_id(cli, image.ref) is None:  # type: ignore[arg-type]
            raise not_in_engine(image)


def build_images(stack: Stack, log: Log = lambda _m: None) -> BuiltImages:
    """Build every Image of the program that the engine lacks, and export all of them."""
    refs = local_images(stack)  # checks contexts and Dockerfiles exist (ProgramError)
    cli = engine.client()
    check_engine_images(stack, cli)
    out: dict[str, ImageRef] = {}
    archives: dict[str, str] = {}
    built = []
    for name, ref in sorted(refs.items()):
        image = stack.images[name]
        if image.ref is None and engine.image_id(cli, ref.ref) is None:
            log(f"building image {ref.ref}")
            _build(cli, image, context_path(stack, image), ref.ref)
            built.append(name)
        saved = export_image(ref.ref)
        out[name] = ImageRef(ref=saved.ref, id=saved.id)
        archives[name] = saved.archive
    return BuiltImages(out, archives, ensure_pause_image(), tuple(built))


def _build(cli: object, image: object, context: Path, ref: str) -> None:
    dockerfile = getattr(image, "dockerfile", "Dockerfile")
    text = (context / dockerfile).read_text(encoding="utf-8", errors="replace")
    with tempfile.TemporaryDirectory(prefix="podplay-image-") as tmp:
        ctx = Path(tmp) / "context"
        shutil.copytree(context, ctx, symlinks=True)
        if needs_busybox(text, context):
            if not BUSYBOX.is_file():
                raise EnvironmentProblem(
                    f"{BUSYBOX} is missing and image {ref} copies busybox: install Debian's "
                    "busybox-static (`make setup` does)"
                )
            shutil.copy2(BUSYBOX, ctx / "busybox")
        try:
            cli.images.build(  # type: ignore[attr-defined]
                path=str(ctx), dockerfile=dockerfile, tag=ref, rm=True, pull=False
            )
        except BuildError as err:
            lines = [c.get("stream", "").strip() for c in err.build_log if c.get("stream")]
            tail = "; ".join(x for x in lines[-3:] if x)
            raise ProgramError.one(
                image.location,  # type: ignore[attr-defined]
                image.describe(),  # type: ignore[attr-defined]
                f"the image does not build: {err.msg}{f' ({tail})' if tail else ''}",
            ) from None
        except DockerException as err:
            raise EnvironmentProblem(f"building image {ref} failed: {err}") from None
