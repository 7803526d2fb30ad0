"""`files apply {agent|proxy|pods|store}`: the node writes the files the Ansible modules hand it.

The collection's modules `agent_config`, `proxy_config`, `pod_manifests` and `store_config`
send their desired state as JSON on stdin; this package validates it with the node contract
and writes the files (each atomically, only when it differs), reporting what changed and,
for diff mode, the texts before and after. See ../README.md, "The node bundle".
"""
