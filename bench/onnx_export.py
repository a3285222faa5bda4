#!/usr/bin/python3
"""Exports a torchvision ResNet in float32 (eval mode, torchvision's random
initialisation: the values do not affect the time) to ONNX for bench/nn_ort.js.

    /usr/bin/python3 bench/onnx_export.py OUT_DIR [--arch resnet50] [--classes 1000]
        [--size 224] [--opset 17]

Writes OUT_DIR/<arch>.onnx with input "input" of shape [batch, 3, height, width]
(all three dynamic: --size is only the tracing shape) and output "logits"
[batch, classes]. torch.onnx.export needs no
`onnx` pip package. The file is a benchmark artefact, never committed.
"""
import argparse
import os
import sys

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--opset", type=int, default=17)
    a = ap.parse_args()
    builder = getattr(torchvision.models, a.arch, None)
    if builder is None or not callable(builder):
        ap.error(f"unknown torchvision architecture: {a.arch}")
    os.makedirs(a.out_dir, exist_ok=True)
    path = os.path.join(a.out_dir, f"{a.arch}.onnx")
    tmp = path + ".tmp"
    torch.manual_seed(0)
    model = builder(num_classes=a.classes).float().eval()
    x = torch.randn(1, 3, a.size, a.size)
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, opset_version=a.opset, do_constant_folding=True,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}})
    os.replace(tmp, path)  # a complete file or none, for bench/nn.sh's "exists" test
    print(f"{path}: {a.arch}, {a.classes} classes, opset {a.opset}, "
          f"{os.path.getsize(path) / 2**20:.0f} MiB", file=sys.stderr)


if __name__ == "__main__":
    main()
