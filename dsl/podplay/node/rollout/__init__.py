"""`podplay-node.pyz rollout step`: one node's part of one step of a rolling update.

The rollout playbook (rendered by `podplay up`: one play, a block of tasks per stage) calls
it once per node per step: the pods bound here and
cluster.json as the step has them (through the same writers as `files apply pods|proxy`),
then a wait on this node, for this node's agent and proxy, until the step's condition holds
here (`podplay.node.contract.rollout.WaitSpec`). Ansible starts the next step only once every
node has returned, so no process per step and no polling from the controller.

`wait` decides (pure, a fake clock in tests), `look` asks the local agent and proxy, `cli`
is the command.
"""
