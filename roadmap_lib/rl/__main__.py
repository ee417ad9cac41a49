"""``python -m roadmap_lib.rl benchmark [names] [--smoke]``: run Part III's recorded studies."""

import sys

from ..benchmark import cli
from .studies import BENCHMARKS

if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] != "benchmark":
        sys.exit("usage: python -m roadmap_lib.rl benchmark [names...] [--smoke] [--out PATH]")
    cli(BENCHMARKS, args[1:], prog="python -m roadmap_lib.rl benchmark")
