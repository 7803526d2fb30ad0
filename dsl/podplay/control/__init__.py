"""The control plane on the machine that runs podplay: stack state, agent clients, applies."""
