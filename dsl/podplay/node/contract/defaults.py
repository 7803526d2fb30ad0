"""Every default the controller side and the nodes share, defined once.

The node README documents these values; the records of this package fill them in when a
document leaves a field out, and the controller side imports them instead of repeating them.
"""

from __future__ import annotations

API_VERSION = "podplay/v1"

# Addresses and names of a cluster (DESIGN.md, "Cluster model").
POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"
DNS_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
NODE_PORT_RANGE = (30000, 32767)
AGENT_API_PORT = 10250
# The store (etcd) on the control-plane members: client and peer ports, TLS only.
STORE_CLIENT_PORT = 2379
STORE_PEER_PORT = 2380
SSH_PORT = 22
# What a pod may never reach on any node (network.json `node_only_ports`; the network role
# renders them from the same role variables the agent and control_plane roles use).
NODE_ONLY_PORTS = (SSH_PORT, STORE_CLIENT_PORT, STORE_PEER_PORT, AGENT_API_PORT)
BRIDGE_NETWORK = "podplay"  # the Docker network pods attach to
BRIDGE_NAME = "podplay0"  # its Linux bridge

# Pods and services.
TERMINATION_GRACE_PERIOD = 30
MAX_PODS = 110  # pods a node runs at most unless it says otherwise (the kubelet's default)
AFFINITY_TIMEOUT = 10800  # ClientIP session affinity, seconds (Kubernetes' default)

# Crash-loop backoff (the kubelet's), seconds.
BACKOFF_INITIAL = 10.0
BACKOFF_MAXIMUM = 300.0
BACKOFF_RESET_AFTER = 600.0

# Files on a node.
ETC_DIR = "/etc/podplay"
AGENT_JSON = ETC_DIR + "/agent.json"
TOKEN_FILE = ETC_DIR + "/token"
PODS_DIR = ETC_DIR + "/pods"
CLUSTER_JSON = ETC_DIR + "/cluster.json"
NETWORK_JSON = ETC_DIR + "/network.json"
STORE_JSON = ETC_DIR + "/store.json"  # how a node reaches the store (contract.store_config)
PKI_DIR = ETC_DIR + "/pki"  # the cluster CA, this node's certificate and key
STATE_DIR = "/var/lib/podplay"
RUN_DIR = "/run/podplay"  # emptied at boot
PROXY_STATUS_JSON = RUN_DIR + "/proxy.json"  # what the proxy routes (contract.proxy_status)
# The cluster CA and this node's certificate and key (the control_plane role writes them on
# every node): the store's TLS, and the agent API's (issue 12 item 6).
CA_FILE = PKI_DIR + "/ca.crt"
NODE_CERT = PKI_DIR + "/node.crt"
NODE_KEY = PKI_DIR + "/node.key"
# Pod manifests and the agent's state carry the pods' env values: root's only (issue 12).
PRIVATE_FILE_MODE = 0o600
BUNDLE_PATH = "/opt/podplay/podplay-node.pyz"
KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"

# systemd units the node bundle runs as.
UNIT_DIR = "/etc/systemd/system"
AGENT_UNIT = UNIT_DIR + "/podplay-agent.service"
PROXY_UNIT = UNIT_DIR + "/podplay-proxy.service"
NETWORK_UNIT = UNIT_DIR + "/podplay-network.service"
CONTROLLER_UNIT = UNIT_DIR + "/podplay-controller.service"

# The control plane (seconds): node leases, the controller's leadership, the grace period.
NODE_LEASE_TTL = 3
NODE_LEASE_RENEW = 1.0
# an agent restarted alone keeps its node Ready this long for the next one (agent/storelink)
NODE_RESTART_GRACE = 10
LEADER_LEASE_TTL = 3
LEADER_LEASE_RENEW = 1.0
NODE_GRACE = 3.0
