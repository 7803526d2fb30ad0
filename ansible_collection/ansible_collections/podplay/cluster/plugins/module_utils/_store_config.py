# Copyright podplay developers. Apache-2.0.
"""What the `control_plane` role writes on a node, as plain text (pure; unit-tested).

On every node:
- `/etc/podplay/pki/ca.crt`, `node.crt`, `node.key` (0600): the cluster CA and this node's
  certificate (server and client: etcd's own on members, the agent's and controller's
  client certificate everywhere);
- `/etc/podplay/store.json`: how the node reaches the store (format: podplay.node.store.config).

On the store's members (the inventory group `control_plane`) also:
- `/etc/podplay/etcd.env`: etcd's settings as `ETCD_*` variables (name, data dir, TLS on
  client and peer ports, the initial cluster, timing);
- `/etc/systemd/system/etcd.service`: the unit running `/usr/bin/etcd` as user etcd with
  those settings (it shadows the distribution's unit).

Timing: heartbeat 100 ms, election timeout 1000 ms (etcd's defaults; measured here, a
frozen leader's node is replaced by a new leader taking writes in 1.0-1.8 s), pre-vote on,
so a member cut off and coming back does not depose a healthy leader. A lease cannot be
shorter than 1.5 x the election timeout, rounded up: 2 s with these settings. Watches get a
progress notification every 5 s, so a silent stream means a lost member.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

STORE_JSON = "/etc/podplay/store.json"
PKI_DIR = "/etc/podplay/pki"
ENV_PATH = "/etc/podplay/etcd.env"
UNIT_PATH = "/etc/systemd/system/etcd.service"
DATA_DIR = "/var/lib/etcd/podplay"
ETCD_BINARY = "/usr/bin/etcd"
LOOPBACK = "127.0.0.1"


class StoreInputError(ValueError):
    """A parameter the store cannot be configured from; the message names it."""


def pki_paths(pki_dir=PKI_DIR):
    return {
        "ca": pki_dir + "/ca.crt",
        "cert": pki_dir + "/node.crt",
        "key": pki_dir + "/node.key",
    }


def check_members(members, node):
    """[{name, address}] with unique names and addresses; 1, 3 or 5 of them."""
    if not isinstance(members, list) or not members:
        raise StoreInputError(
            "members: no store members; put 1, 3 or 5 hosts in the inventory group control_plane"
        )
    names, addresses = set(), set()
    for i, m in enumerate(members):
        if not isinstance(m, dict) or not m.get("name") or not m.get("address"):
            raise StoreInputError("members[%d]: expected {name, address}, got %r" % (i, m))
        if m["name"] in names or m["address"] in addresses:
            raise StoreInputError("members[%d]: %s is listed twice" % (i, m["name"]))
        names.add(m["name"])
        addresses.add(m["address"])
    if len(members) not in (1, 3, 5):
        raise StoreInputError(
            "members: %d store members (%s); the store needs 1, 3 or 5"
            % (len(members), ", ".join(sorted(names)))
        )
    return node in names


def client_url(address, port):
    return "https://%s:%d" % (address, int(port))


def peer_url(address, port):
    return "https://%s:%d" % (address, int(port))


def store_doc(cluster, node, members, client_port, pki_dir=PKI_DIR):
    """The store.json document (podplay.node.store.config's StoreConfig)."""
    doc = {
        "apiVersion": "podplay/v1",
        "kind": "StoreConfig",
        "cluster": cluster,
        "node": node,
        "members": [
            {"name": m["name"], "endpoint": client_url(m["address"], client_port)} for m in members
        ],
    }
    doc.update(pki_paths(pki_dir))
    return doc


def json_text(doc):
    """Canonical text: same document, same bytes."""
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def pem_text(pem):
    """PEM as written: whatever whitespace a lookup left around it, one final newline."""
    return pem.strip() + "\n"


def initial_cluster(members, peer_port):
    return ",".join("%s=%s" % (m["name"], peer_url(m["address"], peer_port)) for m in members)


def etcd_settings(p, members):
    """etcd's settings for this member, in a stable order (name, value)."""
    address = p["address"]
    pki = pki_paths(p["pki_dir"])
    listen = [client_url(address, p["client_port"])]
    if address != LOOPBACK:
        listen.append(client_url(LOOPBACK, p["client_port"]))
    return [
        ("ETCD_NAME", p["node"]),
        ("ETCD_DATA_DIR", p["data_dir"]),
        ("ETCD_LISTEN_CLIENT_URLS", ",".join(listen)),
        ("ETCD_ADVERTISE_CLIENT_URLS", client_url(address, p["client_port"])),
        ("ETCD_LISTEN_PEER_URLS", peer_url(address, p["peer_port"])),
        ("ETCD_INITIAL_ADVERTISE_PEER_URLS", peer_url(address, p["peer_port"])),
        ("ETCD_INITIAL_CLUSTER", initial_cluster(members, p["peer_port"])),
        ("ETCD_INITIAL_CLUSTER_TOKEN", "podplay-%s" % p["cluster"]),
        ("ETCD_INITIAL_CLUSTER_STATE", "new"),
        ("ETCD_CLIENT_CERT_AUTH", "true"),
        ("ETCD_TRUSTED_CA_FILE", pki["ca"]),
        ("ETCD_CERT_FILE", pki["cert"]),
        ("ETCD_KEY_FILE", pki["key"]),
        ("ETCD_PEER_CLIENT_CERT_AUTH", "true"),
        ("ETCD_PEER_TRUSTED_CA_FILE", pki["ca"]),
        ("ETCD_PEER_CERT_FILE", pki["cert"]),
        ("ETCD_PEER_KEY_FILE", pki["key"]),
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


def env_text(p, members):
    """/etc/podplay/etcd.env. The initial cluster only matters on a member's first start:
    etcd ignores it once the data directory holds a member, so re-runs keep the data."""
    lines = [
        "# Managed by podplay (role podplay.cluster.control_plane): etcd member %s of cluster"
        " %s." % (p["node"], p["cluster"]),
        "# ETCD_INITIAL_* only matter on the first start (empty data directory).",
    ]
    lines += ["%s=%s" % (k, v) for k, v in etcd_settings(p, members)]
    return "\n".join(lines) + "\n"


def read_env(text):
    """KEY=value lines of an env file (comments skipped)."""
    values = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            values[k] = v
    return values


def members_changed(old_env_text, new_env_text):
    """The initial cluster an existing member was configured with, when it differs from the
    new one (None when it does not, or when there was none)."""
    old = read_env(old_env_text).get("ETCD_INITIAL_CLUSTER")
    new = read_env(new_env_text).get("ETCD_INITIAL_CLUSTER")
    if old is None or old == new:
        return None
    return old


def unit_text(node, env_path=ENV_PATH, user="etcd", binary=ETCD_BINARY):
    return "\n".join(
        [
            "# Managed by podplay (role podplay.cluster.control_plane).",
            "# It shadows the etcd package's own unit of the same name.",
            "[Unit]",
            "Description=etcd: the podplay cluster's store (member %s)" % node,
            "Documentation=file://%s" % env_path,
            "Wants=network-online.target",
            "After=network-online.target",
            "",
            "[Service]",
            "# ready (sd_notify) once the member has joined a cluster with a leader",
            "Type=notify",
            "User=%s" % user,
            "EnvironmentFile=%s" % env_path,
            "ExecStart=%s" % binary,
            "Restart=always",
            "RestartSec=1s",
            "LimitNOFILE=65536",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )
