"""``python -m roadmap_lib.multimodal benchmark [names...] [--smoke] [--out PATH]``."""

import sys

from ..benchmark import cli
from .studies import BENCHMARKS

if __name__ == "__main__":
    if sys.argv[1:2] != ["benchmark"]:
        sys.exit("usage: python -m roadmap_lib.multimodal benchmark [names...] [--smoke] [--out PATH]")
    cli(BENCHMARKS, sys.argv[2:], prog="python -m roadmap_lib.multimodal benchmark")
