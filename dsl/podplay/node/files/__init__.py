"""`files apply {agent|proxy|pods}`: the node writes the files the Ansible modules hand it.

The collection's modules `agent_config`, `proxy_config` and `pod_manifests` send their
desired state as JSON on stdin; this package validates it with the node contract and writes
the files (each atomically, only when it differs), reporting what changed and, for diff
mode, the texts before and after. See ../README.md, "The node bundle".
"""
