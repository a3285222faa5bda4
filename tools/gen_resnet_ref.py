#!/usr/bin/python3
"""PyTorch references for the C ResNet engine (checked the way llm.c checks its C
against PyTorch): writes tests/data/resnet18_ref.safetensors (a whole ResNet-18
training step), tests/data/layers_ref.safetensors (single layers, forward
and backward) and tests/data/resnet18_trajectory.safetensors (the loss over
12 SGD steps of a ResNet-18 with four heads). Dev-only; needs the Debian packages python3-torch and
python3-torchvision (run with /usr/bin/python3).

    /usr/bin/python3 tools/gen_resnet_ref.py [--out-dir tests/data] [--only STEM]

No weights are stored: every input and parameter comes from the generator
below, which the C engine implements too, so it rebuilds the same values.

GENERATOR (all arithmetic on unsigned 64-bit integers, mod 2^64)
  splitmix64(x):  z = x + 0x9E3779B97F4A7C15
                  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
                  z = (z ^ (z >> 27)) * 0x94D049BB133111EB
                  z = z ^ (z >> 31)
  value of stream k, element i (i = row-major flattened index):
                  u(k, i) = ((splitmix64((k << 32) | i) >> 11) * 2^-53) * 2 - 1
  u is a double in [-1, 1); every formula below (scale * u + offset) is
  evaluated in double and rounded to float32 once, at the end.

RESNET-18 (resnet18_ref.safetensors)
  torchvision resnet18(num_classes=10). The tensors of model.state_dict(), in
  that order, without the num_batches_tracked counters, get streams k = 0, 1, 2,
  ... (conv1.weight = 0, bn1.weight = 1, bn1.bias = 2, bn1.running_mean = 3,
  bn1.running_var = 4, layer1.0.conv1.weight = 5, ..., fc.weight = 100,
  fc.bias = 101; the list is in the metadata key "weight_streams"):
    conv weight  u * sqrt(6 / (in_channels * kh * kw))
    fc.weight    u * sqrt(6 / in_features)
    fc.bias      0.1 * u
    BN weight    1 + 0.2 * u          BN bias        0.1 * u
    running_mean 0.1 * u              running_var    1 + 0.5 * u
  input  [4, 3, 64, 64] = u, stream 1000 (NCHW row-major); labels [3, 7, 0, 9].
  float32, one thread. model.train(); logits_train = model(input);
  loss = CrossEntropyLoss(mean); loss.backward(); then model.eval();
  logits_eval = model(input), i.e. with the running statistics updated once by
  the training forward (momentum 0.1, unbiased batch variance).
  Gradients of parameters with more than 65536 elements are sampled at the
  4096 flattened indices idx_j = splitmix64((2000 << 32) | j) mod numel,
  j = 0..4095 (stream 2000, the raw 64-bit value, not u), with the float64 sum
  and sum of squares of the whole gradient.

TRAJECTORY (resnet18_trajectory.safetensors)
  torchvision resnet18 with fc = Identity and four heads Linear(512, C) added
  as modules geo0 (5 classes), geo1 (9), geo2 (17), scene (3), so the
  state_dict order is the backbone's 100 tensors then geo0.weight, geo0.bias,
  ..., scene.bias: streams 0..107 with the rules above (heads as fc).
  input [8, 3, 64, 64] = u of stream 1001; labels TRAJ_LABELS (scene has one
  -1: ignored). Loss = the paper's: mean of the three geo heads'
  cross-entropies plus the scene cross-entropy (each a mean over its
  labelled photos, ignore_index -1). train() mode throughout (batch
  statistics). torch.optim.SGD(all parameters, lr 0.001, momentum 0.9,
  weight_decay 1e-4); 12 steps of zero_grad, forward, loss, backward, step.
  loss[t], head_loss[t] = the step's values before its update, t = 0..11;
  t = 12 is one more training-mode forward after the last update. Tensors:
  labels [4, 8], loss [13], head_loss [13, 4], head_weight [4] and
  sgd [lr, momentum, weight_decay] (F64).
  Why lr 0.001: these generator weights give large gradients, so the loss
  already falls 100-fold (4.70 to 0.047) in 12 steps; from lr 0.002 up
  (momentum 0.9) the trajectory is chaotic at the 1e-4 level: PyTorch in
  float32 and in float64 differ by more than 1e-4 within 12 steps, so a
  1e-4 comparison would measure rounding luck. At 0.001 they agree to 1e-6.

LAYERS (layers_ref.safetensors): streams 3000-3599, listed in LAYER_STREAMS and
  in the metadata key "streams"; weights follow the ResNet rules above.

Both files are written the way the reference safetensors serializer lays them
out (JSON without spaces, "__metadata__" first, tensors ordered by element size
then name, header padded with spaces to 8 bytes), by this script alone. The
script builds each file twice from scratch and requires identical bytes, and
says whether the file on disk changed.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision

MASK = (1 << 64) - 1
SAMPLE_STREAM = 2000
SAMPLE_COUNT = 4096
FULL_GRAD_MAX = 65536
INPUT_STREAM = 1000
LABELS = [3, 7, 0, 9]

GENERATOR_TEXT = (
    "splitmix64(x): z = x + 0x9E3779B97F4A7C15; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; "
    "z = (z ^ (z >> 27)) * 0x94D049BB133111EB; z ^= z >> 31 (uint64, mod 2^64). "
    "Stream k, element i (row-major flattened index): u = ((splitmix64((k << 32) | i) >> 11) "
    "* 2^-53) * 2 - 1, a double in [-1, 1); each value is offset + scale * u computed in "
    "double and rounded to float32 once.")

RESNET_TEXT = (
    "torchvision resnet18(num_classes=10); state_dict tensors in order without "
    "num_batches_tracked get streams 0, 1, 2, ... (see weight_streams): conv weight "
    "u*sqrt(6/(in_channels*kh*kw)), fc.weight u*sqrt(6/in_features), fc.bias 0.1*u, BN weight "
    "1+0.2*u, BN bias 0.1*u, running_mean 0.1*u, running_var 1+0.5*u. input [4,3,64,64] = u of "
    "stream 1000, labels [3,7,0,9]. float32, 1 thread: train(); logits_train = model(input); "
    "loss = CrossEntropyLoss(mean); backward; eval(); logits_eval = model(input) with the "
    "running statistics updated once (momentum 0.1, unbiased batch variance). features = fc "
    "input in the training forward. Parameters with <= 65536 elements: full gradient grad/NAME; "
    "larger: grad_sample/NAME at idx_j = splitmix64((2000 << 32) | j) mod numel, j = 0..4095, "
    "and grad_sum/NAME, grad_sumsq/NAME (F64, over the whole gradient, summed in float64).")


# ---------------------------------------------------------------- generator

def splitmix64(x):
    """splitmix64 of a uint64 numpy array (wrapping arithmetic)."""
    z = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


def stream_u(k, n):
    """u(k, i) for i = 0..n-1, float64 in [-1, 1)."""
    assert 0 <= k < (1 << 32) and n <= (1 << 32)
    x = (np.uint64(k) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
    z = splitmix64(x) >> np.uint64(11)
    return (z.astype(np.float64) * 2.0 ** -53) * 2.0 - 1.0


def gen(k, shape, scale=1.0, offset=0.0):
    """offset + scale * u(k, .) in float64, rounded to a float32 tensor of shape."""
    n = int(np.prod(shape)) if len(shape) else 1
    v = offset + scale * stream_u(k, n)
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def sample_indices(numel):
    z = splitmix64((np.uint64(SAMPLE_STREAM) << np.uint64(32)) |
                   np.arange(SAMPLE_COUNT, dtype=np.uint64))
    return (z % np.uint64(numel)).astype(np.int64)


def self_test_generator():
    """The first values, computed with Python integers, against the numpy path."""
    def ref(x):
        z = (x + 0x9E3779B97F4A7C15) & MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)
    for k in (0, 1, 101, 1000, 2000, 3000):
        got = stream_u(k, 5)
        for i in range(5):
            want = ((ref((k << 32) | i) >> 11) * 2.0 ** -53) * 2 - 1
            assert got[i] == want, (k, i)
    assert int(splitmix64(np.uint64(0))) == ref(0) == 0xE220A8397B1DCDAF


# ---------------------------------------------------------------- safetensors

DTYPES = {torch.float32: ("F32", "<f4"), torch.float64: ("F64", "<f8"),
          torch.int64: ("I64", "<i8")}
SIZES = {"F64": 8, "I64": 8, "F32": 4}


class Dump:
    """Named tensors in insertion order (names must be unique)."""

    def __init__(self):
        self.tensors = {}

    def add(self, name, t, dtype=None):
        assert name not in self.tensors, name
        t = t.detach()
        if dtype is not None:
            t = t.to(dtype)
        assert t.dtype in DTYPES, (name, t.dtype)
        self.tensors[name] = t.contiguous().clone()

    def to_bytes(self, metadata):
        order = sorted(self.tensors, key=lambda n: (-SIZES[DTYPES[self.tensors[n].dtype][0]], n))
        header = {"__metadata__": metadata}
        chunks, pos = [], 0
        for name in order:
            t = self.tensors[name]
            code, np_type = DTYPES[t.dtype]
            raw = t.numpy().astype(np_type).tobytes()
            header[name] = {"dtype": code, "shape": list(t.shape),
                            "data_offsets": [pos, pos + len(raw)]}
            chunks.append(raw)
            pos += len(raw)
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        text += b" " * (-len(text) % 8)
        return struct.pack("<Q", len(text)) + text + b"".join(chunks)

    def describe(self):
        return [(n, DTYPES[t.dtype][0], list(t.shape)) for n, t in self.tensors.items()]


# ---------------------------------------------------------------- ResNet-18

def setup_torch():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)  # nothing random is drawn; set for good measure


def fill_resnet(model):
    """Sets every state_dict tensor from its stream; returns [(stream, name)]."""
    streams = []
    k = 0
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            module_name, _, leaf = name.rpartition(".")
            module = model.get_submodule(module_name)
            shape = tuple(t.shape)
            if isinstance(module, nn.Conv2d) and leaf == "weight":
                fan_in = shape[1] * shape[2] * shape[3]
                v = gen(k, shape, math.sqrt(6.0 / fan_in))
            elif isinstance(module, nn.Linear) and leaf == "weight":
                v = gen(k, shape, math.sqrt(6.0 / shape[1]))
            elif isinstance(module, nn.Linear) and leaf == "bias":
                v = gen(k, shape, 0.1)
            elif isinstance(module, nn.BatchNorm2d) and leaf == "weight":
                v = gen(k, shape, 0.2, 1.0)
            elif isinstance(module, nn.BatchNorm2d) and leaf in ("bias", "running_mean"):
                v = gen(k, shape, 0.1)
            elif isinstance(module, nn.BatchNorm2d) and leaf == "running_var":
                v = gen(k, shape, 0.5, 1.0)
            else:
                raise SystemExit(f"no generator rule for {name}")
            t.copy_(v)  # state_dict tensors share storage with the module
            streams.append((k, name))
            k += 1
    return streams


def build_resnet_dump():
    setup_torch()
    model = torchvision.models.resnet18(num_classes=10).float()
    streams = fill_resnet(model)
    assert len(streams) == 102 and max(k for k, _ in streams) < INPUT_STREAM
    x = gen(INPUT_STREAM, (4, 3, 64, 64))
    labels = torch.tensor(LABELS, dtype=torch.int64)
    bn_names = [n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]

    captured = {}
    hook = model.fc.register_forward_hook(
        lambda mod, inp, out: captured.__setitem__("features", inp[0].detach().clone()))
    model.train()
    model.zero_grad(set_to_none=True)
    logits_train = model(x)
    hook.remove()
    loss = nn.CrossEntropyLoss(reduction="mean")(logits_train, labels)
    loss.backward()
    running = {}
    for n in bn_names:
        m = model.get_submodule(n)
        running[n] = (m.running_mean.detach().clone(), m.running_var.detach().clone())
    model.eval()
    with torch.no_grad():
        logits_eval = model(x)

    d = Dump()
    d.add("input", x)
    d.add("labels", labels)
    d.add("logits_train", logits_train)
    d.add("loss", loss.reshape(1))
    d.add("logits_eval", logits_eval)
    d.add("features", captured["features"])
    assert captured["features"].shape == (4, 512)
    for n in bn_names:
        d.add(f"running_after/{n}.running_mean", running[n][0])
        d.add(f"running_after/{n}.running_var", running[n][1])
    params = dict(model.named_parameters())
    for name, t in model.state_dict().items():
        if name not in params:
            continue
        g = params[name].grad
        assert g is not None, name
        if g.numel() <= FULL_GRAD_MAX:
            d.add(f"grad/{name}", g)
        else:
            flat = g.reshape(-1)
            d.add(f"grad_sample/{name}", flat[torch.from_numpy(sample_indices(g.numel()))])
            g64 = g.double()
            d.add(f"grad_sum/{name}", g64.sum().reshape(1))
            d.add(f"grad_sumsq/{name}", (g64 * g64).sum().reshape(1))
    meta = {
        "generator": GENERATOR_TEXT,
        "model": RESNET_TEXT,
        "weight_streams": ";".join(f"{k}={n}" for k, n in streams),
        "streams": ("0..101: state_dict tensors (weight_streams); 1000: input; "
                    "2000: gradient sample indices (raw splitmix64 mod numel)"),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "script": "tools/gen_resnet_ref.py",
    }
    return d, meta


# ---------------------------------------------------------------- trajectory

TRAJ_HEADS = [("geo0", 5), ("geo1", 9), ("geo2", 17), ("scene", 3)]
TRAJ_WEIGHTS = [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 1.0]
TRAJ_INPUT_STREAM = 1001
TRAJ_BATCH = 8
TRAJ_SIZE = 64
TRAJ_STEPS = 12
TRAJ_LR, TRAJ_MOMENTUM, TRAJ_WD = 0.001, 0.9, 1e-4
TRAJ_LABELS = [
    [3, 0, 4, 1, 2, 3, 0, 4],
    [8, 2, 5, 0, 7, 3, 1, 6],
    [16, 4, 11, 0, 9, 13, 2, 7],
    [0, 2, 1, -1, 2, 0, 1, 2],
]

TRAJECTORY_TEXT = (
    "torchvision resnet18 with fc = Identity plus heads Linear(512, C) geo0 (5), geo1 (9), "
    "geo2 (17), scene (3) registered in that order; state_dict tensors get streams 0..107 "
    "(heads as fc). input [8,3,64,64] = u of stream 1001; labels in tensor 'labels' [4,8] "
    "(-1 ignored). loss = (ce(geo0) + ce(geo1) + ce(geo2)) / 3 + ce(scene), each "
    "CrossEntropyLoss(mean, ignore_index=-1). train() mode. SGD(lr 0.001, momentum 0.9, "
    "weight_decay 1e-4) over all parameters, 12 steps; loss[t] and head_loss[t] before "
    "step t's update (t = 0..11), t = 12: a forward after the last update.")


def build_trajectory_dump():
    setup_torch()
    model = torchvision.models.resnet18(num_classes=10).float()
    model.fc = nn.Identity()
    for name, classes in TRAJ_HEADS:
        model.add_module(name, nn.Linear(512, classes))
    streams = fill_resnet(model)
    assert len(streams) == 108 and streams[100][1] == "geo0.weight"
    x = gen(TRAJ_INPUT_STREAM, (TRAJ_BATCH, 3, TRAJ_SIZE, TRAJ_SIZE))
    labels = torch.tensor(TRAJ_LABELS, dtype=torch.int64)
    ce = nn.CrossEntropyLoss(reduction="mean", ignore_index=-1)
    opt = torch.optim.SGD(model.parameters(), lr=TRAJ_LR, momentum=TRAJ_MOMENTUM,
                          weight_decay=TRAJ_WD)
    model.train()
    losses, head_losses = [], []
    for t in range(TRAJ_STEPS + 1):
        opt.zero_grad(set_to_none=True)
        features = model(x)
        per_head = [ce(model.get_submodule(name)(features), labels[h])
                    for h, (name, _) in enumerate(TRAJ_HEADS)]
        loss = sum(w * l for w, l in zip(TRAJ_WEIGHTS, per_head))
        losses.append(loss.item())
        head_losses.append([l.item() for l in per_head])
        if t < TRAJ_STEPS:
            loss.backward()
            opt.step()
    d = Dump()
    d.add("labels", labels)
    d.add("loss", torch.tensor(losses, dtype=torch.float64))
    d.add("head_loss", torch.tensor(head_losses, dtype=torch.float64))
    d.add("head_weight", torch.tensor(TRAJ_WEIGHTS, dtype=torch.float64))
    d.add("sgd", torch.tensor([TRAJ_LR, TRAJ_MOMENTUM, TRAJ_WD], dtype=torch.float64))
    meta = {
        "generator": GENERATOR_TEXT,
        "model": TRAJECTORY_TEXT,
        "weight_streams": ";".join(f"{k}={n}" for k, n in streams),
        "heads": ";".join(f"{n}={c}" for n, c in TRAJ_HEADS),
        "sgd": f"lr={TRAJ_LR};momentum={TRAJ_MOMENTUM};weight_decay={TRAJ_WD};steps={TRAJ_STEPS}",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "script": "tools/gen_resnet_ref.py",
    }
    return d, meta


# ---------------------------------------------------------------- single layers

# name -> stream; the formula of each value is in LAYER_STREAMS_TEXT
LAYER_STREAMS = {
    "conv/x": 3000, "conv/w": 3001, "conv/b": 3002, "conv/dy": 3003,
    "conv7/x": 3010, "conv7/w": 3011, "conv7/dy": 3012,
    "conv1x1/x": 3020, "conv1x1/w": 3021, "conv1x1/dy": 3022,
    "bn/x": 3100, "bn/w": 3101, "bn/b": 3102, "bn/running_mean": 3103,
    "bn/running_var": 3104, "bn/dy": 3105,
    "maxpool/x": 3200, "maxpool/dy": 3201,
    "avgpool/x": 3300, "avgpool/dy": 3301,
    "linear/x": 3400, "linear/w": 3401, "linear/b": 3402, "linear/dy": 3403,
    "ce/logits": 3500,
}

LAYER_STREAMS_TEXT = (
    "conv: Conv2d(5, 7, 3, stride 2, pad 1, bias) x [2,5,9,11] = u(3000), "
    "w [7,5,3,3] = u(3001)*sqrt(6/45), b [7] = 0.1*u(3002), dy [2,7,5,6] = u(3003); "
    "conv7: Conv2d(3, 4, 7, stride 2, pad 3, no bias) x [1,3,13,12] = u(3010), "
    "w [4,3,7,7] = u(3011)*sqrt(6/147), dy [1,4,7,6] = u(3012); "
    "conv1x1: Conv2d(6, 5, 1, stride 2, no bias) x [2,6,7,8] = u(3020), "
    "w [5,6,1,1] = u(3021)*sqrt(6/6), dy [2,5,4,4] = u(3022); "
    "bn: BatchNorm2d(7) train mode (eps 1e-5, momentum 0.1) x [4,7,5,6] = 0.5+2*u(3100), "
    "w = 1+0.2*u(3101), b = 0.1*u(3102), running_mean = 0.1*u(3103), "
    "running_var = 1+0.5*u(3104), dy [4,7,5,6] = u(3105); running_mean_after/var_after "
    "after that forward, y_eval = eval-mode output with them; "
    "maxpool: MaxPool2d(3, 2, 1) x [2,3,9,10] = u(3200), dy [2,3,5,5] = u(3201); "
    "avgpool: AdaptiveAvgPool2d(1) x [2,4,5,7] = u(3300), dy [2,4,1,1] = u(3301); "
    "linear: Linear(13, 6) x [5,13] = u(3400), w [6,13] = u(3401)*sqrt(6/13), "
    "b [6] = 0.1*u(3402), dy [5,6] = u(3403); "
    "ce: CrossEntropyLoss(mean) logits [5,6] = 3*u(3500), labels [0,5,2,3,1], "
    "loss [1], dlogits = d loss / d logits. Every backward is y.backward(dy) "
    "(ce: loss.backward()); dx/dw/db are the gradients of x/w/b.")


def run_conv(d, prefix, conv, xshape, bias):
    s = LAYER_STREAMS
    cin = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
    x = gen(s[f"{prefix}/x"], xshape).requires_grad_(True)
    with torch.no_grad():
        conv.weight.copy_(gen(s[f"{prefix}/w"], tuple(conv.weight.shape), math.sqrt(6.0 / cin)))
        if bias:
            conv.bias.copy_(gen(s[f"{prefix}/b"], tuple(conv.bias.shape), 0.1))
    y = conv(x)
    dy = gen(s[f"{prefix}/dy"], tuple(y.shape))
    y.backward(dy)
    d.add(f"{prefix}/x", x)
    d.add(f"{prefix}/w", conv.weight)
    if bias:
        d.add(f"{prefix}/b", conv.bias)
    d.add(f"{prefix}/dy", dy)
    d.add(f"{prefix}/y", y)
    d.add(f"{prefix}/dx", x.grad)
    d.add(f"{prefix}/dw", conv.weight.grad)
    if bias:
        d.add(f"{prefix}/db", conv.bias.grad)


def build_layers_dump():
    setup_torch()
    s = LAYER_STREAMS
    d = Dump()

    run_conv(d, "conv", nn.Conv2d(5, 7, 3, stride=2, padding=1, bias=True), (2, 5, 9, 11), True)
    run_conv(d, "conv7", nn.Conv2d(3, 4, 7, stride=2, padding=3, bias=False), (1, 3, 13, 12), False)
    run_conv(d, "conv1x1", nn.Conv2d(6, 5, 1, stride=2, bias=False), (2, 6, 7, 8), False)
    assert d.tensors["conv/y"].shape == (2, 7, 5, 6)
    assert d.tensors["conv7/y"].shape == (1, 4, 7, 6)
    assert d.tensors["conv1x1/y"].shape == (2, 5, 4, 4)

    bn = nn.BatchNorm2d(7)
    with torch.no_grad():
        bn.weight.copy_(gen(s["bn/w"], (7,), 0.2, 1.0))
        bn.bias.copy_(gen(s["bn/b"], (7,), 0.1))
        bn.running_mean.copy_(gen(s["bn/running_mean"], (7,), 0.1))
        bn.running_var.copy_(gen(s["bn/running_var"], (7,), 0.5, 1.0))
    d.add("bn/running_mean", bn.running_mean)
    d.add("bn/running_var", bn.running_var)
    x = gen(s["bn/x"], (4, 7, 5, 6), 2.0, 0.5).requires_grad_(True)
    bn.train()
    y = bn(x)
    dy = gen(s["bn/dy"], (4, 7, 5, 6))
    y.backward(dy)
    for name, t in (("x", x), ("w", bn.weight), ("b", bn.bias), ("dy", dy), ("y", y),
                    ("dx", x.grad), ("dw", bn.weight.grad), ("db", bn.bias.grad),
                    ("running_mean_after", bn.running_mean),
                    ("running_var_after", bn.running_var)):
        d.add(f"bn/{name}", t)
    bn.eval()
    with torch.no_grad():
        d.add("bn/y_eval", bn(x))

    x = gen(s["maxpool/x"], (2, 3, 9, 10)).requires_grad_(True)
    y = nn.MaxPool2d(3, 2, 1)(x)
    assert y.shape == (2, 3, 5, 5)
    dy = gen(s["maxpool/dy"], tuple(y.shape))
    y.backward(dy)
    for name, t in (("x", x), ("dy", dy), ("y", y), ("dx", x.grad)):
        d.add(f"maxpool/{name}", t)

    x = gen(s["avgpool/x"], (2, 4, 5, 7)).requires_grad_(True)
    y = nn.AdaptiveAvgPool2d(1)(x)
    dy = gen(s["avgpool/dy"], tuple(y.shape))
    y.backward(dy)
    for name, t in (("x", x), ("dy", dy), ("y", y), ("dx", x.grad)):
        d.add(f"avgpool/{name}", t)

    lin = nn.Linear(13, 6)
    with torch.no_grad():
        lin.weight.copy_(gen(s["linear/w"], (6, 13), math.sqrt(6.0 / 13)))
        lin.bias.copy_(gen(s["linear/b"], (6,), 0.1))
    x = gen(s["linear/x"], (5, 13)).requires_grad_(True)
    y = lin(x)
    dy = gen(s["linear/dy"], (5, 6))
    y.backward(dy)
    for name, t in (("x", x), ("w", lin.weight), ("b", lin.bias), ("dy", dy), ("y", y),
                    ("dx", x.grad), ("dw", lin.weight.grad), ("db", lin.bias.grad)):
        d.add(f"linear/{name}", t)

    logits = gen(s["ce/logits"], (5, 6), 3.0).requires_grad_(True)
    labels = torch.tensor([0, 5, 2, 3, 1], dtype=torch.int64)
    loss = nn.CrossEntropyLoss(reduction="mean")(logits, labels)
    loss.backward()
    d.add("ce/logits", logits)
    d.add("ce/labels", labels)
    d.add("ce/loss", loss.reshape(1))
    d.add("ce/dlogits", logits.grad)

    meta = {
        "generator": GENERATOR_TEXT,
        "streams": LAYER_STREAMS_TEXT,
        "stream_numbers": ";".join(f"{k}={v}" for k, v in LAYER_STREAMS.items()),
        "torch": torch.__version__,
        "script": "tools/gen_resnet_ref.py",
    }
    return d, meta


# ---------------------------------------------------------------- main

def write_checked(path, builder, verbose):
    d, meta = builder()
    data = d.to_bytes(meta)
    again = builder()
    data2 = again[0].to_bytes(again[1])
    if data != data2:
        raise SystemExit(f"{path}: two runs gave different bytes")
    old = None
    if os.path.exists(path):
        with open(path, "rb") as f:
            old = f.read()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    state = ("new file" if old is None else
             "identical to the previous file" if old == data else "CHANGED from the previous file")
    print(f"{path}: {len(data)} bytes, {len(d.tensors)} tensors; rebuilt twice: identical bytes; "
          f"{state}")
    if verbose:
        for name, code, shape in d.describe():
            print(f"  {name} {code} {shape}")
    return data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "tests", "data"))
    ap.add_argument("--list", action="store_true", help="print every tensor name, dtype and shape")
    ap.add_argument("--only", choices=sorted(FILES), action="append",
                    help="write only this file (repeatable; default: all three)")
    a = ap.parse_args()
    self_test_generator()
    out = os.path.normpath(a.out_dir)
    for name in a.only or sorted(FILES):
        builder, max_bytes = FILES[name]
        data = write_checked(os.path.join(out, name + ".safetensors"), builder, a.list)
        assert len(data) < max_bytes, name


# file stem -> (builder, size bound)
FILES = {
    "resnet18_ref": (build_resnet_dump, 2 * 1024 * 1024),
    "layers_ref": (build_layers_dump, 1024 * 1024),
    "resnet18_trajectory": (build_trajectory_dump, 16 * 1024),
}


if __name__ == "__main__":
    sys.exit(main())
