"""Propagate a test pattern through an ideal 4f system and save a figure.

    python examples/fourf_demo.py [--out DIR] [--n 256]

The code lives in :mod:`optics4f.demo` so that ``optics4f demo`` runs it too.
"""
import sys

from optics4f.demo import main

if __name__ == "__main__":
    sys.exit(main())
