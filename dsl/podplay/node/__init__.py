"""The node side of podplay: what runs on every node, shipped there as one zipapp.

Only the standard library and the Docker SDK may be imported here (checked by import-linter),
because nodes have no internet and no podplay installation. See README.md in this folder for
the contracts between the controller and the nodes.
"""

VERSION = "0.1.0"
