#!/usr/bin/python3
"""PyTorch on the same job as `geoloc bench nn` (for comparison; not a test):
a torchvision ResNet in float32, channels_last model and input, two threads.

    /usr/bin/python3 bench/nn_torch.py --arch resnet50 --batch 32 --mode infer \
        [--iters 5] [--warmup 2] [--classes 1000] [--size 224] [--verbose]

infer: model.eval() under torch.inference_mode(), one forward per iteration.
train: model.train(), SGD(lr 0.01, momentum 0.9, weight_decay 1e-4),
CrossEntropyLoss on random labels; one iteration = zero_grad, forward,
backward, step. The input is random (normal), the weights torchvision's
initialisation; neither affects the time.

Prints exactly one line on stdout:
  bench nn: impl=pytorch arch=resnet50 mode=infer batch=32 images/s=20.7 ms/batch=1545.2 peak_rss_mib=1234
with ms/batch the median of the timed iterations, images/s = batch / median,
and the peak resident set of this process (getrusage ru_maxrss).
Best run with OMP_NUM_THREADS=2 and tcmalloc preloaded, as bench/nn.sh does.
Needs the Debian packages python3-torch and python3-torchvision (/usr/bin/python3).
"""
import argparse
import resource
import statistics
import sys
import time

import torch
import torchvision


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--mode", choices=("infer", "train"), default="infer")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", action="store_true", help="per-iteration times on stderr")
    a = ap.parse_args()
    if a.batch < 1 or a.iters < 1 or a.warmup < 0 or a.classes < 1 or a.size < 32:
        ap.error("need --batch >= 1, --iters >= 1, --warmup >= 0, --classes >= 1, --size >= 32")
    builder = getattr(torchvision.models, a.arch, None)
    if builder is None or not callable(builder):
        ap.error(f"unknown torchvision architecture: {a.arch}")

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = builder(num_classes=a.classes).float().to(memory_format=torch.channels_last)
    x = torch.randn(a.batch, 3, a.size, a.size).contiguous(memory_format=torch.channels_last)

    if a.mode == "infer":
        model.eval()

        def step():
            with torch.inference_mode():
                model(x)
    else:
        model.train()
        labels = torch.randint(0, a.classes, (a.batch,))
        loss_fn = torch.nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), labels)
            loss.backward()
            opt.step()

    if a.verbose:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}", file=sys.stderr)
    for i in range(a.warmup):
        t0 = time.perf_counter()
        step()
        if a.verbose:
            print(f"warm-up {i + 1}: {1e3 * (time.perf_counter() - t0):.1f} ms", file=sys.stderr)
    times = []
    for i in range(a.iters):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        if a.verbose:
            print(f"iteration {i + 1}: {1e3 * times[-1]:.1f} ms", file=sys.stderr)
    med = statistics.median(times)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    print(f"bench nn: impl=pytorch arch={a.arch} mode={a.mode} batch={a.batch} "
          f"images/s={a.batch / med:.1f} ms/batch={1e3 * med:.1f} peak_rss_mib={peak_mib:.0f}")


if __name__ == "__main__":
    main()
