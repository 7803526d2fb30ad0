"""The node's pod network: the `podplay` Docker bridge, routes to other nodes' pod CIDRs, NAT.

`config` reads /etc/podplay/network.json, `plan` decides (pure) what must change given what
the node has, `host` reads and changes the node (Docker API, `ip`, iptables), `cli` is
`podplay-node.pyz network apply`.
"""
