#!/usr/bin/python3
"""Writes the reference files of tests/test_optim.c with PyTorch 1.13:

tests/data/optim_ref.bin: torch.optim.SGD on three float32 parameters (7, 33
and 1000 values, each in its own parameter group) for 5 steps in several
configurations (momentum 0 / 0.9, dampening 0 / 0.1, weight decay 0 / 1e-4,
Nesterov, per-group lr multipliers and weight decays, gradient scales, a group
frozen for the first steps). A frozen parameter gets grad None, which torch
skips entirely (no update, momentum state kept), as geoloc's frozen groups.
The learning rate varies per step; a group's lr is set to lr * lr_scale (a
double product, as geoloc computes it) before each step, and the gradient
handed to torch is grad * grad_scale (float32).

Layout, all little-endian (u32 = uint32, f32 = float32, f64 = float64):
    "GLOPTRF1"
    u32 n_params, n_steps, n_configs
    u32 size[n_params]                     (total = sum of sizes)
    f32 initial weights[total]             (the parameters one after the other)
    f32 grad[n_steps][total]               (before grad_scale)
    f64 lr[n_steps]
    n_configs times:
        f64 momentum, dampening, weight_decay; u32 nesterov
        n_params times (group k holds parameter k): f64 lr_scale, f64 weight_decay (< 0: inherit)
        f32 grad_scale[n_steps]
        u32 frozen[n_steps][n_params]
        n_steps times, after the step:
            f32 weights[total]
            if momentum != 0: f32 momentum_buffer[total] (0 where not started), u32 started[n_params]

tests/data/optim_ref.csv: the learning rates of torch's schedulers over 40
steps (t = 0 is the lr after construction, then one scheduler.step() per t),
with the schedule written in geoloc's syntax (its commas as ";"):
`schedule,base_lr,t,lr` (%.17g).
Warm-ups are ChainedScheduler([LinearLR(start_factor, total_iters=W), main]).

Also prints the largest relative difference between torch's recursive
schedulers and the closed forms over long runs (stated in the test).

Usage: /usr/bin/python3 tools/gen_optim_ref.py [tests/data]
"""
import math
import os
import struct
import sys
import warnings

import torch

SIZES = [7, 33, 1000]
STEPS = 5
LRS = [0.1, 0.05, 0.0731, 0.02, 0.0123]
THIRD = struct.unpack("<f", struct.pack("<f", 1.0 / 3.0))[0]  # float32(1/3) as a double

# (momentum, dampening, weight_decay, nesterov,
#  groups [(lr_scale, weight_decay or -1 for the default)] * 3,
#  grad_scale per step, frozen[step][param])
NONE_FROZEN = [[0, 0, 0]] * STEPS
CONFIGS = [
    (0.0, 0.0, 0.0, False, [(1, -1), (1, -1), (1, -1)], [1] * STEPS, NONE_FROZEN),
    (0.0, 0.0, 1e-4, False, [(1, -1), (0.1, -1), (1, -1)], [1, 0.25, THIRD, 1, 0.5], NONE_FROZEN),
    (0.9, 0.0, 0.0, False, [(1, -1), (1, -1), (1, -1)], [1] * STEPS, NONE_FROZEN),
    (0.9, 0.1, 1e-4, False, [(1, -1), (1, -1), (1, -1)], [1, THIRD, 1, 0.25, 1], NONE_FROZEN),
    (0.9, 0.0, 1e-4, True, [(1, -1), (0.5, 0.0), (1, 1e-3)], [1] * STEPS, NONE_FROZEN),
    (0.9, 0.0, 1e-4, False, [(1, -1), (0.1, -1), (1, 5e-4)], [THIRD] * STEPS,
     [[1, 0, 0], [1, 0, 0], [1, 0, 1], [0, 0, 0], [0, 0, 0]]),
]

