"""The renderer: a plan becomes plain Ansible files (pure; byte-identical for the same input).

`render(plan, options)` returns relative path → text (what `podplay compile` writes);
`step_playbooks(plan)` the two more playbooks `podplay up` writes beside them (`stage.yml`,
`teardown.yml`), and `rollout(...)` the one that walks a rolling update's stages in one run
(`rollout.yml`); `links(options)` the symlinks to make beside them. Writing them is the
caller's job (`podplay compile`, `podplay.control.workspace`).
"""

from __future__ import annotations

from collections import defaultdict

from podplay.plan import Plan, PodPlan
from podplay.render.inventory import inventory
from podplay.render.options import ImageFile, RenderOptions
from podplay.render.playbook import ansible_cfg, site, stage, teardown
from podplay.render.rollout import ROLLOUT, rollout
from podplay.render.variables import group_vars, host_vars

__all__ = ["ROLLOUT", "ImageFile", "RenderOptions", "links", "render", "rollout", "step_playbooks"]


def render(plan: Plan, options: RenderOptions) -> dict[str, str]:
    """Every file of the Ansible project, by path relative to the output directory."""
    by_node: dict[str, list[PodPlan]] = defaultdict(list)
    for pod in plan.pods:
        by_node[pod.node].append(pod)
    files = {
        "ansible.cfg": ansible_cfg(plan, options.collections_path),
        "inventory.yml": inventory(plan, options.program),
        "group_vars/all.yml": group_vars(plan, options),
        "site.yml": site(plan, options.program),
        "plan.json": plan.to_json(),
    }
    for node in plan.nodes:
        pods = sorted(by_node.get(node.name, []), key=lambda p: (p.namespace, p.name))
        files[f"host_vars/{node.name}.yml"] = host_vars(node, pods)
    return dict(sorted(files.items()))


def step_playbooks(plan: Plan) -> dict[str, str]:
    """The playbooks `up` runs besides site.yml: a rollout step's pods and routing
    (`stage.yml`, also how `destroy --keep-cluster` removes the pods) and `teardown.yml`."""
    return {"stage.yml": stage(plan), "teardown.yml": teardown(plan)}


def links(options: RenderOptions) -> dict[str, str]:
    """Symlinks beside the files: `collections` → the collection path (found from anywhere)."""
    return {"collections": options.collections_path}
