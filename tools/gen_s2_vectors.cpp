/* gen_s2_vectors: writes tests/data/s2_vectors.csv, reference values from
 * Google's s2geometry (libs2) that tests/test_s2.c checks geoloc against
 * (so that test runs without libs2). Development tool, built with the
 * optional libs2 comparison (GEOLOC_S2_REFERENCE); not run by the tests.
 *
 * usage: gen_s2_vectors [OUT]   (default tests/data/s2_vectors.csv)
 *
 * Rows: a point (random, or an edge case: poles, antimeridian, zero,
 * cube-face edges and corners, their floating-point neighbours, tiny values,
 * vertices and centers of random cells), the token of its leaf cell, and one
 * coarser level's token; about half the rows also hold that cell's center
 * and four vertices in degrees. Doubles are printed in the shortest decimal
 * form that reads back (strtod) to the same bits. The output is
 * deterministic. */
#include <s2/s2cell.h>
#include <s2/s2cell_id.h>
#include <s2/s2latlng.h>

#include "../tests/s2/mute_cerr.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <streambuf>
#include <string>
#include <utility>
#include <vector>

namespace {

/* splitmix64 */
struct Rng {
    uint64_t state;
    explicit Rng(uint64_t seed) : state(seed) {}
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    double unit() { return (double)(next() >> 11) * 0x1p-53; }
    int below(int n) { return (int)(next() % (uint64_t)n); }
};

double deg(double rad) { return rad * (180 / M_PI); }

/* Shortest %.Ng (N <= 17) that strtod reads back to the same bits;
 * integers without an exponent. */
std::string num(double x) {
    char buf[40];
    if (x == floor(x) && fabs(x) < 1e15) {
        snprintf(buf, sizeof buf, "%.0f", x);
        return buf;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        double back = strtod(buf, nullptr);
        if (memcmp(&back, &x, sizeof x) == 0) break;
    }
    return buf;
}

struct Point {
    double lat, lng;
    int level; /* level of the extra cell; -1: pick one */
};

void add(std::vector<Point> &pts, double lat, double lng, int level = -1) { pts.push_back({lat, lng, level}); }

/* x and its neighbours one representable double away. */
std::vector<double> near(double x) { return {nextafter(x, -INFINITY), x, nextafter(x, INFINITY)}; }

std::vector<Point> make_points() {
    std::vector<Point> pts;
    Rng rng(20240601);
    const double corner = deg(atan(1 / sqrt(2.0))); /* 35.26...: cube corners */

    /* poles, at many longitudes, and just off them */
    for (double lat : {90.0, -90.0})
        for (double lng : {0.0, -0.0, 45.0, -45.0, 90.0, -90.0, 135.0, 180.0, -180.0, 12.345678})
            add(pts, lat, lng);
    for (double lng : {0.0, 180.0, -135.0}) {
        add(pts, nextafter(90.0, 0.0), lng);
        add(pts, -nextafter(90.0, 0.0), lng);
        add(pts, 89.9999999, lng);
        add(pts, -89.9999999, lng);
    }
    /* the antimeridian and zero meridian, equator */
    for (double lat : {0.0, -0.0, 12.5, -33.75, 60.0, -60.0, 45.0})
        for (double lng : {180.0, -180.0, nextafter(180.0, 0.0), -nextafter(180.0, 0.0), 179.9999999,
                           -179.9999999, 0.0, -0.0, 1e-9, -1e-9})
            add(pts, lat, lng);
    /* tiny values */
    for (double t : {5e-324, 1e-320, 2.2250738585072014e-308, 1e-300, 1e-100, 1e-15, 1e-7}) {
        add(pts, t, t);
        add(pts, -t, t);
        add(pts, t, -t);
        add(pts, -t, -t);
        add(pts, 0.0, t);
        add(pts, t, 180.0);
    }
    /* cube corners and their neighbours */
    for (double slat : {1.0, -1.0})
        for (double lng : {45.0, -45.0, 135.0, -135.0})
            for (double a : near(slat * corner))
                for (double b : near(lng)) add(pts, a, b);
    /* face edges: |x| = |y| (lng = +-45, +-135) at random lats ... */
    for (double lng : {45.0, -45.0, 135.0, -135.0, 90.0, -90.0})
        for (int k = 0; k < 6; k++) {
            double lat = 160 * rng.unit() - 80;
            for (double b : near(lng)) add(pts, lat, b);
        }
    /* ... and |z| = max(|x|, |y|) at random lngs; 45 at lng 0 and 90 */
    for (int k = 0; k < 30; k++) {
        double lng = k < 2 ? 90.0 * k : 360 * rng.unit() - 180, r = lng * (M_PI / 180);
        double edge = deg(atan(std::max(fabs(cos(r)), fabs(sin(r)))));
        for (double a : near(k % 2 ? -edge : edge)) add(pts, a, lng);
    }
    /* finite but out of range: accepted by the library (not by the CLI) */
    for (double lat : {90.5, -100.0, 180.0, 1e6})
        for (double lng : {181.0, -360.0, 540.5}) add(pts, lat, lng);

    /* vertices and centers of random cells (at their own level: the point
     * lies on the cell's boundary), some with neighbours */
    for (int k = 0; k < 62; k++) {
        int level = k % 31;
        S2CellId id = S2CellId::FromFacePosLevel(rng.below(6), rng.next() >> 3, level);
        S2Cell cell(id);
        for (int v = 0; v < 5; v++) {
            S2LatLng ll = v < 4 ? S2LatLng(cell.GetVertex(v)) : id.ToLatLng();
            double lat = ll.lat().degrees(), lng = ll.lng().degrees();
            add(pts, lat, lng, level);
            if (k % 3 == 0 && v < 4) {
                add(pts, nextafter(lat, INFINITY), lng, level);
                add(pts, lat, nextafter(lng, -INFINITY), level);
            }
        }
    }
    /* random: uniform on the sphere, uniform in degrees, rounded decimals */
    for (int k = 0; k < 600; k++) {
        double u = rng.unit(), v = rng.unit();
        if (k % 3 == 0) {
            add(pts, deg(asin(2 * u - 1)), 360 * v - 180);
        } else {
            double lat = 180 * u - 90, lng = 360 * v - 180;
            if (k % 3 == 2) {
                double scale = pow(10.0, rng.below(8));
                lat = round(lat * scale) / scale;
                lng = round(lng * scale) / scale;
            }
            add(pts, lat, lng);
        }
    }
    return pts;
}

}  // namespace