# (geoloc schedule text, base lr, torch main scheduler factory, warm-up (W, start) or None)
SCHEDULES = [
    ("constant", 0.01, None, None),
    ("step:5:0.5", 0.01, lambda o: torch.optim.lr_scheduler.StepLR(o, 5, 0.5), None),
    ("step:3:0.1", 0.1, lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.1), None),
    ("multistep:10,20,30:0.1", 0.1,
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [10, 20, 30], 0.1), None),
    ("exp:0.95", 0.05, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.95), None),
    ("cosine:10", 0.1, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 10), None),
    ("cosine:15:1e-4", 0.01,
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 15, 1e-4), None),
    ("constant+warmup:5:0.1", 0.01, None, (5, 0.1)),
    ("step:5:0.5+warmup:3", 0.01, lambda o: torch.optim.lr_scheduler.StepLR(o, 5, 0.5),
     (3, 1.0 / 3)),
    ("multistep:4,8:0.5+warmup:6:0.2", 0.02,
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [4, 8], 0.5), (6, 0.2)),
    ("exp:0.9+warmup:4:0.25", 0.03, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9),
     (4, 0.25)),
    ("cosine:20+warmup:5:0.1", 0.1,
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 20), (5, 0.1)),
    ("cosine:20:1e-3+warmup:5:0.01", 0.1,
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 20, 1e-3), (5, 0.01)),
    ("cosine:12:0.002+warmup:12:0.5", 0.01,
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 12, 0.002), (12, 0.5)),
]
SCHEDULE_STEPS = 40


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def run_sgd(cfg, w0, grads):
    """The outputs of one configuration, as bytes."""
    momentum, dampening, wd, nesterov, groups, scales, frozen = cfg
    params = [torch.nn.Parameter(w.clone()) for w in w0]
    param_groups = []
    for p, (lr_scale, gwd) in zip(params, groups):
        g = {"params": [p], "lr": LRS[0] * lr_scale}
        if gwd >= 0:
            g["weight_decay"] = gwd
        param_groups.append(g)
    opt = torch.optim.SGD(param_groups, lr=LRS[0], momentum=momentum, dampening=dampening,
                          weight_decay=wd, nesterov=nesterov)
    out = b""
    for t in range(STEPS):
        for k, (p, (lr_scale, _)) in enumerate(zip(params, groups)):
            opt.param_groups[k]["lr"] = LRS[t] * lr_scale
            p.grad = None if frozen[t][k] else grads[t][k] * scales[t]
        opt.step()
        out += b"".join(f32(p.detach().tolist()) for p in params)
        if momentum != 0:
            started = []
            for p in params:
                buf = opt.state[p].get("momentum_buffer") if p in opt.state else None
                started.append(0 if buf is None else 1)
                out += f32(buf.tolist() if buf is not None else [0.0] * p.numel())
            out += struct.pack("<%dI" % len(params), *started)
    return out


def write_sgd(path):
    gen = torch.Generator().manual_seed(20240607)
    w0 = [torch.randn(n, generator=gen) * 0.5 for n in SIZES]
    grads = [[torch.randn(n, generator=gen) for n in SIZES] for _ in range(STEPS)]
    data = b"GLOPTRF1" + struct.pack("<3I", len(SIZES), STEPS, len(CONFIGS))
    data += struct.pack("<%dI" % len(SIZES), *SIZES)
    data += b"".join(f32(w.tolist()) for w in w0)
    for t in range(STEPS):
        data += b"".join(f32(g.tolist()) for g in grads[t])
    data += struct.pack("<%dd" % STEPS, *LRS)
    for cfg in CONFIGS:
        momentum, dampening, wd, nesterov, groups, scales, frozen = cfg
        data += struct.pack("<3dI", momentum, dampening, wd, int(nesterov))
        for lr_scale, gwd in groups:
            data += struct.pack("<2d", lr_scale, gwd)
        data += f32(scales)
        for t in range(STEPS):
            data += struct.pack("<%dI" % len(SIZES), *frozen[t])
        data += run_sgd(cfg, w0, grads)
    with open(path, "wb") as f:
        f.write(data)
    print("%s: %d bytes" % (path, len(data)))


def torch_lrs(base, make_main, warmup, steps):
    """torch's lr after construction and after each of steps-1 scheduler steps."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base)
    chain = []
    if warmup is not None:
        chain.append(torch.optim.lr_scheduler.LinearLR(opt, start_factor=warmup[1],
                                                       total_iters=warmup[0]))
    if make_main is not None:
        chain.append(make_main(opt))
    sched = torch.optim.lr_scheduler.ChainedScheduler(chain) if chain else None
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps - 1):
        opt.step()
        if sched is not None:
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def write_schedules(path):
    lines = ["schedule,base_lr,t,lr"]
    for text, base, make_main, warmup in SCHEDULES:
        for t, lr in enumerate(torch_lrs(base, make_main, warmup, SCHEDULE_STEPS)):
            lines.append("%s,%.17g,%d,%.17g" % (text.replace(",", ";"), base, t, lr))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("%s: %d rows" % (path, len(lines) - 1))


def long_run_differences():
    """Largest relative difference of torch's recursion from the closed forms."""
    runs = [
        ("exp:0.999, 10000 steps", 0.1, lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.999),
         lambda t: 0.1 * 0.999 ** t, 10000),
        ("step:5:0.5, 200 steps", 0.01, lambda o: torch.optim.lr_scheduler.StepLR(o, 5, 0.5),
         lambda t: 0.01 * 0.5 ** (t // 5), 200),
        ("cosine:1000, 3000 steps", 0.1,
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 1000),
         lambda t: 0.1 * (1 + math.cos(math.pi * t / 1000)) / 2, 3000),
    ]
    for name, base, make, closed, n in runs:
        worst, worst_t = 0.0, 0
        for t, lr in enumerate(torch_lrs(base, make, None, n)):
            c = closed(t)
            d = abs(lr - c) / max(abs(c), 1e-300) if lr != c else 0.0
            if d > worst:
                worst, worst_t = d, t
        print("torch recursion vs closed form, %s: max relative difference %.3g (t = %d)"
              % (name, worst, worst_t))


def main():
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/data"
    write_sgd(os.path.join(out_dir, "optim_ref.bin"))
    write_schedules(os.path.join(out_dir, "optim_ref.csv"))
    long_run_differences()


if __name__ == "__main__":
    main()
