"""The node agent (kubelet-equivalent): keeps this node's pods true between Ansible runs.

Decision (pure): `manifest` (what is wanted), `admission` (what can run here), `reconcile`
(wanted + seen -> actions), `backoff`, `probes` (state machines), `observed` (containers and
a pod's history), `status` (what to report), `messages` (the loop's inbox). Actuation:
`agent` (the loop, a coordinator) with its collaborators `sources` (where wanted pods come
from), `engine` (what runs), `actuator` (runs actions), `probing` (probe bookkeeping),
`publisher` (statuses, events), `memory` (agent-state.json); adapters `runtime` (Docker),
`prober`, `watcher`, `board`; `api` (HTTP) and `cli`. Decision never imports actuation
(import-linter, pyproject.toml).
"""
