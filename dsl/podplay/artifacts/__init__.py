"""Things podplay builds on the controller: the node image, the node bundle, small images."""
