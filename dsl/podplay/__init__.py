"""podplay: Kubernetes-style clusters described in Python, delivered by Ansible."""

__version__ = "0.1.0"
