#!/usr/bin/env python3
"""Reference great-circle distances for tests/test_distance.c.

Writes tests/data/haversine_ref.csv: lat1,lng1,lat2,lng2,km. Each km value is
the haversine distance (R = 6371 km) of the exact binary values of the four
coordinates, evaluated with Python's decimal module at 80 significant digits
(sin, cos, sqrt and asin from their series here, not from a C library) and
then rounded once to the nearest double. It is checked against an ordinary
math-module haversine before being written.

Usage: python3 tools/haversine_ref.py > tests/data/haversine_ref.csv
"""
import math
import random
import sys
from decimal import Decimal, getcontext

getcontext().prec = 80
R = Decimal(6371)
ONE = Decimal(1)


def atan_series(x):
    # x small (|x| < 0.1 after reduction): x - x^3/3 + x^5/5 - ...
    total, term, k, x2 = Decimal(0), x, 1, x * x
    while True:
        new = total + term / k
        if new == total:
            return total
        total, term, k = new, -term * x2, k + 2


def atan(x):
    # atan(x) = 2 atan(x / (1 + sqrt(1 + x^2))) until x is small
    doublings = 0
    while abs(x) > Decimal("0.05"):
        x = x / (ONE + (ONE + x * x).sqrt())
        doublings += 1
    return atan_series(x) * (2 ** doublings)


PI = 16 * atan_series(ONE / 5) - 4 * atan_series(ONE / 239)


def sin(x):
    total, term, k = Decimal(0), x, 1
    while True:
        new = total + term
        if new == total:
            return total
        total = new
        term = -term * x * x / ((k + 1) * (k + 2))
        k += 2


def cos(x):
    return sin(PI / 2 - x)


def asin(s):
    if s == ONE:
        return PI / 2
    return atan(s / (ONE - s * s).sqrt())


def ref_km(lat1, lng1, lat2, lng2):
    rad = PI / 180
    p1, p2 = Decimal(lat1) * rad, Decimal(lat2) * rad
    dp = p2 - p1
    dl = (Decimal(lng2) - Decimal(lng1)) * rad
    h = sin(dp / 2) ** 2 + cos(p1) * cos(p2) * sin(dl / 2) ** 2
    h = min(max(h, Decimal(0)), ONE)
    return float(2 * R * asin(h.sqrt()))


def plain_km(lat1, lng1, lat2, lng2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lng2 - lng1) / 2) ** 2)
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def cases():
    fixed = [
        (0.0, 0.0, 0.0, 0.0),             # same point
        (0.0, 0.0, 0.0, 1.0),             # one degree on the equator
        (0.0, 0.0, 1.0, 0.0),             # one degree of latitude
        (0.0, 0.0, 0.0, 90.0),            # quarter of the equator
        (0.0, 0.0, 0.0, 180.0),           # antipodes on the equator
        (90.0, 0.0, -90.0, 0.0),          # pole to pole
        (90.0, 0.0, 90.0, 123.0),         # the pole with two longitudes
        (-90.0, 45.0, 0.0, 0.0),          # south pole to the equator
        (0.0, -180.0, 0.0, 180.0),        # the same meridian written twice
        (0.0, 190.0, 0.0, -170.0),        # longitudes outside [-180, 180]
        (10.0, 179.5, 10.0, -179.5),      # across the date line
        (-33.0, -179.9, -33.5, 179.9),    # across the date line, south
        (45.0, 7.0, 45.000000001, 7.0),   # ~0.1 mm
        (45.0, 7.0, 45.0, 7.000000001),
        (30.0, 40.0, -30.0, -140.0),      # antipodal
        (30.0, 40.0, -30.0, -139.9999999),  # nearly antipodal
        (48.8566, 2.3522, 40.7128, -74.0060),    # Paris - New York
        (51.5074, -0.1278, -33.8688, 151.2093),  # London - Sydney
        (35.6762, 139.6503, -22.9068, -43.1729),  # Tokyo - Rio
        (64.1466, -21.9426, -77.8419, 166.6863),  # Reykjavik - McMurdo
        (31.893581, -85.141124, 30.600370, -89.321708),  # an Im2GPS row
        (42.346571, -71.097228, 42.346776, -71.096264),
    ]
    yield from fixed
    rnd = random.Random(20180908)
    for _ in range(150):  # anywhere on the sphere
        yield (rnd.uniform(-90, 90), rnd.uniform(-180, 180),
               rnd.uniform(-90, 90), rnd.uniform(-180, 180))
    for _ in range(50):   # close pairs, metres to a few km
        lat, lng = rnd.uniform(-89, 89), rnd.uniform(-180, 180)
        yield (lat, lng, lat + rnd.uniform(-0.02, 0.02), lng + rnd.uniform(-0.02, 0.02))
    for _ in range(30):   # nearly antipodal pairs
        lat, lng = rnd.uniform(-89, 89), rnd.uniform(-179, 179)
        yield (lat, lng, -lat + rnd.uniform(-1e-3, 1e-3),
               lng + 180.0 + rnd.uniform(-1e-3, 1e-3))


def main():
    out = sys.stdout
    out.write("lat1,lng1,lat2,lng2,km\n")
    for c in cases():
        ref = ref_km(*c)
        plain = plain_km(*c)
        tol = 1e-3 if ref > 20000 else 1e-9 + 1e-12 * ref
        if abs(ref - plain) > tol:
            sys.exit(f"math-module haversine disagrees for {c}: {plain!r} vs {ref!r}")
        out.write(",".join(repr(float(v)) for v in (*c, ref)) + "\n")


if __name__ == "__main__":
    main()
