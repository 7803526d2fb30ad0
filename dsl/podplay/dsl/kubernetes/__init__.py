"""Kubernetes YAML in: `apps/v1 Deployment` and `v1 Service` manifests as DSL resources.

    app = pp.from_kubernetes("app.yaml")        # inside a program (beside pp.Cluster, pp.Image)
    podplay up app.yaml                          # or a manifest on its own

Pure, like the rest of the DSL: the manifest becomes pp.Deployment, pp.Service (and
pp.Image for images the local engine must hold, checked where images are looked up).
Anything podplay does not implement is refused with `app.yaml:12: Deployment "web":
spec.template.spec.volumes is not supported`, never skipped.

Modules: `yamlfile` (YAML with lines), `reader` (typed fields, refusals), `objects` (kinds
and metadata), `deployments`, `containers`, `probes`, `services`, `clusters`, `translate`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podplay.dsl.diagnostics import Location, ProgramError, caller_location, display_path, show
from podplay.dsl.stack import Stack, current_stack
from podplay.dsl.validate import validate

if TYPE_CHECKING:  # the translation (and YAML) is imported when a manifest is read
    from podplay.dsl.kubernetes.translate import Manifest

MANIFEST_SUFFIXES = (".yaml", ".yml")


def from_kubernetes(path: str | os.PathLike[str]) -> Manifest:
    """Declare a Kubernetes manifest's Deployments and Services in the running program.

    `path` is relative to the program's directory. Container images that name a pp.Image
    the program declared before this call (by its name) use it; others must be in the local
    Docker engine."""
    location = caller_location()
    subject = f"from_kubernetes({show(str(path))})"
    stack = current_stack(subject, location)
    file = (stack.base_dir / path).resolve()
    text = _read(
        file, lambda reason: ProgramError.one(location, subject, f"cannot read it: {reason}")
    )
    from podplay.dsl.kubernetes.translate import declare_manifest

    return declare_manifest(text, display_path(str(file)), stack, None)


def load_manifest(path: Path, shown: str) -> Stack:
    """A manifest run on its own (`podplay up app.yaml`): its stack, validated."""

    def unreadable(reason: str) -> ProgramError:
        return ProgramError.one(Location(shown), None, f"cannot read manifest: {reason}")

    text = _read(path, unreadable)
    from podplay.dsl.kubernetes.translate import declare_manifest

    stack = Stack(program=shown, base_dir=path.resolve().parent)
    with stack:
        declare_manifest(text, shown, stack, path.stem)
    validate(stack)
    return stack


def __getattr__(name: str) -> Any:
    """`Manifest` on first use: most programs never read YAML, and the translation with its
    YAML parser is a tenth of the CLI's start."""
    if name == "Manifest":
        from podplay.dsl.kubernetes.translate import Manifest

        return Manifest
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _read(path: Path, error: object) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise error(reason) from None  # type: ignore[operator]


__all__ = ["MANIFEST_SUFFIXES", "Manifest", "from_kubernetes", "load_manifest"]
