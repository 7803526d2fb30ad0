"""Small helpers shared by the node's services (agent, proxy, network, DNS), which import
nothing of each other: what two of them need lives here once."""
