__version__ = "0.1.0"

# The torch releases cnnops is built and tested against (setup.py's install_requires; `make
# compat TORCH=...` tests any of them, CI the oldest). The upper bound is the newest release
# these machines can install and so test: it moves when a newer one has been tested.
TORCH_REQUIREMENT = ">=2.11,<2.15"
