"""Cluster DNS on every node: `<svc>.<ns>.svc.<domain>` A/SRV/PTR, ExternalName CNAMEs,
everything else forwarded to the node's resolvers. `zone` is pure; `server` is the shell;
`wire` is the message format. The proxy process runs the server and feeds it the zone.
"""
