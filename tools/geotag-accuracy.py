#!/usr/bin/env python3
"""Accuracy of `geoloc geotag` answers against the hidden positions.

usage: tools/geotag-accuracy.py GEOTAG.csv TRUTH.csv [BLANKED.csv AUTHOR]

GEOTAG.csv: geotag's CSV (id, lat, lon, ..., fused_lat, fused_lon, photo_lat,
photo_lon); TRUTH.csv: IMG_ID,LAT,LON of the blanked photos
(tools/blank-positions.py --truth). Prints, for the answer given (with
anchors), the album fusion without anchors and the photo alone, the share
within 1/25/200/750/2500 km and the median error (haversine, R = 6371 km).
With the blanked manifest and its album column, also a baseline that uses no
model: each photo placed at the medoid of its album's anchors (the anchor
with the smallest summed distance to the others; albums without anchors: the
answer given).
"""
import csv
import math
import statistics
import sys


def km(a_lat, a_lon, b_lat, b_lon):
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371 * math.asin(min(1.0, math.sqrt(h)))


def anchor_medoids(rows, blanked, column):
    """Each row's album anchor medoid (the row's own answer when its album has none)."""
    anchors = {}
    with open(blanked, newline="") as f:
        for r in csv.DictReader(f):
            if r["LAT"] and r["LON"]:
                anchors.setdefault(r[column], []).append((float(r["LAT"]), float(r["LON"])))
    medoid = {a: min(ps, key=lambda p: sum(km(*p, *q) for q in ps)) for a, ps in anchors.items()}
    with open(blanked, newline="") as f:
        album = {r["IMG_ID"]: r[column] for r in csv.DictReader(f)}
    return [medoid.get(album[r["id"]], (float(r["lat"]), float(r["lon"]))) for r in rows]


def main():
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    with open(sys.argv[2], newline="") as f:
        truth = {r["IMG_ID"]: (float(r["LAT"]), float(r["LON"])) for r in csv.DictReader(f)}
    with open(sys.argv[1], newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["id"] in truth]
    print(f"{len(rows)} photos placed of {len(truth)} hidden")
    print("| answers | 1 km | 25 km | 200 km | 750 km | 2500 km | median |")
    print("|---|---|---|---|---|---|---|")
    answers = {}
    for name, la, lo in (("geotag (anchors)", "lat", "lon"), ("album fusion, no anchors", "fused_lat", "fused_lon"),
                         ("single photo", "photo_lat", "photo_lon")):
        answers[name] = [(float(r[la]), float(r[lo])) for r in rows]
    if len(sys.argv) == 5:
        answers["anchor medoid (no model)"] = anchor_medoids(rows, sys.argv[3], sys.argv[4])
    for name, points in answers.items():
        d = [km(*truth[r["id"]], *p) for r, p in zip(rows, points)]
        shares = [100 * sum(x <= t for x in d) / len(d) for t in (1, 25, 200, 750, 2500)]
        print(f"| {name} | " + " | ".join(f"{s:.1f} %" for s in shares) + f" | {statistics.median(d):,.0f} km |")
    methods = {}
    for r in rows:
        methods[r["method"]] = methods.get(r["method"], 0) + 1
    print("methods: " + ", ".join(f"{k} {v}" for k, v in sorted(methods.items())))


if __name__ == "__main__":
    main()
