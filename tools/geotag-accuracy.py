#!/usr/bin/env python3
"""Accuracy of `geoloc geotag` answers against the hidden positions.

usage: tools/geotag-accuracy.py GEOTAG.csv TRUTH.csv

GEOTAG.csv: geotag's CSV (id, lat, lon, ..., fused_lat, fused_lon, photo_lat,
photo_lon); TRUTH.csv: IMG_ID,LAT,LON of the blanked photos
(tools/blank-positions.py --truth). Prints, for the answer given (with
anchors), the album fusion without anchors and the photo alone, the share
within 1/25/200/750/2500 km and the median error (haversine, R = 6371 km).
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


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[2], newline="") as f:
        truth = {r["IMG_ID"]: (float(r["LAT"]), float(r["LON"])) for r in csv.DictReader(f)}
    with open(sys.argv[1], newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["id"] in truth]
    print(f"{len(rows)} photos placed of {len(truth)} hidden")
    print("| answers | 1 km | 25 km | 200 km | 750 km | 2500 km | median |")
    print("|---|---|---|---|---|---|---|")
    for name, la, lo in (("geotag (anchors)", "lat", "lon"), ("album fusion, no anchors", "fused_lat", "fused_lon"),
                         ("single photo", "photo_lat", "photo_lon")):
        d = [km(*truth[r["id"]], float(r[la]), float(r[lo])) for r in rows]
        shares = [100 * sum(x <= t for x in d) / len(d) for t in (1, 25, 200, 750, 2500)]
        print(f"| {name} | " + " | ".join(f"{s:.1f} %" for s in shares) + f" | {statistics.median(d):,.0f} km |")
    methods = {}
    for r in rows:
        methods[r["method"]] = methods.get(r["method"], 0) + 1
    print("methods: " + ", ".join(f"{k} {v}" for k, v in sorted(methods.items())))


if __name__ == "__main__":
    main()
