#!/usr/bin/python3
"""PIL + torchvision on the same job as `geoloc bench loader` (for comparison;
not a test): decode every photo of DIR, RandomResizedCrop(224, scale=(0.66, 1),
ratio=(3/4, 4/3)), RandomHorizontalFlip, ToTensor, Normalize(ImageNet), batches
of 32. Dev-only; needs the Debian packages python3-torchvision python3-pil.

    /usr/bin/python3 bench/loader_torch.py DIR [--workers N] [--limit N] [--epochs N]

--workers 0 (default) runs in this process with one torch thread: the
single-core figure. N > 0 uses a torch DataLoader with N worker processes.
"""
import argparse
import os
import time

import torch
import torchvision.transforms as T
from PIL import Image


class Folder(torch.utils.data.Dataset):
    def __init__(self, root, names, transform):
        self.root, self.names, self.transform = root, names, transform

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        with Image.open(os.path.join(self.root, self.names[i])) as im:
            return self.transform(im.convert("RGB")), i


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    torch.set_num_threads(1)
    names = sorted(n for n in os.listdir(a.dir)
                   if n.lower().endswith((".jpg", ".jpeg", ".png", ".webp")))
    if a.limit:
        names = names[: a.limit]
    tf = T.Compose([
        T.RandomResizedCrop(224, scale=(0.66, 1.0), ratio=(3 / 4, 4 / 3)),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = Folder(a.dir, names, tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, shuffle=True, num_workers=a.workers,
                                     persistent_workers=a.workers > 0)
    print(f"photos: {len(names)} in {a.dir}; PIL + torchvision, "
          f"{a.workers or 'no'} worker process{'es' if a.workers != 1 else ''}, 1 torch thread")
    best = 0.0
    for e in range(a.epochs):
        t0 = time.perf_counter()
        n = 0
        for x, _ in dl:
            n += x.shape[0]
        rate = n / (time.perf_counter() - t0)
        best = max(best, rate)
        print(f"epoch {e + 1}: {n} photos: {rate:.0f} photos/s")
    print(f"best: {best:.0f} photos/s")


if __name__ == "__main__":
    main()
