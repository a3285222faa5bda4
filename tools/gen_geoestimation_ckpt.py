#!/usr/bin/python3
"""A synthetic checkpoint shaped like GeoEstimation's released base(M, f*)
(PyTorch Lightning, torch.save zip format) for the tests of
`geoloc weights import-geoestimation`, and PyTorch's answers on test photos.

The module mirrors GeoEstimation's classification/train_base.py: a torchvision
ResNet-50 without avgpool/fc wrapped in a Sequential (`model.0` conv1 ...
`model.7` layer4, plus avgpool and flatten attributes) and one Linear head per
partition (`classifier.0..2`). Weights are random; batch-norm statistics are
set from one training-mode batch (the photos' crops and two noise images) so
activations stay in range, and the heads are scaled to logits of spread ~2.

usage: gen_geoestimation_ckpt.py --out CKPT (--classes N0,N1,N2 | --partitions DIR)
       [--photos DIR --n-photos K --probs OUT.json] [--variants DIR]
--partitions takes the head sizes from DIR/cells_50_{5000,2000,1000}.csv.
--photos writes K 256x256 PNGs (smooth random patterns); --probs writes, per photo
and head, the softmax averaged over torchvision's five 224 crops with ImageNet
normalisation (the paper's inference, what `geoloc predict --crops five` computes
on a 256x256 photo). --variants writes damaged checkpoints: missing.ckpt (no
model.7.2.bn3.running_var), shape.ckpt (model.4.0.conv1.weight [64,64,1,2]),
extra.ckpt (an extra float tensor extra.weight), strided.ckpt (model.0.weight
channels_last), double.ckpt (model.1.weight float64); and readable ones:
plain.ckpt (the same tensors as a plain state_dict of Parameters in pickle
protocol 4) and zip64.ckpt (a one-tensor state_dict in a zip with zip64 records)."""
import argparse
import collections
import io
import json
import os
import struct
import zipfile
import zlib

import numpy as np
import torch
import torchvision
from PIL import Image

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


class Base(torch.nn.Module):
    def __init__(self, classes):
        super().__init__()
        net = torchvision.models.resnet50()
        self.model = torch.nn.Sequential(*list(net.children())[:-2])
        self.model.avgpool = torch.nn.AdaptiveAvgPool2d(1)
        self.model.flatten = torch.nn.Flatten(start_dim=1)
        self.classifier = torch.nn.ModuleList([torch.nn.Linear(2048, n) for n in classes])

    def forward(self, x):
        f = self.model(x)
        return [torch.softmax(h(f), dim=1) for h in self.classifier]


def build(classes, seed, crops):
    """The model, and its eval-mode features of the images crops (N x 3 x 224 x 224),
    whose batch statistics become the batch norms' running statistics."""
    torch.manual_seed(seed)
    m = Base(classes)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.momentum = None  # running statistics = those of the batch below
            torch.nn.init.uniform_(mod.weight, 0.5, 1.5)
            torch.nn.init.uniform_(mod.bias, -0.2, 0.2)
    m.train()
    with torch.no_grad():
        m.model(crops)
    m.eval()
    with torch.no_grad():  # logits of spread ~2: probabilities neither uniform nor one-hot
        f = m.model(crops)
        for h in m.classifier:
            scale = 2.0 / h(f).std().item()
            h.weight.mul_(scale)
            h.bias.mul_(scale)
    return m, f


def lightning(state_dict, classes):
    return {
        "epoch": 14,
        "global_step": 123456,
        "pytorch-lightning_version": "1.0.8",
        "state_dict": state_dict,
        "callbacks": {"ModelCheckpoint": {"best_model_score": torch.tensor(18.4833)}},
        "optimizer_states": [{"state": {0: {"momentum_buffer": torch.zeros(4, 3)}},
                              "param_groups": [{"lr": 0.01, "momentum": 0.9, "weight_decay": 0.0001,
                                                "nesterov": False, "params": [0]}]}],
        "lr_schedulers": [{"milestones": collections.Counter({4: 1, 8: 1, 12: 1}), "gamma": 0.5,
                           "base_lrs": [0.01], "last_epoch": 15}],
        "hyper_parameters": {"arch": "resnet50", "partitionings": {"files": ["cells_50_5000.csv",
                             "cells_50_2000.csv", "cells_50_1000.csv"], "shortnames": ["coarse", "middle", "fine"]},
                             "classes": list(classes), "weights": None, "big": 2 ** 70, "scale": -1.5},
    }


