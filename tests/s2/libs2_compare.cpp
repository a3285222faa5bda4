/* s2_vs_libs2: test-only harness that checks, in-process, that geoloc's S2
 * code (src/geo/s2.c) agrees bit for bit with Google's s2geometry (libs2).
 *
 * usage: s2_vs_libs2 [POINTS [THREADS]]
 *   POINTS   random points to check (default 2000000), half drawn uniformly
 *            on the sphere and half uniformly in lat/lng degrees; the edge
 *            cases (poles, antimeridian, cube-face edges and corners, their
 *            floating-point neighbours, cell vertices...) come on top.
 *   THREADS  worker threads (default: all cores, at most 16).
 *
 * Every point is checked at every level 0-30: the cell id, its token and the
 * token round trip, level, face, parent, children, child ranges, leaf range,
 * next/prev, contains, the center and the four vertices (doubles compared
 * with memcmp); the cells of levels 0-8 are few, so each of them is checked
 * once, exhaustively, instead of once per point. Then is_valid on random ids, token parsing on random and
 * malformed strings, and the Hilbert order of whole levels. Prints the first
 * mismatches in full and "N passed, M failed" last; exits 1 on any mismatch.
 * The random stream depends only on the point index, so results do not
 * depend on the number of threads. */
#include <s2/s1angle.h>
#include <s2/s2cell.h>
#include <s2/s2cell_id.h>
#include <s2/s2latlng.h>

#include "mute_cerr.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <streambuf>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "geoloc/s2.h"

