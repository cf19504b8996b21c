"""Runnable course examples on cnnops: `python -m examples.<name> --help`."""
