#!/usr/bin/env python3
"""Checks a `geoloc weights import-keras` output against real references.

1. Every tensor of OUT.safetensors against the raw Keras arrays, read here
   independently with numpy from the tfjs folder (model.json's weightsManifest,
   shards concatenated in `paths` order) and mapped to torchvision names by
   this script's own table: conv kernels HWIO -> OIHW, fc1000 [in,out] -> [out,in],
   bit for bit.
2. The weights loaded (strictly) into a torchvision resnet50 changed to the
   Keras v1 layout (stride 2 on conv1, not conv2, of the first bottleneck of
   layer2-4; biases on every conv; BatchNorm eps 1e-3) classify the images of
   the shared imagenet-check folder with its preprocessing (central square
   crop, bilinear resize to 224, RGB->BGR, minus [103.939, 116.779, 123.68]):
   the top-1 class must be expected.csv's top1_index_1000 for every image.

Needs torch, torchvision, PIL and numpy (Debian: /usr/bin/python3 here).
Usage: tools/check_keras_import.py OUT.safetensors KERAS_DIR [IMAGENET_CHECK_DIR]
Exit status 0 when everything matches.
"""
import csv
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision
from PIL import Image

MEANS_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def read_safetensors(path):
    """name -> numpy array, and the metadata, from the documented format."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    meta = header.pop("__metadata__", {})
    base = 8 + hlen
    order = sorted(header, key=lambda k: header[k]["data_offsets"][0])
    tensors = {}
    for name in order:
        t = header[name]
        assert t["dtype"] == "F32", name
        b, e = t["data_offsets"]
        tensors[name] = np.frombuffer(raw, dtype="<f4", count=(e - b) // 4,
                                      offset=base + b).reshape(t["shape"])
    return tensors, meta, order


def read_keras(folder):
    """Keras name -> numpy array straight from model.json and the shards."""
    with open(os.path.join(folder, "model.json")) as f:
        model = json.load(f)
    arrays = {}
    for group in model["weightsManifest"]:
        stream = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        pos = 0
        for w in group["weights"]:
            assert w["dtype"] == "float32"
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            arrays[w["name"]] = np.frombuffer(stream, dtype="<f4", count=n,
                                              offset=pos).reshape(w["shape"])
            pos += 4 * n
        assert pos == len(stream), "shards and manifest disagree"
    return arrays


def keras_to_torch_names():
    """(keras layer, torchvision module, kind) in torchvision order."""
    out = [("conv1", "conv1", "conv"), ("bn_conv1", "bn1", "bn")]
    for stage, blocks in zip(range(2, 6), (3, 4, 6, 3)):
        for b in range(blocks):
            letter = "abcdef"[b]
            for c, br in enumerate(("2a", "2b", "2c")):
                out.append((f"res{stage}{letter}_branch{br}", f"layer{stage - 1}.{b}.conv{c + 1}", "conv"))
                out.append((f"bn{stage}{letter}_branch{br}", f"layer{stage - 1}.{b}.bn{c + 1}", "bn"))
            if b == 0:
                out.append((f"res{stage}a_branch1", f"layer{stage - 1}.0.downsample.0", "conv"))
                out.append((f"bn{stage}a_branch1", f"layer{stage - 1}.0.downsample.1", "bn"))
    out.append(("fc1000", "fc", "dense"))
    return out


def compare_arrays(tensors, order, keras):
    expected_order = []
    bad = 0
    for kname, tname, kind in keras_to_torch_names():
        if kind == "bn":
            pairs = [("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"),
                     ("moving_variance", "running_var")]
        else:
            pairs = [("kernel", "weight"), ("bias", "bias")]
        for ks, ts in pairs:
            a = keras[f"{kname}/{ks}"]
            if ks == "kernel":
                a = a.transpose(3, 2, 0, 1) if kind == "conv" else a.T
            t = tensors[f"{tname}.{ts}"]
            expected_order.append(f"{tname}.{ts}")
            if a.shape != t.shape or not np.array_equal(a, t):
                print(f"MISMATCH {tname}.{ts} vs {kname}/{ks}: {t.shape} vs {a.shape}")
                bad += 1
    if len(keras) != len(tensors) or len(tensors) != len(expected_order):
        print(f"MISMATCH counts: {len(keras)} keras arrays, {len(tensors)} tensors")
        bad += 1
    if order != expected_order:
        print("MISMATCH: tensors not in torchvision state_dict order")
        bad += 1
    # a few by hand: (keras name, keras index) -> (torch name, torch index)
    for kname, ki, tname, ti in (("res3a_branch2a/kernel", (0, 0, 5, 7), "layer2.0.conv1.weight", (7, 5, 0, 0)),
                                 ("conv1/kernel", (6, 2, 1, 63), "conv1.weight", (63, 1, 6, 2)),
                                 ("fc1000/kernel", (5, 7), "fc.weight", (7, 5)),
                                 ("bn5c_branch2c/moving_variance", (5,), "layer4.2.bn3.running_var", (5,))):
        a, t = float(keras[kname][ki]), float(tensors[tname][ti])
        print(f"  keras {kname}{list(ki)} = {a:.9g}   {tname}{list(ti)} = {t:.9g}"
              f"   {'equal' if a == t else 'DIFFERENT'}")
        bad += a != t
    print(f"tensors vs raw Keras arrays: {len(expected_order) - bad} of {len(expected_order)} equal"
          f" (all in state_dict order: {order == expected_order})")
    return bad == 0


def keras_resnet50():
    """torchvision resnet50 changed to the Keras v1 layout."""
    net = torchvision.models.resnet50(weights=None)
    for layer in (net.layer2, net.layer3, net.layer4):
        layer[0].conv1.stride = (2, 2)
        layer[0].conv2.stride = (1, 1)
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.bias = torch.nn.Parameter(torch.zeros(m.out_channels))
        elif isinstance(m, torch.nn.BatchNorm2d):
            m.eps = 1e-3
    return net.eval()


def preprocess(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    img = img.crop((left, top, left + s, top + s)).resize((224, 224), Image.BILINEAR)
    x = np.asarray(img, dtype=np.float32)[:, :, ::-1] - MEANS_BGR  # RGB -> BGR, caffe means
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, folder = sys.argv[1], sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.environ.get("GEOLOC_SHARED_DATA", os.path.join(here, "..", "..", "shared", "data"))
    images = sys.argv[3] if len(sys.argv) > 3 else os.path.join(shared, "imagenet-check")

    tensors, meta, order = read_safetensors(out)
    ok = True
    want_meta = {"geoloc.format": "geoloc-weights-1", "geoloc.arch": "resnet50",
                 "geoloc.stride_in_bottleneck": "conv1", "geoloc.bn_eps": "0.001",
                 "geoloc.conv_bias": "true", "geoloc.input": "caffe_bgr"}
    for k, v in want_meta.items():
        if meta.get(k) != v:
            print(f"MISMATCH metadata {k}: {meta.get(k)!r}, expected {v!r}")
            ok = False
    classes = meta.get("geoloc.classes", "").split("\n")
    print(f"metadata: source {meta.get('geoloc.source')!r}, {len(classes)} class names")
    ok &= compare_arrays(tensors, order, read_keras(folder))

    net = keras_resnet50()
    state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()}
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        print(f"MISMATCH load_state_dict: missing {missing}, unexpected {unexpected}")
        ok = False

    print(f"{'image':18} {'top1':>4} {'expected':>8} {'p(top1)':>8} {'expected p':>10}  "
          f"{'top2':24} {'p(top2)':>8} {'expected':>8}")
    with open(os.path.join(images, "expected.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    with torch.no_grad():
        for row in rows:
            p = torch.softmax(net(preprocess(os.path.join(images, row["image"]))), dim=1)[0]
            top = torch.topk(p, 2)
            i1, i2 = int(top.indices[0]), int(top.indices[1])
            good = i1 == int(row["top1_index_1000"])
            ok &= good
            name2 = classes[i2] if i2 < len(classes) else str(i2)
            print(f"{row['image']:18} {i1:4d} {int(row['top1_index_1000']):8d} {float(p[i1]):8.4f} "
                  f"{float(row['top1_prob']):10.3f}  {name2[:24]:24} {float(p[i2]):8.4f} "
                  f"{float(row['top2_prob']):8.3f}  {'ok' if good else 'WRONG TOP-1'}"
                  f"  ({classes[i1] if i1 < len(classes) else i1})")
    print("ALL OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