namespace {

constexpr uint64_t kSeed = 0x5eed0f5e0c0ffeeULL;
constexpr int kMaxReports = 25;
/* Levels 0..kExhaustiveLevel are checked cell by cell (524,286 cells), so
 * points need only their finer cells checked in full. */
constexpr int kExhaustiveLevel = 8;

/* ---- deterministic random numbers -------------------------------------- */

uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* splitmix64 stream; Rng(stream, index) gives an independent sequence for
 * each (stream, index) pair. */
struct Rng {
    uint64_t state;
    Rng(uint64_t stream, uint64_t index) : state(mix64(kSeed ^ mix64(stream) ^ (index * 0xd1b54a32d192ed03ULL))) {}
    uint64_t next() { return mix64(state += 0x9e3779b97f4a7c15ULL); }
    double unit() { return (double)(next() >> 11) * 0x1p-53; } /* [0, 1) */
    int below(int n) { return (int)(next() % (uint64_t)n); }
};

/* ---- mismatch bookkeeping ---------------------------------------------- */

std::mutex g_report_mutex;
std::atomic<int> g_reported{0};

/* One worker's counts and the point being checked (for messages); a cache
 * line each, so that workers do not slow each other down. */
struct alignas(64) Ctx {
    uint64_t passed = 0, failed = 0;
    bool has_point = false;
    double lat = 0, lng = 0;
};

void report(Ctx &c, const char *what, uint64_t cell, const char *fmt, ...) {
    c.failed++;
    if (g_reported.fetch_add(1) >= kMaxReports) return;
    std::lock_guard<std::mutex> lock(g_report_mutex);
    fprintf(stderr, "MISMATCH %s:", what);
    if (c.has_point)
        fprintf(stderr, " point lat=%.17g (%a) lng=%.17g (%a)", c.lat, c.lat, c.lng, c.lng);
    fprintf(stderr, " cell=0x%016" PRIx64 "\n    ", cell);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void eq_id(Ctx &c, const char *what, uint64_t cell, uint64_t ours, uint64_t ref) {
    if (ours == ref) {
        c.passed++;
        return;
    }
    report(c, what, cell, "ours=0x%016" PRIx64 " libs2=0x%016" PRIx64, ours, ref);
}

void eq_int(Ctx &c, const char *what, uint64_t cell, long long ours, long long ref) {
    if (ours == ref) {
        c.passed++;
        return;
    }
    report(c, what, cell, "ours=%lld libs2=%lld", ours, ref);
}

void eq_str(Ctx &c, const char *what, uint64_t cell, const char *ours, const char *ref) {
    if (strcmp(ours, ref) == 0) {
        c.passed++;
        return;
    }
    report(c, what, cell, "ours=\"%s\" libs2=\"%s\"", ours, ref);
}

/* Lat/lng pairs must be the same bits (so -0.0 != 0.0). */
void eq_latlng(Ctx &c, const char *what, uint64_t cell, double olat, double olng, const S2LatLng &ref) {
    double rlat = ref.lat().degrees(), rlng = ref.lng().degrees();
    if (memcmp(&olat, &rlat, sizeof olat) == 0 && memcmp(&olng, &rlng, sizeof olng) == 0) {
        c.passed++;
        return;
    }
    report(c, what, cell, "ours=(%.17g, %.17g) = (%a, %a)\n    libs2=(%.17g, %.17g) = (%a, %a)", olat, olng,
           olat, olng, rlat, rlng, rlat, rlng);
}

/* ---- per-cell and per-point checks ------------------------------------- */

/* contains() of both libraries for two valid cells. */
void check_contains(Ctx &c, S2CellId a, S2CellId b) {
    if (!a.is_valid() || !b.is_valid()) return;
    eq_int(c, "contains", a.id(), geoloc_s2_contains(a.id(), b.id()), a.contains(b));
}

/* Everything the API says about one valid cell, against libs2. */
void check_cell(Ctx &c, S2CellId ref, Rng &rng) {
    const uint64_t id = ref.id();
    const int level = ref.level();
    eq_int(c, "is_valid", id, geoloc_s2_is_valid(id), ref.is_valid());
    eq_int(c, "level", id, geoloc_s2_level(id), level);
    eq_int(c, "face", id, geoloc_s2_face(id), ref.face());

    eq_id(c, "parent(level)", id, geoloc_s2_parent(id, level), ref.parent(level).id());
    eq_id(c, "parent(0)", id, geoloc_s2_parent(id, 0), ref.parent(0).id());
    if (level > 0) {
        int l = rng.below(level);
        eq_id(c, "parent(level-1)", id, geoloc_s2_parent(id, level - 1), ref.parent(level - 1).id());
        eq_id(c, "parent(random)", id, geoloc_s2_parent(id, l), ref.parent(l).id());
        check_contains(c, ref.parent(l), ref);
        check_contains(c, ref, ref.parent(l));
    }
    eq_id(c, "child_begin(level)", id, geoloc_s2_child_begin(id, level), ref.child_begin(level).id());
    eq_id(c, "child_end(level)", id, geoloc_s2_child_end(id, level), ref.child_end(level).id());
    if (!ref.is_leaf()) {
        for (int k = 0; k < 4; k++) {
            S2CellId child = ref.child(k);
            eq_id(c, "child(k)", id, geoloc_s2_child(id, k), child.id());
            check_contains(c, ref, child);
            check_contains(c, child, ref);
        }
        int l = level + 1 + rng.below(GEOLOC_S2_MAX_LEVEL - level);
        eq_id(c, "child_begin()", id, geoloc_s2_child_begin(id, level + 1), ref.child_begin().id());
        eq_id(c, "child_end()", id, geoloc_s2_child_end(id, level + 1), ref.child_end().id());
        eq_id(c, "child_begin(random)", id, geoloc_s2_child_begin(id, l), ref.child_begin(l).id());
        eq_id(c, "child_end(random)", id, geoloc_s2_child_end(id, l), ref.child_end(l).id());
        eq_id(c, "child_begin(30)", id, geoloc_s2_child_begin(id, 30), ref.child_begin(30).id());
        eq_id(c, "child_end(30)", id, geoloc_s2_child_end(id, 30), ref.child_end(30).id());
    }
    eq_id(c, "range_min", id, geoloc_s2_range_min(id), ref.range_min().id());
    eq_id(c, "range_max", id, geoloc_s2_range_max(id), ref.range_max().id());
    eq_id(c, "next", id, geoloc_s2_next(id), ref.next().id());
    eq_id(c, "prev", id, geoloc_s2_prev(id), ref.prev().id());
    check_contains(c, ref, ref);
    check_contains(c, ref, ref.next());
    check_contains(c, ref, ref.prev());
    check_contains(c, ref, ref.range_min());
    check_contains(c, ref, ref.range_max());
    check_contains(c, ref, S2CellId(ref.range_min().id() - 2));
    check_contains(c, ref, S2CellId(ref.range_max().id() + 2));

    /* tokens, both ways, either case */
    std::string tok = ref.ToToken();
    char ours[GEOLOC_S2_TOKEN_SIZE];
    size_t len = geoloc_s2_to_token(id, ours);
    eq_str(c, "to_token", id, ours, tok.c_str());
    eq_int(c, "to_token length", id, (long long)len, (long long)tok.size());
    geoloc_cell back = 0;
    geoloc_status st = geoloc_s2_from_token(tok.data(), tok.size(), &back);
    eq_int(c, "from_token status", id, st, GEOLOC_OK);
    eq_id(c, "from_token", id, back, S2CellId::FromToken(tok).id());
    std::string upper = tok;
    for (char &ch : upper)
        if (ch >= 'a' && ch <= 'f') ch = (char)(ch - 'a' + 'A');
    back = 0;
    st = geoloc_s2_from_token(upper.data(), upper.size(), &back);
    eq_int(c, "from_token(upper) status", id, st, GEOLOC_OK);
    eq_id(c, "from_token(upper)", id, back, S2CellId::FromToken(upper).id());

    /* geometry */
    double lat, lng;
    geoloc_s2_center(id, &lat, &lng);
    eq_latlng(c, "center", id, lat, lng, ref.ToLatLng());
    S2Cell cell(ref);
    for (int k = 0; k < 4; k++) {
        geoloc_s2_vertex(id, k, &lat, &lng);
        eq_latlng(c, k == 0 ? "vertex(0)" : k == 1 ? "vertex(1)" : k == 2 ? "vertex(2)" : "vertex(3)", id, lat,
                  lng, S2LatLng(cell.GetVertex(k)));
    }
}

/* The point's cell at every level, and everything about each cell finer
 * than kExhaustiveLevel (the coarser ones are all checked by check_all). */
void check_point(Ctx &c, double lat, double lng, Rng &rng) {
    c.has_point = true;
    c.lat = lat;
    c.lng = lng;
    S2CellId leaf(S2LatLng::FromDegrees(lat, lng));
    eq_id(c, "from_latlng", leaf.id(), geoloc_s2_from_latlng(lat, lng), leaf.id());
    for (int level = 0; level <= GEOLOC_S2_MAX_LEVEL; level++) {
        S2CellId ref = leaf.parent(level);
        eq_id(c, "from_latlng_level", ref.id(), geoloc_s2_from_latlng_level(lat, lng, level), ref.id());
        if (level > kExhaustiveLevel) check_cell(c, ref, rng);
    }
    c.has_point = false;
}

/* Every cell of levels 0..kExhaustiveLevel; worker t of n takes every n-th. */
void check_all(Ctx &c, unsigned t, unsigned n) {
    for (int level = 0; level <= kExhaustiveLevel; level++) {
        uint64_t k = 0;
        for (S2CellId id = S2CellId::Begin(level); id != S2CellId::End(level); id = id.next(), k++) {
            if (k % n != t) continue;
            Rng rng(6, id.id());
            check_cell(c, id, rng);
        }
    }
}

/* ---- the points ---------------------------------------------------------- */

double deg(double rad) { return rad * (180 / M_PI); }

/* Random point number `index`: uniform on the sphere for even indexes,
 * uniform in degrees for odd ones (every other one of those rounded to a
 * random number of decimals, as coordinates in real files are). */
std::pair<double, double> random_point(uint64_t index) {
    Rng rng(1, index);
    double u = rng.unit(), v = rng.unit();
    if (index % 2 == 0) return {deg(asin(2 * u - 1)), 360 * v - 180};
    double lat = 180 * u - 90, lng = 360 * v - 180;
    if (index % 4 == 3) {
        double scale = pow(10.0, rng.below(9));
        lat = round(lat * scale) / scale;
        lng = round(lng * scale) / scale;
    }
    return {lat, lng};
}

/* Adds x and its neighbours up to `ulps` representable doubles away. */
void with_neighbours(std::vector<double> &out, double x, int ulps) {
    out.push_back(x);
    double up = x, down = x;
    for (int k = 0; k < ulps; k++) {
        up = nextafter(up, INFINITY);
        down = nextafter(down, -INFINITY);
        out.push_back(up);
        out.push_back(down);
    }
}

/* All pairs of lats x lngs. */
void cross(std::vector<std::pair<double, double>> &out, const std::vector<double> &lats,
           const std::vector<double> &lngs) {
    for (double a : lats)
        for (double b : lngs) out.push_back({a, b});
}

/* Poles, antimeridian, zero, cube-face edges and corners and their float
 * neighbours, tiny values, and vertices/centers of random cells. */
std::vector<std::pair<double, double>> edge_points(int n_cells) {
    std::vector<std::pair<double, double>> pts;
    const double corner = deg(atan(1 / sqrt(2.0))); /* 35.26...: cube corners */
    const double tiny[] = {5e-324, 1e-320, 2.2250738585072014e-308, 1e-300, 1e-200, 1e-100, 1e-15, 1e-10, 1e-7};
    std::vector<double> lats, lngs;
    for (double x : {0.0, 45.0, 90.0, corner, 30.0, 60.0, 89.9999999, 1e-9}) {
        with_neighbours(lats, x, 2);
        with_neighbours(lats, -x, 2);
    }
    for (double x : tiny) {
        lats.push_back(x);
        lats.push_back(-x);
    }
    for (double x : {0.0, 45.0, 90.0, 135.0, 180.0, 179.9999999, 22.5, 1e-9}) {
        with_neighbours(lngs, x, 2);
        with_neighbours(lngs, -x, 2);
    }
    for (double x : tiny) {
        lngs.push_back(x);
        lngs.push_back(-x);
    }
    cross(pts, lats, lngs);

    /* face edges: lng = +-45/+-135 (|x| = |y|) at random lats, and the lat
     * where |z| = max(|x|, |y|) at random lngs; with neighbours */
    Rng rng(2, 0);
    for (int k = 0; k < 400; k++) {
        std::vector<double> a, b;
        with_neighbours(a, 45.0 + 90.0 * rng.below(4) - 180.0, 2);
        with_neighbours(b, 180 * rng.unit() - 90, 0);
        cross(pts, b, a);
        double lng = 360 * rng.unit() - 180, r = lng * (M_PI / 180);
        double edge = deg(atan(std::max(fabs(cos(r)), fabs(sin(r)))));
        a.clear();
        b.clear();
        with_neighbours(a, edge, 2);
        with_neighbours(a, -edge, 2);
        b.push_back(lng);
        cross(pts, a, b);
    }
    /* out-of-range but finite input is accepted by both libraries */
    cross(pts, {90.5, -91.0, 180.0, 1e6, -1e300}, {0.0, 181.0, -360.0, 540.0, 1e10, -1e300});

    /* vertices and centers of random cells, and their neighbours in lat, lng */
    for (int k = 0; k < n_cells; k++) {
        int level = rng.below(GEOLOC_S2_MAX_LEVEL + 1);
        S2CellId id = S2CellId::FromFacePosLevel(rng.below(6), rng.next() >> 3, level);
        S2Cell cell(id);
        for (int v = 0; v < 5; v++) {
            S2LatLng ll = v < 4 ? S2LatLng(cell.GetVertex(v)) : id.ToLatLng();
            double lat = ll.lat().degrees(), lng = ll.lng().degrees();
            pts.push_back({lat, lng});
            pts.push_back({nextafter(lat, INFINITY), lng});
            pts.push_back({nextafter(lat, -INFINITY), lng});
            pts.push_back({lat, nextafter(lng, INFINITY)});
            pts.push_back({lat, nextafter(lng, -INFINITY)});
        }
    }
    return pts;
}

/* ---- id-only checks -------------------------------------------------------- */

/* is_valid on random 64-bit ids, ids with faces 6 and 7, and odd-placed lsbs;
 * random valid cells get the full check_cell. */
void check_ids(Ctx &c, uint64_t n) {
    Rng rng(3, 0);
    for (uint64_t k = 0; k < n; k++) {
        uint64_t x = rng.next();
        int b = rng.below(64);
        uint64_t variants[] = {x,
                               x | (6ULL << 61),
                               x | (7ULL << 61),
                               (x & (~0ULL << b)) | (1ULL << b),
                               (x & ~((1ULL << 61) - 1)) | (1ULL << (2 * rng.below(31))),
                               (x & ~((1ULL << 61) - 1)) | (1ULL << (2 * rng.below(31) + 1))};
        for (uint64_t id : variants) eq_int(c, "is_valid", id, geoloc_s2_is_valid(id), S2CellId(id).is_valid());
    }
    for (uint64_t id : {0ULL, ~0ULL, 1ULL, 1ULL << 60, 1ULL << 61, 1ULL << 62, 1ULL << 63, 0xb000000000000000ULL,
                        0xd000000000000000ULL, 0xf000000000000000ULL, 0xa000000000000000ULL})
        eq_int(c, "is_valid", id, geoloc_s2_is_valid(id), S2CellId(id).is_valid());
    for (uint64_t k = 0; k < n / 8; k++) {
        int level = rng.below(GEOLOC_S2_MAX_LEVEL + 1);
        check_cell(c, S2CellId::FromFacePosLevel(rng.below(6), rng.next() >> 3, level), rng);
    }
}

/* Our parser against FromToken: when ours succeeds the ids must be equal;
 * when libs2 gives a valid id ours must succeed. */
void check_token_parse(Ctx &c, const std::string &s) {
    geoloc_cell ours = 0;
    geoloc_status st = geoloc_s2_from_token(s.data(), s.size(), &ours);
    S2CellId ref = S2CellId::FromToken(s);
    /* libs2 takes any up-to-16 digit string; it just may not be valid */
    int ref_ok = ref.is_valid() && !s.empty();
    if ((st == GEOLOC_OK) == (ref_ok != 0) && (st != GEOLOC_OK || ours == ref.id())) {
        c.passed++;
        return;
    }
    report(c, "from_token", ref.id(), "token \"%s\" (%zu bytes): ours status %d id 0x%016" PRIx64
           ", libs2 0x%016" PRIx64 " valid %d", s.c_str(), s.size(), (int)st, ours, ref.id(), ref_ok);
}

void check_tokens(Ctx &c, uint64_t n) {
    /* malformed tokens must be refused, with the documented status */
    struct {
        const char *text;
        size_t len;
        geoloc_status status;
    } bad[] = {{"", 0, GEOLOC_E_PARSE},
               {"89c259c000000000c", 17, GEOLOC_E_PARSE},
               {"00000000000000001", 17, GEOLOC_E_PARSE},
               {"g", 1, GEOLOC_E_PARSE},
               {"89g", 3, GEOLOC_E_PARSE},
               {"X", 1, GEOLOC_E_PARSE},
               {"x", 1, GEOLOC_E_PARSE},
               {" 1", 2, GEOLOC_E_PARSE},
               {"1 ", 2, GEOLOC_E_PARSE},
               {"+1", 2, GEOLOC_E_PARSE},
               {"0x1", 3, GEOLOC_E_PARSE},
               {"1\0", 2, GEOLOC_E_PARSE},
               {"d", 1, GEOLOC_E_RANGE},  /* face 6 */
               {"f", 1, GEOLOC_E_RANGE},  /* face 7 */
               {"c4", 2, GEOLOC_E_RANGE}, /* face 6 */
               {"0", 1, GEOLOC_E_RANGE},  /* no lsb */
               {"0000000000000000", 16, GEOLOC_E_RANGE},
               {"2", 1, GEOLOC_E_RANGE}, /* lsb at an odd place */
               {"8", 1, GEOLOC_E_RANGE},
               {"89c2", 4, GEOLOC_E_RANGE}};
    for (const auto &b : bad) {
        geoloc_cell out = 0x1234;
        geoloc_status st = geoloc_s2_from_token(b.text, b.len, &out);
        std::string s(b.text, b.len);
        eq_int(c, ("refuse token \"" + s + "\"").c_str(), 0, st, b.status);
        eq_id(c, "refused token leaves *out", 0, out, 0x1234);
        eq_int(c, "libs2 refuses it too", 0, S2CellId::FromToken(s).is_valid() && b.len > 0 && b.len <= 16, 0);
    }
    geoloc_cell out = 0;
    eq_int(c, "from_token(NULL)", 0, geoloc_s2_from_token(NULL, 0, &out), GEOLOC_E_PARSE);

    /* random strings: mostly hex digits, sometimes other characters */
    static const char alphabet[] = "0123456789abcdefABCDEF0123456789gxX -+.\x80";
    Rng rng(4, 0);
    for (uint64_t k = 0; k < n; k++) {
        std::string s;
        int len = rng.below(19);
        bool clean = rng.below(4) != 0;
        for (int i = 0; i < len; i++) s += alphabet[rng.below(clean ? 22 : (int)sizeof alphabet - 1)];
        check_token_parse(c, s);
        /* valid-looking: a random cell's token, maybe with the last digit bent */
        S2CellId id = S2CellId::FromFacePosLevel(rng.below(6), rng.next() >> 3, rng.below(31));
        std::string tok = id.ToToken();
        check_token_parse(c, tok);
        tok.back() = alphabet[rng.below(16)];
        check_token_parse(c, tok);
    }
}

/* Whole levels walked in Hilbert order, forwards and backwards. */
void check_hilbert(Ctx &c) {
    for (int level = 0; level <= GEOLOC_S2_MAX_LEVEL; level++) {
        eq_id(c, "begin(level)", level, geoloc_s2_begin(level), S2CellId::Begin(level).id());
        eq_id(c, "end(level)", level, geoloc_s2_end(level), S2CellId::End(level).id());
    }
    for (int level = 0; level <= 5; level++) {
        geoloc_cell ours = geoloc_s2_begin(level);
        S2CellId ref = S2CellId::Begin(level);
        uint64_t steps = 0;
        for (; ref != S2CellId::End(level); ref = ref.next(), ours = geoloc_s2_next(ours), steps++)
            eq_id(c, "Hilbert walk (next)", ref.id(), ours, ref.id());
        eq_id(c, "Hilbert walk reaches end", ref.id(), ours, geoloc_s2_end(level));
        eq_int(c, "Hilbert walk length", level, (long long)steps, 6LL << (2 * level));
        ours = geoloc_s2_prev(geoloc_s2_end(level));
        for (ref = S2CellId::End(level).prev(); ref != S2CellId::Begin(level).prev(); ref = ref.prev()) {
            eq_id(c, "Hilbert walk (prev)", ref.id(), ours, ref.id());
            ours = geoloc_s2_prev(ours);
        }
    }
}

/* Non-finite input and bad levels give 0 (libs2 has no counterpart). */
void check_bad_input(Ctx &c) {
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (double x : bad) {
        eq_id(c, "from_latlng(non-finite lat)", 0, geoloc_s2_from_latlng(x, 0), 0);
        eq_id(c, "from_latlng(non-finite lng)", 0, geoloc_s2_from_latlng(0, x), 0);
        eq_id(c, "from_latlng_level(non-finite)", 0, geoloc_s2_from_latlng_level(x, x, 10), 0);
    }
    eq_id(c, "from_latlng_level(-1)", 0, geoloc_s2_from_latlng_level(10, 10, -1), 0);
    eq_id(c, "from_latlng_level(31)", 0, geoloc_s2_from_latlng_level(10, 10, 31), 0);
    char tok[GEOLOC_S2_TOKEN_SIZE];
    geoloc_s2_to_token(0, tok);
    eq_str(c, "to_token(0)", 0, tok, S2CellId(0).ToToken().c_str());
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char **argv) {
    uint64_t n_points = 2000000;
    unsigned n_threads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
    if (argc > 1) {
        char *end;
        n_points = strtoull(argv[1], &end, 10);
        if (*end || argv[1][0] == '-' || end == argv[1]) {
            fprintf(stderr, "usage: %s [POINTS [THREADS]]\n", argv[0]);
            return 2;
        }
    }
    if (argc > 2) n_threads = (unsigned)std::max(1, std::min(64, atoi(argv[2])));
    MuteCerr mute;
    auto t0 = std::chrono::steady_clock::now();

    int n_cells = (int)std::min<uint64_t>(4000, std::max<uint64_t>(1000, n_points / 250));
    std::vector<std::pair<double, double>> edges = edge_points(n_cells);
    const uint64_t total = edges.size() + n_points;
    printf("s2_vs_libs2: %zu edge-case points + %" PRIu64 " random points, every level 0-30, %u threads\n",
           edges.size(), n_points, n_threads);
    fflush(stdout);

    std::vector<Ctx> ctx(n_threads + 1);
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < n_threads; t++)
        workers.emplace_back([&, t] {
            Ctx &c = ctx[t];
            check_all(c, t, n_threads);
            for (uint64_t i = t; i < total; i += n_threads) {
                Rng rng(5, i);
                std::pair<double, double> p = i < edges.size() ? edges[i] : random_point(i - edges.size());
                check_point(c, p.first, p.second, rng);
            }
        });
    for (auto &w : workers) w.join();
    double t_points = seconds_since(t0);

    Ctx &c = ctx[n_threads];
    check_ids(c, std::max<uint64_t>(10000, n_points / 2));
    check_tokens(c, std::max<uint64_t>(10000, n_points / 4));
    check_hilbert(c);
    check_bad_input(c);

    uint64_t passed = 0, failed = 0;
    for (const Ctx &x : ctx) {
        passed += x.passed;
        failed += x.failed;
    }
    if (failed > (uint64_t)kMaxReports)
        fprintf(stderr, "(only the first %d mismatches were printed)\n", kMaxReports);
    printf("points: %.1f s, total %.1f s\n", t_points, seconds_since(t0));
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
    return failed ? 1 : 0;
}
