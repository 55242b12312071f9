#!/usr/bin/env python3
"""Experiments/lenet.json's network trained in PyTorch eager (CPU) with ConvLab's data and recipe.

A thin entry point to convlab_torch.py (which runs any spec; see its docstring for the
conventions it follows). Arguments pass through, e.g.:

    python3 scripts/reference/lenet_torch.py --steps 300 --threads 2    # speed: images/s
    python3 scripts/reference/lenet_torch.py --epochs 1                  # train and evaluate
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convlab_torch  # noqa: E402

SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Experiments", "lenet.json")

if __name__ == "__main__":
    convlab_torch.main([os.path.normpath(SPEC)] + sys.argv[1:])
