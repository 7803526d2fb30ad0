"""The node agent (kubelet-equivalent): keeps this node's pods true between Ansible runs.

Pure core: `manifest` (what is wanted), `reconcile` (wanted + seen -> actions), `backoff`,
`probes` (state machines), `status` (what to report). Effectful shell: `runtime` (Docker),
`prober` (runs probes), `watcher` (manifest directory), `api` (HTTP), `agent` (the loop).
"""
