"""Small helpers every part of the node side shares (standard library only)."""
