"""What an `Image` will be called once built: `podplay/<name>:<context digest>`.

An Image given by `ref=` (one the local Docker engine already has) keeps that reference.

Reading a build context is I/O, so this sits beside the program evaluation (the effectful
shell), never in the planner: the shell hashes each context and hands the planner an
`ImageRef` per image. The image builder (`podplay up`) uses the same tag and fills in the
image id; `podplay compile` leaves the id unknown.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from podplay.dsl.diagnostics import ProgramError
from podplay.dsl.stack import Stack
from podplay.dsl.workload import Image

TAG_LENGTH = 12


class ImageRef(BaseModel):
    """A built (or to-be-built) image: its reference, and its id once known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str
    id: str | None = None


def image_ref(name: str, digest: str) -> str:
    """The reference podplay gives an image built from a context with this digest."""
    return f"podplay/{name}:{digest[:TAG_LENGTH]}"


def context_digest(context: Path, dockerfile: str = "Dockerfile") -> str:
    """sha256 over the context's file names, modes and contents (and the Dockerfile's name).

    Same files → same digest on any machine, so a rebuilt context keeps its tag and an
    edited one gets a new tag (which the planner sees as a changed pod template).
    """
    digest = hashlib.sha256(f"dockerfile\0{dockerfile}\0".encode())
    for root, dirs, files in os.walk(context):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            rel = path.relative_to(context).as_posix()
            info = path.lstat()
            executable = bool(info.st_mode & stat.S_IXUSR)
            digest.update(f"file\0{rel}\0{int(executable)}\0".encode())
            if stat.S_ISLNK(info.st_mode):
                digest.update(b"link\0" + os.readlink(path).encode())
            else:
                digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def context_path(stack: Stack, image: Image) -> Path:
    """An image's build context, relative to the program's directory."""
    assert image.context is not None, "an Image given by ref has no context"
    return (stack.base_dir / image.context).resolve()


def not_in_engine(image: Image) -> ProgramError:
    """The error for an Image given by `ref=` that the local engine does not have.

    Named after what the user wrote: the manifest container that asked for the image, or
    the pp.Image itself."""
    if image.used_by is not None:
        subject, field = image.used_by
        return ProgramError.one(
            image.location,
            subject,
            f'{field} "{image.ref}" is not in the local Docker engine and no pp.Image declares '
            "it; build or load it first (there is no registry)",
        )
    return ProgramError.one(
        image.location,
        image.describe(),
        f'ref "{image.ref}" is not in the local Docker engine; build or load it first '
        "(there is no registry)",
    )


def local_images(stack: Stack) -> dict[str, ImageRef]:
    """An unbuilt `ImageRef` for every Image of the program: from its context digest, or the
    `ref=` it was given."""
    refs = {}
    for name, image in sorted(stack.images.items()):
        if image.ref is not None:  # already in the local engine: the shell checks it is
            refs[name] = ImageRef(ref=image.ref)
            continue
        context = context_path(stack, image)
        if not context.is_dir():
            raise ProgramError.one(
                image.location,
                image.describe(),
                f'context "{image.context}" is not a directory (a path relative to the '
                "program's directory)",
            )
        if not (context / image.dockerfile).is_file():
            raise ProgramError.one(
                image.location,
                image.describe(),
                f'dockerfile "{image.dockerfile}" is missing from context "{image.context}"',
            )
        refs[name] = ImageRef(ref=image_ref(name, context_digest(context, image.dockerfile)))
    return refs
