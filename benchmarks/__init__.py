"""cnnops benchmark suite: `python -m benchmarks` (or `make bench`, or `cnnops-bench`)."""
