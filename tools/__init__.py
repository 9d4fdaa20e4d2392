"""Tools for the maintainers: measurements of the tree (not installed with the package)."""
