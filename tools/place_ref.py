#!/usr/bin/python3
"""Independent reference for `geoloc place` (test-only): the country of
points by shapely's point-in-polygon (Debian python3-shapely, GEOS) on the
same Natural Earth 1:10m outlines, read straight from world-atlas's TopoJSON
(arcs decoded here, not by topojson-client), codes from i18n-iso-countries'
codes.json in its npm tarball. Rings joined across the antimeridian (Russia,
Fiji) are unwrapped here (longitudes made continuous, beyond 180) and points
tested at lon and lon + 360, where tools/places-convert.js cuts them instead;
Antarctica's ring, around the pole, is routed through the pole as there.

  tools/place_ref.py COUNTRIES_10M_JSON I18N_TGZ POINTS.csv OUT.csv

POINTS.csv: a header with LAT and LON columns (any case); OUT.csv:
lat,lon,key where key is the ISO alpha-2 code, or Natural Earth's name for a
feature without one, or empty outside every country."""
import csv
import json
import math
import sys
import tarfile
import warnings

from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.prepared import prep
from shapely.strtree import STRtree


def decode_arcs(topo):
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)
    return arcs


def ring(arcs, ids):
    pts = []
    for i in ids:
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        pts.extend(a if not pts else a[1:])
    return pts


def antimeridian(pts):
    """Routes a ring around a pole through it; unwraps a ring across the
    antimeridian to longitudes from -180 up (some beyond 180)."""
    jumps = [i for i in range(len(pts) - 1) if abs(pts[i][0] - pts[i + 1][0]) > 180]
    if not jumps:
        return pts
    if len(jumps) % 2:
        i = jumps[0]
        (ax, ay), (bx, by) = pts[i], pts[i + 1]
        pole = -90 if ay < 0 else 90
        return pts[: i + 1] + [(math.copysign(180, ax), pole), (math.copysign(180, bx), pole)] + pts[i + 1:]
    out, offset = [pts[0]], 0
    for (px, _), (x, y) in zip(pts, pts[1:]):
        if abs(x - px) > 180:
            offset += 360 if x < px else -360
        out.append((x + offset, y))
    if min(x for x, _ in out) < -180:
        out = [(x + 360, y) for x, y in out]
    return out


def main():
    atlas, i18n_tgz, points, out = sys.argv[1:5]
    topo = json.load(open(atlas))
    with tarfile.open(i18n_tgz) as t:
        codes = json.load(t.extractfile("package/codes.json"))
    alpha2 = {c[2]: c[0] for c in codes}
    arcs = decode_arcs(topo)
    geoms, keys = [], []
    for g in topo["objects"]["countries"]["geometries"]:
        key = alpha2[g["id"]] if "id" in g else g["properties"]["name"]
        polys = [g["arcs"]] if g["type"] == "Polygon" else g["arcs"]
        shapes = []
        for poly in polys:
            rings = [ring(arcs, r) for r in poly]
            rings = [antimeridian(r) for r in rings]
            # rings collapsed by quantisation (the Vatican's) enclose nothing
            rings = [r for r in rings if len(set(r)) >= 3]
            if rings:
                shapes.append(Polygon(rings[0], rings[1:]))
        for s in shapes:  # one entry per polygon: tighter boxes for the tree
            geoms.append(s)
            keys.append(key)
    warnings.simplefilter("ignore")  # shapely 1.8's notice about STRtree in 2.0
    tree = STRtree(geoms)
    index = {id(g): k for g, k in zip(geoms, range(len(geoms)))}
    prepared = [prep(g) for g in geoms]
    with open(points, newline="") as f, open(out, "w", newline="") as o:
        rows = csv.reader(f)
        header = [h.strip().lower() for h in next(rows)]
        la, lo = header.index("lat"), header.index("lon")
        w = csv.writer(o, lineterminator="\n")
        w.writerow(["lat", "lon", "key"])
        for r in rows:
            lat, lon = float(r[la]), float(r[lo])
            found = ""
            for p in (Point(lon, lat), Point(lon + 360, lat)):
                for g in tree.query(p):
                    k = index[id(g)]
                    if not found and prepared[k].contains(p):
                        found = keys[k]
            w.writerow([r[la], r[lo], found])


if __name__ == "__main__":
    main()
