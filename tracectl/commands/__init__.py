"""One module per command family; `tracectl.cli` registers them on the `tracectl` group."""
