#!/usr/bin/env python3
"""Deterministic photo-coordinate data sets for tests and benchmarks.

usage: gen_points.py KIND [--n N] [--seed S] [--cells CELLS.csv] [--out FILE]

Writes a CSV with the header IMG_ID,LAT,LON (except KIND "formats", which
varies the header, column order and number spelling) to FILE or stdout.
Python 3 standard library only; the same arguments give the same bytes.

KINDs:
  cities      clusters around a few cities at several spreads, a third of the
              photos exact duplicates of popular spots (cells go to level 30)
  uniform     uniform on the sphere
  poles       on and near both poles (lat = +-90 exactly, ulps away, ...)
  antimeridian on and near lng = +-180 (and lng = 0 / -0.0)
  faces       on, and a few ulps off, the edges and corners of the S2 cube
              faces, plus face centres
  formats     cities, with the numbers spelt in many ways (integers, 25
              digits, exponents, signs) and columns Longitude/Latitude in
              another order among extra columns, CRLF line ends
  identical   N copies of one point
  fromcells   points drawn from a published partition (--cells): for each
              cell, imgs_per_cell/50 points (at least 1) at its mean
              location, the first exactly there and the others jittered by
              up to ~0.05 degrees; shuffled
"""
import argparse
import csv
import math
import random
import sys

CITIES = [  # lat, lng, spread in degrees
    (48.8566, 2.3522, 0.01), (40.7128, -74.0060, 0.05), (35.6762, 139.6503, 0.2),
    (-33.8688, 151.2093, 0.02), (51.5074, -0.1278, 0.005), (-22.9068, -43.1729, 1.0),
    (64.1466, -21.9426, 0.1), (1.3521, 103.8198, 0.002), (-54.8019, -68.3030, 3.0),
    (71.2906, -156.7886, 0.5), (37.7749, -122.4194, 0.03), (-0.1807, -78.4678, 0.3),
]


def clamp(lat, lng):
    lat = max(-90.0, min(90.0, lat))
    while lng > 180.0:
        lng -= 360.0
    while lng < -180.0:
        lng += 360.0
    return lat, lng


def gen_cities(rng, n):
    spots = []
    for k in range(200):
        c = CITIES[k % len(CITIES)]
        spots.append(clamp(c[0] + rng.gauss(0, c[2] * 3), c[1] + rng.gauss(0, c[2] * 3)))
    weights = [1.0 / (k + 1) for k in range(len(spots))]  # Zipf: spot 0 gets ~1/6
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.33:
            out.append(rng.choices(spots, weights)[0])
        elif r < 0.95:
            c = rng.choice(CITIES)
            s = c[2] * rng.choice([0.01, 0.1, 1.0, 10.0])
            out.append(clamp(c[0] + rng.gauss(0, s), c[1] + rng.gauss(0, s)))
        else:
            out.append(uniform_point(rng))
    return out


def uniform_point(rng):
    z = rng.uniform(-1.0, 1.0)
    return math.degrees(math.asin(z)), rng.uniform(-180.0, 180.0)


def gen_uniform(rng, n):
    return [uniform_point(rng) for _ in range(n)]


def ulps(x, k):
    """x moved k ulps (k may be negative)."""
    for _ in range(abs(k)):
        x = math.nextafter(x, math.inf if k > 0 else -math.inf)
    return x


def gen_poles(rng, n):
    out = []
    lngs = [0.0, -0.0, 180.0, -180.0, 90.0, -90.0, 45.0, -135.0, 1e-300]
    while len(out) < n:
        pole = rng.choice([90.0, -90.0])
        r = rng.random()
        if r < 0.25:
            lat = pole
        elif r < 0.5:
            lat = ulps(pole, -rng.randint(1, 50) if pole > 0 else rng.randint(1, 50))
        elif r < 0.75:
            lat = pole - math.copysign(10.0 ** -rng.randint(1, 12), pole)
        else:
            lat = pole - math.copysign(rng.uniform(0, 2), pole)
        lng = rng.choice(lngs) if rng.random() < 0.3 else rng.uniform(-180.0, 180.0)
        out.append((lat, lng))
    return out


