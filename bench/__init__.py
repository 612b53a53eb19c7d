"""Cold-start and warm-overhead benchmark: `make bench` (python -m bench)."""
