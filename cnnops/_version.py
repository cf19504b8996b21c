__version__ = "0.1.0"

# The torch releases cnnops is built and tested against (setup.py warns outside them; `make
# compat TORCH=...` tests any of them, CI the oldest). A built cnnops requires the one minor
# release it was compiled against (cnnops/_build_record.py), which lies in this range. The upper bound is the newest release
# these machines can install and so test: it moves when a newer one has been tested.
TORCH_REQUIREMENT = ">=2.11,<2.15"