int main(int argc, char **argv) {
    const char *out_path = argc > 1 ? argv[1] : "tests/data/s2_vectors.csv";
    if (argc > 2 || (argc > 1 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: gen_s2_vectors [OUT]   (default tests/data/s2_vectors.csv)\n");
        return 2;
    }
    std::string tmp = std::string(out_path) + ".tmp";
    FILE *f = fopen(tmp.c_str(), "w");
    if (!f) {
        fprintf(stderr, "gen_s2_vectors: cannot write %s: %s\n", tmp.c_str(), strerror(errno));
        return 1;
    }
    MuteCerr mute;
    fprintf(f,
            "# S2 reference vectors computed by Google's s2geometry (libs2); written by\n"
            "# tools/gen_s2_vectors, checked by tests/test_s2.c. Do not edit.\n"
            "# lat,lng: a point (degrees); leaf: token of S2CellId(S2LatLng::FromDegrees(lat,lng));\n"
            "# level, token: its parent(level); center: S2CellId::ToLatLng(), v0-v3:\n"
            "# S2LatLng(S2Cell(id).GetVertex(k)) of that cell, in degrees (empty on some rows).\n"
            "# Numbers are the shortest decimals that read back to the same double.\n"
            "lat,lng,leaf,level,token,center_lat,center_lng,v0_lat,v0_lng,v1_lat,v1_lng,v2_lat,v2_lng,v3_lat,"
            "v3_lng\n");
    std::vector<Point> pts = make_points();
    size_t n_geometry = 0;
    for (size_t i = 0; i < pts.size(); i++) {
        const Point &p = pts[i];
        int level = p.level >= 0 ? p.level : (int)(i * 7 % 31);
        S2CellId leaf(S2LatLng::FromDegrees(p.lat, p.lng));
        S2CellId id = leaf.parent(level);
        fprintf(f, "%s,%s,%s,%d,%s", num(p.lat).c_str(), num(p.lng).c_str(), leaf.ToToken().c_str(), level,
                id.ToToken().c_str());
        if (i % 2 == 0 || p.level >= 0) {
            S2LatLng c = id.ToLatLng();
            fprintf(f, ",%s,%s", num(c.lat().degrees()).c_str(), num(c.lng().degrees()).c_str());
            S2Cell cell(id);
            for (int k = 0; k < 4; k++) {
                S2LatLng v(cell.GetVertex(k));
                fprintf(f, ",%s,%s", num(v.lat().degrees()).c_str(), num(v.lng().degrees()).c_str());
            }
            n_geometry++;
        } else {
            fputs(",,,,,,,,,,", f);
        }
        fputc('\n', f);
    }
    if (fclose(f) != 0 || rename(tmp.c_str(), out_path) != 0) {
        fprintf(stderr, "gen_s2_vectors: cannot write %s: %s\n", out_path, strerror(errno));
        remove(tmp.c_str());
        return 1;
    }
    printf("gen_s2_vectors: wrote %s: %zu points, %zu with cell geometry\n", out_path, pts.size(), n_geometry);
    return 0;
}
