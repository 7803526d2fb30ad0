"""`files apply store`: everything a node needs of the cluster's store (the `control_plane`
role's module `store_config`).

Desired state on stdin:

    {"node": "node1", "address": "172.30.5.11", "cluster": "shop",
     "members": [{"name": "node1", "address": "172.30.5.11"}, ...],   # 1, 3 or 5
     "ca": "<PEM>", "cert": "<PEM>", "key": "<PEM>",
     optional: "client_port" 2379, "peer_port" 2380, "heartbeat_ms" 100, "election_ms" 1000,
     "data_dir", "pki_dir", "config_path", "env_path", "unit_path", "controller_unit_path",
     "user" "etcd"}

On every node: `pki/ca.crt`, `pki/node.crt`, `pki/node.key` (0600) and `store.json` (format:
podplay.node.contract.store_config). On members also `etcd.env` (etcd's settings), `etcd.service`,
`podplay-controller.service`, the key owned by the etcd user and the data directory (0700,
owned by it). A member whose store was made with other members is refused (podplay does not
change the members of an existing store). The result says what to restart: `restart` (etcd
reads something that changed), `controller_restart` (the controller does).

Timing: heartbeat 100 ms, election timeout 1000 ms (a frozen leader's node is replaced by a
new leader taking writes in 1.0-1.8 s, measured), pre-vote on; a lease cannot be shorter
than 1.5 x the election timeout, rounded up: 2 s. Watches get a progress notification every
5 s, so a silent stream means a lost member.
"""

from __future__ import annotations

import os
import pwd
from typing import Any, Dict, List, Optional, Tuple

from podplay.node.contract import defaults, fields
from podplay.node.contract.errors import ContractError
from podplay.node.contract.jsontext import canonical_text
from podplay.node.contract.store_config import Member, StoreConfig
from podplay.node.files import changes, units
from podplay.node.files.changes import ApplyError
from podplay.node.util.bundle import sha256_file

LOOPBACK = "127.0.0.1"
ETCD_BINARY = "/usr/bin/etcd"
DEFAULTS: Dict[str, Any] = {
    "client_port": defaults.STORE_CLIENT_PORT,
    "peer_port": defaults.STORE_PEER_PORT,
    "heartbeat_ms": 100,
    "election_ms": 1000,
    "data_dir": "/var/lib/etcd/podplay",
    "pki_dir": defaults.PKI_DIR,
    "config_path": defaults.STORE_JSON,
    "env_path": defaults.ETC_DIR + "/etcd.env",
    "unit_path": defaults.UNIT_DIR + "/etcd.service",
    "controller_unit_path": defaults.CONTROLLER_UNIT,
    "user": "etcd",
}
RESTARTS_ETCD = ("ca", "cert", "key", "env", "unit")
RESTARTS_CONTROLLER = ("ca", "cert", "key", "store", "controller")


def settings(desired: Dict[str, Any]) -> Dict[str, Any]:
    """The desired state with its defaults, checked (ContractError names the field)."""
    p = dict(DEFAULTS)
    p.update({k: v for k, v in desired.items() if v is not None})
    known = (*DEFAULTS, "node", "address", "cluster", "members", "ca", "cert", "key")
    fields.only(p, known, "store")
    for field in ("node", "address", "cluster", "ca", "cert", "key", "user"):
        if not fields.string(p, field, "store").strip():
            raise ContractError(
                "store: %s: expected a non-empty string, got %r" % (field, p[field])
            )
    for field in ("client_port", "peer_port", "heartbeat_ms", "election_ms"):
        fields.at_least_one(p, field, "store", 0, ": ")
    p["members"] = check_members(p.get("members"))
    return p


