"""tracectl: the developer CLI (local run, traces, compare, traffic)."""
