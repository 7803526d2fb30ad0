"""Where the pods wanted on this node come from: the manifest files Ansible writes to the
pods directory (`pods/<namespace>_<pod>.json`, one pod each).

A source reads its pods into `pods` (pod key -> parsed manifest, invalid ones included) and
never forgets them because a read failed. The agent merges its sources in one step
(`Agent._read_desired`), so another source of bound pods is one more object there.
"""

from __future__ import annotations

import logging
import os
from typing import Dict, Optional, Tuple

from .manifest import Manifest, key_from_filename, parse_manifest
from .observed import PodKey

log = logging.getLogger("podplay.agent")

Stamp = Tuple[int, int, int]  # mtime_ns, size, inode: a file that changed has a new one


class ManifestDir:
    """The pods directory; a file is parsed again only when its stamp changed."""

    def __init__(self, path: str, pod_cidr: Optional[str]) -> None:
        self.path = path
        self.pod_cidr = pod_cidr
        self.pods: Dict[PodKey, Manifest] = {}
        self._cache: Dict[str, Tuple[Stamp, Manifest]] = {}

    def read(self) -> None:
        """Re-read the directory (a stat per file). When it cannot be listed, the pods read
        before stay: a failed read never removes pods."""
        try:
            names = sorted(os.listdir(self.path))
        except OSError as err:
            log.warning("cannot list %s: %s", self.path, err)
            return
        cache = {}
        for name in names:
            if key_from_filename(name) is None:
                continue
            entry = self._read_file(name)
            if entry is not None:
                cache[name] = entry
        self._cache = cache
        self.pods = {m.key: m for _, m in cache.values()}

    def _read_file(self, name: str) -> Optional[Tuple[Stamp, Manifest]]:
        path = os.path.join(self.path, name)
        try:
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            cached = self._cache.get(name)
            if cached is not None and cached[0] == stamp:
                return cached
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return None  # removed while we looked
        return stamp, parse_manifest(name, data, self.pod_cidr)
