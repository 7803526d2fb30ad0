"""`podplay-controller`: the control plane's one actor (`podplay-node.pyz controller`).

It runs on every control-plane member; one instance at a time leads (a store lease, fenced
writes). The leader watches the node leases; a node whose lease has been gone for the grace
period (`Table.node_grace`, 3 s by default) has its Deployment pods re-bound to Ready nodes
by the placement rules the planner uses, one transaction per pod. Agents and proxies follow
the bindings; nothing else changes. With the store's quorum lost it does nothing.

Collaborators, kopf-style (import-linter keeps the layers):

    cli        the command: store.json in, signals, the loop until stopped
    loop       the coordinator: inbox (a mirror of the store + the leadership), timers
    election   leadership on a store lease, the fence every write compares
    actuate    the leader's writes: node status, moves, events (fenced transactions)
    decide     pure: node readiness and since when, which pod moves where
    world      pure: the mirror's keys read into the store's records
"""
