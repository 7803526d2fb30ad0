"""The node contract: every file the controller side writes for a node, defined once.

One module per file format, each a set of immutable records with `from_json(doc)` (strict:
any problem is one `ContractError` whose message names the file and the field) and
`to_json()` (the canonical document):

- `pods`, `containers`: a pod manifest, `/etc/podplay/pods/<namespace>_<pod>.json`;
- `cluster`: `/etc/podplay/cluster.json` (nodes, services, endpoints);
- `agent`: `/etc/podplay/agent.json`;
- `network`: `/etc/podplay/network.json`;
- `pod_status`: a pod as the agent API reports it, and the one decision on it (ready with
  its planned IP, or why not) that `up`'s wait, `rollout step` and `podplay get` share;
- `proxy_status`: `/run/podplay/proxy.json`, and whether endpoints are routed everywhere;
- `defaults`: every default value and path both sides share; `jsontext`: the canonical
  text the files are written as, and reading JSON one way.

The controller side (planner, renderer) builds these records and writes their `to_json()`;
the node side (agent, proxy, network setup, `files apply`) reads only through `from_json`.
The control plane's store key layout belongs here too when it lands (a `store` module of the
same kind). Standard library only, Python 3.9 syntax: this package ships in the node bundle.
"""

from podplay.node.contract.errors import ContractError

__all__ = ["ContractError"]