def photos(out_dir, n, seed):
    rng = np.random.default_rng(seed)
    paths = []
    os.makedirs(out_dir, exist_ok=True)
    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    for k in range(n):
        img = np.zeros((256, 256, 3))
        for c in range(3):
            a, b, p = rng.uniform(2, 12, 3)
            img[:, :, c] = 0.5 + 0.5 * np.sin(a * xx + b * yy + p) * np.cos(b * xx - a * yy)
        img = np.clip(img * 255 + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        path = os.path.join(out_dir, "photo%d.png" % k)
        Image.fromarray(img).save(path)
        paths.append(path)
    return paths


def five_crops(path):
    """torchvision's five 224 crops of a photo, ImageNet-normalised: 5 x 3 x 224 x 224."""
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    x = torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1).float() / 255
    return torch.stack(torchvision.transforms.functional.five_crop((x - mean) / std, 224))


def probs(model, features, paths):
    """Per photo (five rows of features each, in order) and head: the crops' mean softmax."""
    out = {}
    with torch.no_grad():
        for k, path in enumerate(paths):
            f = features[5 * k:5 * k + 5]
            out[os.path.basename(path)] = [torch.softmax(h(f), dim=1).mean(0).tolist() for h in model.classifier]
    return out


def zip64(raw, path):
    """Rewrites the torch.save zip raw with zip64 records: every size and offset in a
    zip64 extra field (0xffffffff in the headers), a zip64 end of central directory."""
    src, cd, ff = zipfile.ZipFile(io.BytesIO(raw)), b"", 0xffffffff
    with open(path, "wb") as out:
        for info in src.infolist():
            data, name, off = src.read(info), info.filename.encode(), out.tell()
            crc = zlib.crc32(data)
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034b50, 45, 0, 0, 0, 0, crc, ff, ff, len(name), 20) + name +
                      struct.pack("<HHQQ", 1, 16, len(data), len(data)) + data)
            extra = struct.pack("<HHQQQ", 1, 24, len(data), len(data), off)
            cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 45, 45, 0, 0, 0, 0, crc, ff, ff, len(name),
                              len(extra), 0, 0, 0, 0, ff) + name + extra
        n, cd_off = len(src.infolist()), out.tell()
        out.write(cd)
        end64 = out.tell()
        out.write(struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, n, n, len(cd), cd_off))
        out.write(struct.pack("<IIQI", 0x07064b50, 0, end64, 1))
        out.write(struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 0xffff, 0xffff, ff, ff, 0))


def variants(sd, classes, out_dir):
    os.makedirs(out_dir, exist_ok=True)

    def save(name, change):
        d = collections.OrderedDict(sd)
        change(d)
        torch.save(lightning(d, classes), os.path.join(out_dir, name))

    save("missing.ckpt", lambda d: d.pop("model.7.2.bn3.running_var"))
    save("shape.ckpt", lambda d: d.__setitem__("model.4.0.conv1.weight", torch.zeros(64, 64, 1, 2)))
    save("extra.ckpt", lambda d: d.__setitem__("extra.weight", torch.zeros(3)))
    save("strided.ckpt", lambda d: d.__setitem__(
        "model.0.weight", d["model.0.weight"].contiguous(memory_format=torch.channels_last)))
    save("double.ckpt", lambda d: d.__setitem__("model.1.weight", d["model.1.weight"].double()))
    torch.save({k: torch.nn.Parameter(v) if v.is_floating_point() else v for k, v in sd.items()},
               os.path.join(out_dir, "plain.ckpt"), pickle_protocol=4)
    buf = io.BytesIO()
    torch.save({"state_dict": {"classifier.0.bias": torch.ones(3)}}, buf)
    zip64(buf.getvalue(), os.path.join(out_dir, "zip64.ckpt"))


def partition_size(path):
    """Cells of a partition file in the published format (rows after the class_label header)."""
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    head = next(k for k, line in enumerate(lines) if line.startswith("class_label"))
    return len(lines) - head - 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--classes")
    ap.add_argument("--partitions")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--photos")
    ap.add_argument("--n-photos", type=int, default=2)
    ap.add_argument("--probs")
    ap.add_argument("--variants")
    a = ap.parse_args()
    if a.partitions:
        classes = [partition_size(os.path.join(a.partitions, "cells_50_%d.csv" % t)) for t in (5000, 2000, 1000)]
    else:
        classes = [int(c) for c in a.classes.split(",")]
    assert len(classes) == 3
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    paths = photos(a.photos, a.n_photos, a.seed) if a.photos else []
    crops = torch.cat([five_crops(p) for p in paths] + [torch.randn(2, 3, 224, 224)])
    model, features = build(classes, a.seed, crops)
    sd = model.state_dict()
    torch.save(lightning(sd, classes), a.out)
    if a.probs:
        with open(a.probs, "w") as f:
            json.dump(probs(model, features, paths), f)
    if a.variants:
        variants(sd, classes, a.variants)


if __name__ == "__main__":
    main()