def check_members(members: Any) -> List[Dict[str, str]]:
    """[{name, address}] with unique names and addresses; 1, 3 or 5 of them."""
    if not isinstance(members, list) or not members:
        raise ContractError(
            "members: no store members; put 1, 3 or 5 hosts in the inventory group control_plane"
        )
    names, addresses = set(), set()
    for i, m in enumerate(members):
        if not isinstance(m, dict) or not m.get("name") or not m.get("address"):
            raise ContractError("members[%d]: expected {name, address}, got %r" % (i, m))
        if m["name"] in names or m["address"] in addresses:
            raise ContractError("members[%d]: %s is listed twice" % (i, m["name"]))
        names.add(m["name"])
        addresses.add(m["address"])
    if len(members) not in (1, 3, 5):
        raise ContractError(
            "members: %d store members (%s); the store needs 1, 3 or 5"
            % (len(members), ", ".join(sorted(names)))
        )
    return [{"name": str(m["name"]), "address": str(m["address"])} for m in members]


def url(address: str, port: int) -> str:
    return "https://%s:%d" % (address, int(port))


def store_config(p: Dict[str, Any]) -> StoreConfig:
    pki = p["pki_dir"]
    return StoreConfig(
        cluster=p["cluster"],
        node=p["node"],
        members=tuple(Member(m["name"], url(m["address"], p["client_port"])) for m in p["members"]),
        ca=pki + "/ca.crt",
        cert=pki + "/node.crt",
        key=pki + "/node.key",
    )


def etcd_settings(p: Dict[str, Any]) -> List[Tuple[str, str]]:
    """etcd's settings for this member, in a stable order (name, value)."""
    address, pki = p["address"], p["pki_dir"]
    listen = [url(address, p["client_port"])]
    if address != LOOPBACK:
        listen.append(url(LOOPBACK, p["client_port"]))
    initial = ",".join(
        "%s=%s" % (m["name"], url(m["address"], p["peer_port"])) for m in p["members"]
    )
    tls = [
        ("TRUSTED_CA_FILE", pki + "/ca.crt"),
        ("CERT_FILE", pki + "/node.crt"),
        ("KEY_FILE", pki + "/node.key"),
    ]
    return (
        [
            ("ETCD_NAME", p["node"]),
            ("ETCD_DATA_DIR", p["data_dir"]),
            ("ETCD_LISTEN_CLIENT_URLS", ",".join(listen)),
            ("ETCD_ADVERTISE_CLIENT_URLS", url(address, p["client_port"])),
            ("ETCD_LISTEN_PEER_URLS", url(address, p["peer_port"])),
            ("ETCD_INITIAL_ADVERTISE_PEER_URLS", url(address, p["peer_port"])),
            ("ETCD_INITIAL_CLUSTER", initial),
            ("ETCD_INITIAL_CLUSTER_TOKEN", "podplay-%s" % p["cluster"]),
            ("ETCD_INITIAL_CLUSTER_STATE", "new"),
            ("ETCD_CLIENT_CERT_AUTH", "true"),
        ]
        + [("ETCD_" + k, v) for k, v in tls]
        + [("ETCD_PEER_CLIENT_CERT_AUTH", "true")]
        + [("ETCD_PEER_" + k, v) for k, v in tls]
        + [
            ("ETCD_HEARTBEAT_INTERVAL", str(int(p["heartbeat_ms"]))),
            ("ETCD_ELECTION_TIMEOUT", str(int(p["election_ms"]))),
            ("ETCD_PRE_VOTE", "true"),
            ("ETCD_AUTO_COMPACTION_MODE", "periodic"),
            ("ETCD_AUTO_COMPACTION_RETENTION", "1h"),
            ("ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL", "5s"),
            ("ETCD_ENABLE_V2", "false"),
            ("ETCD_LOGGER", "zap"),
            ("ETCD_LOG_OUTPUTS", "stderr"),
        ]
    )


def env_text(p: Dict[str, Any]) -> str:
    """/etc/podplay/etcd.env. The initial cluster only matters on a member's first start:
    etcd ignores it once the data directory holds a member, so re-runs keep the data."""
    lines = [
        "# Managed by podplay (role podplay.cluster.control_plane): etcd member %s of cluster"
        " %s." % (p["node"], p["cluster"]),
        "# ETCD_INITIAL_* only matter on the first start (empty data directory).",
    ]
    lines += ["%s=%s" % (k, v) for k, v in etcd_settings(p)]
    return "\n".join(lines) + "\n"