def gen_antimeridian(rng, n):
    out = []
    while len(out) < n:
        side = rng.choice([180.0, -180.0, 0.0, -0.0])
        r = rng.random()
        if r < 0.3:
            lng = side
        elif r < 0.6 and side != 0.0:
            lng = ulps(side, -rng.randint(1, 50) if side > 0 else rng.randint(1, 50))
        elif r < 0.6:
            lng = ulps(side, rng.randint(-50, 50))
        else:
            d = 10.0 ** -rng.randint(1, 12) if rng.random() < 0.5 else rng.uniform(0, 1)
            lng = side - d if side > 0 else side + d if side < 0 else rng.choice([-d, d])
        lat = rng.choice([0.0, -0.0, 89.0, -89.0]) if rng.random() < 0.1 else rng.uniform(-80, 80)
        out.append((lat, lng))
    return out


def xyz_to_latlng(x, y, z):
    return (math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x)))


def gen_faces(rng, n):
    base = []
    # corners of the cube
    for sx in (-1, 1):
        for sy in (-1, 1):
            for sz in (-1, 1):
                base.append(xyz_to_latlng(sx, sy, sz))
    # face centres
    for p in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (-1, 0, 0), (0, -1, 0), (0, 0, -1)]:
        base.append(xyz_to_latlng(*p))
    out = []
    while len(out) < n:
        r = rng.random()
        if r < 0.15:
            lat, lng = rng.choice(base)
        else:  # a point on one of the 12 edges: two coordinates +-1, one free
            t = rng.uniform(-1.0, 1.0) if rng.random() < 0.8 else rng.choice([0.0, 0.5, -0.5])
            a, b = rng.choice([-1, 1]), rng.choice([-1, 1])
            free = rng.randrange(3)
            v = [a, b]
            v.insert(free, t)
            lat, lng = xyz_to_latlng(*v)
        k = rng.random()
        if k < 0.4:
            lat, lng = ulps(lat, rng.randint(-4, 4)), ulps(lng, rng.randint(-4, 4))
        elif k < 0.6:
            lat += rng.gauss(0, 1e-9)
            lng += rng.gauss(0, 1e-9)
        out.append(clamp(lat, lng))
    return out


def gen_identical(rng, n):
    return [(47.3769, 8.5417)] * n


def gen_fromcells(rng, path):
    out = []
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    start = next(k for k, r in enumerate(rows) if r and r[0] == "class_label") + 1
    for r in rows[start:]:
        if len(r) < 5:
            continue
        count, lat, lng = int(r[2]), float(r[3]), float(r[4])
        reps = max(1, count // 50)
        out.append((lat, lng))
        for _ in range(reps - 1):
            out.append(clamp(lat + rng.uniform(-0.05, 0.05), lng + rng.uniform(-0.05, 0.05)))
    rng.shuffle(out)
    return out


def spell(rng, v):
    """One of many spellings of v (strtod reads them all; most exactly v)."""
    k = rng.randrange(9)
    if k == 0:
        return repr(v)
    if k == 1:
        return "%.25f" % v
    if k == 2:
        return "%.3f" % v
    if k == 3:
        return "%d" % round(v)
    if k == 4:
        return "%.10e" % v
    if k == 5:
        return ("%.6E" % v)
    if k == 6:
        return ("+" + repr(v)) if v >= 0 else repr(v)
    if k == 7:
        return "%.30g" % v
    return "%.17g" % v


def write(points, out):
    out.write("IMG_ID,LAT,LON\n")
    for k, (lat, lng) in enumerate(points):
        out.write("%d,%r,%r\n" % (k, lat, lng))


def write_formats(rng, points, out):
    out.write("id,Longitude,note,Latitude\r\n")
    for k, (lat, lng) in enumerate(points):
        la, lo = spell(rng, lat), spell(rng, lng)
        if rng.random() < 0.01:
            la, lo = "-0.0", "0e0"
        out.write("%d,%s,x%d,%s\r\n" % (k, lo, k % 7, la))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("kind")
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cells")
    ap.add_argument("--out")
    a = ap.parse_args()
    rng = random.Random("%s-%d" % (a.kind, a.seed))
    gens = {"cities": gen_cities, "uniform": gen_uniform, "poles": gen_poles,
            "antimeridian": gen_antimeridian, "faces": gen_faces, "formats": gen_cities,
            "identical": gen_identical}
    if a.kind == "fromcells":
        if not a.cells:
            ap.error("fromcells needs --cells")
        points = gen_fromcells(rng, a.cells)
    elif a.kind in gens:
        points = gens[a.kind](rng, a.n)
    else:
        ap.error("unknown kind %r" % a.kind)
    out = open(a.out, "w", newline="") if a.out else sys.stdout
    if a.kind == "formats":
        write_formats(rng, points, out)
    else:
        write(points, out)
    if a.out:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
