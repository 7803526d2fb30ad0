"""Hosts from an Ansible inventory the user already has."""

import podplay as pp

pp.Cluster("lab", inventory="hosts.yml", lb_pool="10.0.0.200-10.0.0.210")
web = pp.Deployment("web", replicas=3, containers=[pp.Container("web", "busybox", ports=[80])])
pp.Service("web", selector=web, type="LoadBalancer", ports=[80])
