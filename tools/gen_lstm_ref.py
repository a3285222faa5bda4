#!/usr/bin/python3
"""PyTorch reference for the C LSTM layer (src/nn/lstm.c, lstm_exec.c): writes
tests/data/lstm_ref.safetensors. Dev-only; needs python3-torch (run with
/usr/bin/python3). Reuses the generator and the safetensors writer of
tools/gen_resnet_ref.py.

    /usr/bin/python3 tools/gen_lstm_ref.py [--out-dir tests/data] [--list]

Two cases, prefix "uni/" and "bi/": torch.nn.LSTM(input_size 16, hidden_size 8,
num_layers 1, bidirectional False / True), sequences of T = 5 steps, batch 2,
time-major (batch_first False), zero initial states. Parameters from the
generator (stream k, scale 1/sqrt(8), values uniform in +-0.354) in state_dict
order: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0 (then the same with
_reverse): streams 100 + k (uni) and 200 + k (bi). Input x [5, 2, 16] = u of
stream 300 (uni) / 400 (bi); R [5, 2, 8 * dirs] = u of stream 301 / 401.
Loss = sum(out * R); stored: x, R, every parameter (PyTorch names), out,
grad/x and grad/<parameter name> (float32, one thread, float64 sum for the
loss).
"""

import argparse
import math
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_resnet_ref as ref  # noqa: E402  (its generator and writer)

INPUT, HIDDEN, STEPS, BATCH = 16, 8, 5, 2


def build_case(d, prefix, bidirectional, param_stream, x_stream):
    lstm = nn.LSTM(INPUT, HIDDEN, num_layers=1, bidirectional=bidirectional)
    scale = 1.0 / math.sqrt(HIDDEN)
    with torch.no_grad():
        for k, (name, p) in enumerate(lstm.state_dict().items()):
            p.copy_(ref.gen(param_stream + k, tuple(p.shape), scale=scale))
    dirs = 2 if bidirectional else 1
    x = ref.gen(x_stream, (STEPS, BATCH, INPUT)).requires_grad_(True)
    r = ref.gen(x_stream + 1, (STEPS, BATCH, dirs * HIDDEN))
    out, _ = lstm(x)
    loss = (out * r).sum()
    loss.backward()
    d.add(prefix + "x", x)
    d.add(prefix + "R", r)
    d.add(prefix + "out", out)
    d.add(prefix + "grad/x", x.grad)
    for name, p in lstm.named_parameters():
        d.add(prefix + name, p)
        d.add(prefix + "grad/" + name, p.grad)


def build_lstm_dump():
    ref.setup_torch()
    d = ref.Dump()
    build_case(d, "uni/", False, 100, 300)
    build_case(d, "bi/", True, 200, 400)
    meta = {"input": str(INPUT), "hidden": str(HIDDEN), "steps": str(STEPS), "batch": str(BATCH),
            "torch": torch.__version__}
    return d, meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "tests", "data"))
    ap.add_argument("--list", action="store_true", help="print every tensor name, dtype and shape")
    a = ap.parse_args()
    data = ref.write_checked(os.path.join(os.path.normpath(a.out_dir), "lstm_ref.safetensors"),
                             build_lstm_dump, a.list)
    assert len(data) < 64 * 1024


if __name__ == "__main__":
    main()
