"""The node image: a Debian root built offline with debootstrap, imported into Docker.

No registry is reachable, so the image is built from the machine's own Debian mirror (read
from its apt configuration, never hard-coded) and cached by a hash of its recipe: the tag
is the hash, so an unchanged recipe never rebuilds and a changed one never reuses.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from podplay import paths
from podplay.artifacts import engine
from podplay.errors import EnvironmentProblem

SUITE = "bookworm"
VARIANT = "minbase"
REPOSITORY = "podplay/node"
RECIPE_DIR = Path(__file__).resolve().parent / "recipe" / "node"
APT_DIR = Path("/etc/apt")
MIRROR_ENV = "PODPLAY_DEBIAN_MIRROR"

Log = Callable[[str], None]


@dataclass(frozen=True)
class NodeImage:
    """A node image reference and whether this call had to build it."""

    ref: str
    id: str
    built: bool


def recipe_files(recipe_dir: Path = RECIPE_DIR) -> list[Path]:
    """Every file of the recipe, in a stable order."""
    return sorted(p for p in recipe_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def recipe_hash(recipe_dir: Path = RECIPE_DIR) -> str:
    """Hash of everything that decides the image's content (12 hex digits, the image tag)."""
    digest = hashlib.sha256(f"suite={SUITE}\nvariant={VARIANT}\n".encode())
    for path in recipe_files(recipe_dir):
        rel = path.relative_to(recipe_dir).as_posix()
        mode = "x" if os.access(path, os.X_OK) else "-"
        digest.update(f"{rel}\0{mode}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def image_ref(recipe_dir: Path = RECIPE_DIR) -> str:
    """The tag of the node image this recipe builds, e.g. `podplay/node:1a2b3c4d5e6f`."""
    return f"{REPOSITORY}:{recipe_hash(recipe_dir)}"


def packages(recipe_dir: Path = RECIPE_DIR) -> list[str]:
    """Packages debootstrap installs, from the recipe's packages.txt."""
    text = (recipe_dir / "packages.txt").read_text()
    return [
        line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#")[0].strip()
    ]


def parse_apt_sources(sources: dict[str, str], suite: str = SUITE) -> str | None:
    """The first Debian mirror URI serving `suite`, from apt source files (name -> text).

    Understands both one-line `.list` files and deb822 `.sources` files; ignores disabled
    files, `deb-src` entries and security/updates suites.
    """
    for name in sorted(sources, key=lambda n: (n != "sources.list", n)):
        text = sources[name]
        if name.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = _deb822_fields(stanza)
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in fields.get("types", "").split():
                    continue
                if suite in fields.get("suites", "").split():
                    uris = fields.get("uris", "").split()
                    if uris:
                        return uris[0].rstrip("/")
        elif name.endswith(".list"):
            for line in text.splitlines():
                words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                    return words[1].rstrip("/")
    return None


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = None
    for line in stanza.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t" and key:
            fields[key] += " " + line.strip()
            continue
        key, _, value = line.partition(":")
        key = key.strip().lower()
        fields[key] = value.strip()
    return fields


def find_mirror(apt_dir: Path = APT_DIR) -> str:
    """The Debian mirror this machine's apt uses for the node image's suite."""
    override = os.environ.get(MIRROR_ENV)
    if override:
        return override.rstrip("/")
    sources: dict[str, str] = {}
    main = apt_dir / "sources.list"
    if main.is_file():
        sources["sources.list"] = main.read_text()
    listdir = apt_dir / "sources.list.d"
    if listdir.is_dir():
        for path in listdir.iterdir():
            if path.suffix in (".list", ".sources") and path.is_file():
                sources[f"sources.list.d/{path.name}"] = path.read_text()
    mirror = parse_apt_sources(sources)
    if mirror is None:
        raise EnvironmentProblem(
            f"no apt source for Debian {SUITE} found under {apt_dir}; the node image is built "
            f"from a Debian mirror: add one to apt's sources or set {MIRROR_ENV}=<mirror URL>"
        )
    return mirror


def ensure_node_image(
    *,
    force: bool = False,
    log: Log | None = None,
    recipe_dir: Path = RECIPE_DIR,
    repository: str = REPOSITORY,
) -> NodeImage:
    """Return the node image for the current recipe, building it only when it is missing.

    Another recipe of the same shape (packages.txt, configure.sh, files/) builds another
    image the same way: the real-hosts test's plain Debian hosts (`tests/hosts/recipe`)."""
    ref = f"{repository}:{recipe_hash(recipe_dir)}"
    client = engine.client()
    if not force:
        found = engine.image_id(client, ref)
        if found:
            return NodeImage(ref=ref, id=found, built=False)
    with _build_lock():
        if not force:  # another process may have built it while we waited
            found = engine.image_id(client, ref)
            if found:
                return NodeImage(ref=ref, id=found, built=False)
        _build(ref, log or (lambda _msg: None), recipe_dir)
    return NodeImage(ref=ref, id=engine.image_id(client, ref) or "", built=True)


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    paths.cache_dir().mkdir(parents=True, exist_ok=True)
    with open(paths.cache_dir() / "node-image.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _build(ref: str, log: Log, recipe_dir: Path = RECIPE_DIR) -> None:
    for tool in ("debootstrap", "chroot", "tar"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            raise EnvironmentProblem(
                f"building the node image needs `{tool}`; run `make setup` (or apt-get install "
                "debootstrap) first"
            )
    if os.geteuid() != 0:
        raise EnvironmentProblem("building the node image runs debootstrap and needs root")
    mirror = find_mirror()
    work = paths.cache_dir() / "build"
    work.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="node-root-", dir=work))
    try:
        log(f"debootstrap {SUITE} ({VARIANT}) from {mirror}")
        _run(
            [
                "debootstrap",
                f"--variant={VARIANT}",
                "--components=main",
                f"--include={','.join(packages(recipe_dir))}",
                SUITE,
                str(root),
                mirror,
            ],
            "debootstrap",
        )
        log(f"configuring the root ({ref})")
        if (recipe_dir / "files").is_dir():
            shutil.copytree(recipe_dir / "files", root, dirs_exist_ok=True, symlinks=True)
        shutil.copy(recipe_dir / "configure.sh", root / "tmp" / "podplay-configure.sh")
        _run(["chroot", str(root), "/bin/sh", "/tmp/podplay-configure.sh"], "configure.sh")
        (root / "tmp" / "podplay-configure.sh").unlink()
        log(f"importing {ref}")
        _import(root, ref)
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


def _import(root: Path, ref: str) -> None:
    changes = [
        'ENTRYPOINT ["/sbin/init"]',
        "ENV container=docker",
        f"LABEL io.podplay.recipe={ref.rsplit(':', 1)[1]}",
    ]
    tar = subprocess.Popen(
        ["tar", "-C", str(root), "--numeric-owner", "--xattrs", "-c", "."],
        stdout=subprocess.PIPE,
    )
    cmd = ["docker", "import"]
    for change in changes:
        cmd += ["-c", change]
    cmd += ["-", ref]
    imported = subprocess.run(cmd, stdin=tar.stdout, capture_output=True, text=True, check=False)
    assert tar.stdout is not None
    tar.stdout.close()
    if tar.wait() != 0 or imported.returncode != 0:
        raise EnvironmentProblem(
            f"docker import of the node image failed: {imported.stderr.strip()}"
        )


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise EnvironmentProblem(f"{what} failed while building the node image:\n{tail}")
