#!/usr/bin/env python3
"""Build dist/newsbench/ from raw/: the same as `newsbench build`. Run with --help for options."""

import sys
from pathlib import Path

try:
    from newsbench.cli import build_main
except ModuleNotFoundError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    from newsbench.cli import build_main

if __name__ == "__main__":
    build_main()
