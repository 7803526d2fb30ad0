"""pytest plugin (entry point `podplay`): fixtures for a podplay cluster and its nodes.

Fixtures are added as `podplay verify` grows; loading this module has no side effects.
"""