def read_env(text: Optional[str]) -> Dict[str, str]:
    """KEY=value lines of an env file (comments skipped)."""
    values = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            values[k] = v
    return values


def refuse_other_members(p: Dict[str, Any], new_env: str) -> None:
    """A member whose data was made with other members would never rejoin its old store:
    say so instead of starting it."""
    old = read_env(changes.read_text(p["env_path"])).get("ETCD_INITIAL_CLUSTER")
    new = read_env(new_env).get("ETCD_INITIAL_CLUSTER")
    if old is not None and old != new and os.path.isdir(os.path.join(p["data_dir"], "member")):
        raise ApplyError(
            "the store's members changed (it was made with %s); podplay does not change the "
            "members of an existing store. To start it afresh (its data is lost): stop etcd "
            "and remove %s on every member, then run again" % (old, p["data_dir"])
        )


def etcd_ids(user: str, check: bool) -> Optional[Tuple[int, int]]:
    """The etcd user's (uid, gid); None in check mode before the package made it."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        if check:
            return None
        raise ApplyError(
            "user %r does not exist; etcd runs as it (the etcd-server package makes it)" % user
        ) from None
    return (entry.pw_uid, entry.pw_gid)


def store_files(
    p: Dict[str, Any], member: bool, ids: Optional[Tuple[int, int]], bundle: str
) -> Dict[str, changes.Wanted]:
    """Every file this node should have, by kind."""
    pki = p["pki_dir"]
    files = {
        "ca": changes.Wanted(pki + "/ca.crt", pem_text(p["ca"])),
        "cert": changes.Wanted(pki + "/node.crt", pem_text(p["cert"])),
        "key": changes.Wanted(pki + "/node.key", pem_text(p["key"]), 0o600, True, ids),
        "store": changes.Wanted(p["config_path"], canonical_text(store_config(p).to_json())),
    }
    if member:
        files["env"] = changes.Wanted(p["env_path"], env_text(p))
        files["unit"] = changes.Wanted(
            p["unit_path"], units.etcd_unit(p["node"], p["env_path"], p["user"], ETCD_BINARY)
        )
        controller = units.controller_unit(bundle, sha256_file(bundle), p["config_path"])
        files["controller"] = changes.Wanted(p["controller_unit_path"], controller)
    return files


def pem_text(pem: str) -> str:
    """PEM as written: whatever whitespace a lookup left around it, one final newline."""
    return pem.strip() + "\n"


def data_dir_differs(path: str, ids: Tuple[int, int], check: bool) -> bool:
    """The data directory (0700, owned by etcd); True when it was (or would be) changed."""
    st = os.stat(path) if os.path.isdir(path) else None
    if st is not None and (st.st_mode & 0o7777) == 0o700 and (st.st_uid, st.st_gid) == ids:
        return False
    if not check:
        if st is None:
            os.makedirs(path, 0o700)
        os.chmod(path, 0o700)
        os.chown(path, ids[0], ids[1])
    return True


def apply_store(desired: Dict[str, Any], bundle: str, check: bool, diff: bool) -> Dict[str, Any]:
    p = settings(desired)
    member = any(m["name"] == p["node"] for m in p["members"])
    ids = etcd_ids(p["user"], check) if member else None
    files = store_files(p, member, ids, bundle)
    if member:
        refuse_other_members(p, files["env"].text or "")
    made = changes.converge(list(files.values()), check)
    done = set(changes.changed_paths(made))
    kinds = {kind for kind, wanted in files.items() if wanted.path in done}
    changed_files = sorted(done)
    if member and ids is not None and data_dir_differs(p["data_dir"], ids, check):
        changed_files.append(p["data_dir"])
    result: Dict[str, Any] = {
        "changed": bool(changed_files) or (member and ids is None),
        "member": member,
        "changed_files": changed_files,
        "unit_changed": "unit" in kinds,
        "restart": member and bool(kinds & set(RESTARTS_ETCD)),
        "controller_unit_changed": "controller" in kinds,
        "controller_restart": member and bool(kinds & set(RESTARTS_CONTROLLER)),
    }
    if diff and made:
        result["diff"] = changes.diffs(made)
    return result
