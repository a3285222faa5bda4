#!/usr/bin/env python3
"""Compares two safetensors files tensor by tensor: prints the largest relative
L2 difference ||a - b|| / ||b|| over the float32 tensors (and which tensor) and
exits 0 when it is at most TOL, 1 when it is larger or the tensor names differ.
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
    worst, worst_name = 0.0, ""
    for name in sorted(a):
        x, y = a[name], b[name]
        diff = math.sqrt(sum((p - q) * (p - q) for p, q in zip(x, y)))
        norm = math.sqrt(sum(q * q for q in y))
        rel = diff / norm if norm > 0 else diff
        if rel > worst:
            worst, worst_name = rel, name
    print("largest relative L2 difference %.3g (%s) over %d tensors" % (worst, worst_name or "-", len(a)))
    return 0 if worst <= tol else 1


sys.exit(main())
