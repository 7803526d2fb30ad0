"""Entry point of the node bundle: `python3 podplay-node.pyz <command> ...`.

Each command lives in its own subpackage and is imported only when asked for, so a node
that runs only the network setup never imports the agent.
"""

import importlib
import sys

COMMANDS = {
    "network": ("podplay.node.network.cli", "set up the pod network: bridge, routes, NAT"),
    "agent": ("podplay.node.agent.cli", "run the node agent (pods, probes, status API)"),
    "proxy": ("podplay.node.proxy_command", "run the service proxy and cluster DNS"),
    "files": ("podplay.node.files.cli", "write a role's files from its desired state (stdin)"),
    "store": ("podplay.node.store.cli", "the cluster's store (etcd): health, get, put, del"),
    "rollout": ("podplay.node.rollout.cli", "one node's part of a rollout step: write, then wait"),
    "controller": ("podplay.node.controller.cli", "run the controller (moves a dead node's pods)"),
    "version": (None, "print the bundle version"),
}


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: podplay-node <command> [args]\n\ncommands:", file=sys.stderr)
        for name, (_, helptext) in COMMANDS.items():
            print("  %-10s %s" % (name, helptext), file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    command, rest = argv[0], argv[1:]
    if command == "version":
        from podplay.node import VERSION

        print(VERSION)
        return 0
    module = importlib.import_module(COMMANDS[command][0])
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
