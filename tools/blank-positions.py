#!/usr/bin/env python3
"""Blanks the coordinates of a share of each author's photos in a manifest, for
measuring `geoloc geotag`: the blanked rows are the photos to place, the rest
anchor their author's album.

usage: tools/blank-positions.py IN.csv OUT.csv [--fraction 0.8] [--truth TRUTH.csv]

The choice is deterministic: an author's photos are ordered by the SHA-1 of
their IMG_ID and the first round(fraction * n) are blanked (an author of one
photo: it is blanked). --truth writes IMG_ID,LAT,LON of the blanked rows.
Every other column is kept as it is.
"""
import argparse
import csv
import hashlib
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--fraction", type=float, default=0.8)
    ap.add_argument("--truth")
    a = ap.parse_args()
    if not 0 <= a.fraction <= 1:
        sys.exit("--fraction must be in [0, 1]")
    with open(a.input, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    names = [h.upper() for h in header]
    col = {k: names.index(k) for k in ("IMG_ID", "AUTHOR", "LAT", "LON")}
    by_author = {}
    for r in rows:
        by_author.setdefault(r[col["AUTHOR"]], []).append(r)
    blanked = set()
    for photos in by_author.values():
        ordered = sorted(photos, key=lambda r: hashlib.sha1(r[col["IMG_ID"]].encode()).hexdigest())
        for r in ordered[: round(a.fraction * len(photos))]:
            blanked.add(r[col["IMG_ID"]])
    truth = []
    with open(a.output, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            if r[col["IMG_ID"]] in blanked:
                truth.append([r[col["IMG_ID"]], r[col["LAT"]], r[col["LON"]]])
                r = list(r)
                r[col["LAT"]] = r[col["LON"]] = ""
            w.writerow(r)
    if a.truth:
        with open(a.truth, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["IMG_ID", "LAT", "LON"])
            w.writerows(truth)
    print(f"{len(blanked)} of {len(rows)} photos blanked ({len(by_author)} authors)", file=sys.stderr)


if __name__ == "__main__":
    main()
