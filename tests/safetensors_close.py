#!/usr/bin/env python3
"""Compares the float32 tensors of two safetensors files as one vector of
parameters: prints the relative L2 difference ||a - b|| / ||b|| of the whole
and the largest one of a single tensor (naming it), and exits 0 when the
whole's is at most TOL, 1 when it is larger or the tensor names differ.
(Single tensors that start at zero, such as biases, hold only the training's
updates, whose float rounding varies with the summation order even between
thread counts of one process: the whole is the stable measure.)
Usage: safetensors_close.py A B TOL"""
import json
import math
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        lo, hi = info["data_offsets"]
        tensors[name] = struct.unpack_from("<%df" % ((hi - lo) // 4), blob, base + lo)
    return tensors


def main():
    a, b, tol = read(sys.argv[1]), read(sys.argv[2]), float(sys.argv[3])
    if sorted(a) != sorted(b):
        print("tensor names differ: %s" % sorted(set(a) ^ set(b))[:5])
        return 1
    worst, worst_name, diff2, norm2 = 0.0, "", 0.0, 0.0
    for name in sorted(a):
        x, y = a[name], b[name]
        d2 = sum((p - q) * (p - q) for p, q in zip(x, y))
        n2 = sum(q * q for q in y)
        diff2, norm2 = diff2 + d2, norm2 + n2
        rel = math.sqrt(d2 / n2) if n2 > 0 else math.sqrt(d2)
        if rel > worst:
            worst, worst_name = rel, name
    whole = math.sqrt(diff2 / norm2) if norm2 > 0 else math.sqrt(diff2)
    print("relative L2 difference %.3g over %d tensors (largest of one tensor %.3g, %s)"
          % (whole, len(a), worst, worst_name or "-"))
    return 0 if whole <= tol else 1


sys.exit(main())
