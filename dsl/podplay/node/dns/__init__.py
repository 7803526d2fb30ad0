"""Cluster DNS on every node: `<svc>.<ns>.svc.<domain>` A/SRV/PTR, ExternalName CNAMEs,
everything else forwarded to the node's resolvers. `zone` is pure; `server` is the shell;
`wire` is the message format; `service` keeps the current zone and runs the server. The proxy
process feeds it (`podplay.node.proxy_command`); nothing here imports the proxy.
"""
