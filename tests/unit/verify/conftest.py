"""pytester runs the plugin's fixtures in a pytest of their own."""

pytest_plugins = ["pytester"]
