"""What the renderer needs besides the plan: paths on the machine that runs Ansible.

These are controller-local (where the collection, the node bundle, the token, the cluster's
certificates and image archives are), so they stay out of the plan, which describes the
cluster only.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ImageFile(BaseModel):
    """An image as the agent role side-loads it: reference, id, archive on the controller."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: str
    id: str | None = None
    archive: str | None = None


class RenderOptions(BaseModel):
    """Controller-side inputs of `render`; unknown ones render as null (compile before up)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    collections_path: str
    program: str | None = None
    node_bundle: str | None = None
    agent_token_file: str | None = None
    pki_dir: str | None = None  # the cluster's CA and certificates (podplay.artifacts.pki)
    pause_image: ImageFile | None = None
    image_archives: dict[str, str] = {}
