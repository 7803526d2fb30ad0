"""Service routing on a node: kube-proxy's iptables mode (the node-local cluster DNS it
feeds is `podplay.node.dns`, joined to it by `podplay.node.proxy_command`).

Pure core: `state` (cluster.json -> values), `rules` (values + ready endpoints -> ruleset),
`ruleset` (ruleset -> iptables-restore text, full or as a difference), `readiness` (agent
snapshots + a clock -> ready endpoints). Effectful shell: `watch` (one NDJSON stream per
node's agent), `inputs` (agent.json, cluster.json, the store's bindings and the watchers,
kept current), `iptables` (iptables-restore/-save, canary), `proxier` (the loop: when to
render and apply), `cli`.
"""
