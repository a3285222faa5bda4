/* partition_ref: test-only rendition of the adaptive S2 partitioning of
 * Mueller-Budack et al. (ECCV 2018, reference implementation "GeoEstimation",
 * create_cells.py on s2sphere), on Google's s2geometry library (libs2).
 * It is never linked into geoloc: it exists so that tests can check that
 * `geoloc cells build` gives the same partitions, and so that the benchmark
 * has something to compare against.
 *
 * usage: partition_ref --tau-min N --tau-max M [--level-min 2] [--level-max 30]
 *                      DATA.csv OUT.csv
 *
 * The algorithm is followed literally, one pass over all photos per level:
 *   - read the photos in file order (columns LAT and LON found by name);
 *   - every photo gets the cell S2CellId(S2LatLng::FromDegrees(lat, lng))
 *     .parent(level_min); h maps cell -> photo count, in order of first
 *     appearance;
 *   - delete: cells with count <= tau_min and their photos are dropped
 *     (order of the rest kept);
 *   - while some cell of h has count > tau_max and level < level_max:
 *     level += 1; a new h is built by walking the photos in order: a photo
 *     whose cell had more than tau_max photos in the old h moves to the
 *     parent of its leaf at the new level; every photo counts towards its
 *     (possibly new) cell, inserted on first appearance;
 *   - delete again;
 *   (Each photo remembers the position of its cell in the current h, which
 *   stands for the reference's lookup h_old[photo.hexid]; the new h is still
 *   a hash map filled photo by photo.)
 *   - class i is the i-th cell of h; its mean latitude (longitude) is the sum
 *     of its photos' latitudes (longitudes), added one by one in photo order
 *     starting from 0, divided by its count.
 * The output is the published format (CRLF): "num_images: N" (photos read),
 * "min_concept_probability: ---", the header
 * class_label,hex_id,imgs_per_cell,latitude_mean,longitude_mean and one row
 * per class, hex_id being the S2 token and the means written like Python's
 * repr (shortest decimal that reads back as the same double).
 * The wall time of the whole run, reading included, goes to stderr as
 * "partition_ref: X.XXX s". Exit status: 0 ok, 1 error, 2 usage. */
#include <s2/s2cell_id.h>
#include <s2/s2latlng.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(PARTITION_REF_ABSL_HASH)
#include <absl/container/flat_hash_map.h>
template <class K, class V>
using hash_map = absl::flat_hash_map<K, V>;
#else
#include <unordered_map>
template <class K, class V>
using hash_map = std::unordered_map<K, V>;
#endif

namespace {

struct Photo {
    double lat, lng;
    S2CellId leaf;  // the photo's leaf cell (s2sphere: Cell.from_lat_lng)
    S2CellId cell;  // its current cell ("hexid" in the reference)
    uint32_t slot;  // position of `cell` in the current h (saves a lookup)
};

/* A dict with insertion order: cell -> count. */
struct CellCounts {
    hash_map<uint64_t, size_t> slot;  // cell id -> index into keys/counts
    std::vector<S2CellId> keys;
    std::vector<uint64_t> counts;

    /* h[id] += 1, inserting id with 1 on first appearance; returns its slot. */
    uint32_t add(S2CellId id) {
        auto ins = slot.try_emplace(id.id(), keys.size());
        if (ins.second) {
            keys.push_back(id);
            counts.push_back(1);
        } else {
            counts[ins.first->second]++;
        }
        return static_cast<uint32_t>(ins.first->second);
    }
};

[[noreturn]] void die(const char *fmt, const char *a = "", const char *b = "") {
    std::fprintf(stderr, "partition_ref: ");
    std::fprintf(stderr, fmt, a, b);
    std::fprintf(stderr, "\n");
    std::exit(1);
}

/* ---- reading ------------------------------------------------------------ */

std::string read_file(const char *path) {
    FILE *f = std::fopen(path, "rb");
    if (!f) die("%s: %s", path, std::strerror(errno));
    std::string data;
    if (std::fseek(f, 0, SEEK_END) == 0) {
        long size = std::ftell(f);
        if (size > 0) data.reserve(static_cast<size_t>(size));
        std::rewind(f);
    }
    char buf[1 << 16];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, got);
    if (std::ferror(f)) die("%s: read error", path);
    std::fclose(f);
    return data;
}

bool name_is(const char *p, size_t n, const char *const *names) {
    while (n > 0 && (*p == ' ' || *p == '"')) p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '"' || p[n - 1] == '\r')) n--;
    for (; *names; names++) {
        size_t m = std::strlen(*names);
        if (m != n) continue;
        size_t k = 0;
        while (k < n && (p[k] | 0x20) == (*names)[k]) k++;
        if (k == n) return true;
    }
    return false;
}

double parse_number(const char *p, const char *line_end, const char *path, long line) {
    char *end;
    double v = std::strtod(p, &end);
    if (end == p || (end < line_end && *end != ',' && *end != '\r')) {
        std::string where = std::string(path) + ":" + std::to_string(line);
        die("%s: not a number: '%s'", where.c_str(), std::string(p, line_end).c_str());
    }
    return v;
}

std::vector<Photo> read_photos(const char *path) {
    static const char *const lat_names[] = {"lat", "latitude", nullptr};
    static const char *const lng_names[] = {"lon", "lng", "longitude", nullptr};
    std::string data = read_file(path);
    const char *p = data.data(), *end = p + data.size();
    if (end - p >= 3 && !std::memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;
    const char *eol = static_cast<const char *>(std::memchr(p, '\n', end - p));
    if (!eol) eol = end;
    int lat_col = -1, lng_col = -1, col = 0;
    for (const char *f = p; f <= eol; col++) {
        const char *fe = f;
        while (fe < eol && *fe != ',') fe++;
        if (lat_col < 0 && name_is(f, fe - f, lat_names)) lat_col = col;
        if (lng_col < 0 && name_is(f, fe - f, lng_names)) lng_col = col;
        f = fe + 1;
    }
    if (lat_col < 0 || lng_col < 0) die("%s: header has no LAT/LON columns", path);
    std::vector<Photo> photos;
    photos.reserve(data.size() / 24);
    long line = 1;
    for (p = eol + 1; p < end; p = eol + 1) {
        line++;
        eol = static_cast<const char *>(std::memchr(p, '\n', end - p));
        if (!eol) eol = end;
        if (eol == p || (eol - p == 1 && *p == '\r')) continue;  // blank line
        const char *f = p, *lat_at = nullptr, *lng_at = nullptr;
        for (col = 0; f <= eol && (!lat_at || !lng_at); col++) {
            if (col == lat_col) lat_at = f;
            if (col == lng_col) lng_at = f;
            const char *c = static_cast<const char *>(std::memchr(f, ',', eol - f));
            f = c ? c + 1 : eol + 1;
        }
        if (!lat_at || !lng_at) {
            std::string where = std::string(path) + ":" + std::to_string(line);
            die("%s: too few fields%s", where.c_str());
        }
        Photo ph;
        ph.lat = parse_number(lat_at, eol, path, line);
        ph.lng = parse_number(lng_at, eol, path, line);
        if (!(ph.lat >= -90 && ph.lat <= 90 && ph.lng >= -180 && ph.lng <= 180)) {
            std::string where = std::string(path) + ":" + std::to_string(line);
            die("%s: coordinates out of range%s", where.c_str());
        }
        photos.push_back(ph);
    }
    return photos;
}

/* ---- the algorithm -------------------------------------------------------- */

/* delete_cells: drops the cells with <= tau_min photos and their photos. */
void delete_cells(std::vector<Photo> &photos, CellCounts &h, uint64_t tau_min) {
    const uint32_t gone = UINT32_MAX;
    CellCounts kept;
    std::vector<uint32_t> new_slot(h.keys.size(), gone);
    for (size_t k = 0; k < h.keys.size(); k++)
        if (h.counts[k] > tau_min) {
            new_slot[k] = static_cast<uint32_t>(kept.keys.size());
            kept.slot.emplace(h.keys[k].id(), kept.keys.size());
            kept.keys.push_back(h.keys[k]);
            kept.counts.push_back(h.counts[k]);
        }
    std::vector<Photo> left;
    left.reserve(photos.size());
    for (const Photo &ph : photos)
        if (new_slot[ph.slot] != gone) {
            left.push_back(ph);
            left.back().slot = new_slot[ph.slot];
        }
    photos.swap(left);
    h = std::move(kept);
}

bool any_above(const CellCounts &h, uint64_t tau_max) {
    for (uint64_t c : h.counts)
        if (c > tau_max) return true;
    return false;
}

/* ---- writing ---------------------------------------------------------------- */

/* The double as Python's repr writes it: the shortest decimal that reads back
 * as the same value, positional when the decimal exponent is in [-4, 16),
 * with ".0" when it would otherwise look like an integer. */
std::string python_repr(double v) {
    char sci[64], out[64];
    int prec = 1;
    for (; prec <= 17; prec++) {
        std::snprintf(sci, sizeof sci, "%.*e", prec - 1, v);
        double back = std::strtod(sci, nullptr);
        if (std::memcmp(&back, &v, sizeof v) == 0) break;
    }
    const char *e = std::strchr(sci, 'e');
    int exp10 = std::atoi(e + 1);
    if (exp10 < -4 || exp10 >= 16) {
        // d[.ddd]e+XX: C already writes at least two exponent digits, as Python does.
        return sci;
    }
    int decimals = prec - 1 - exp10;
    std::snprintf(out, sizeof out, "%.*f", decimals > 0 ? decimals : 0, v);
    std::string s(out);
    if (s.find('.') == std::string::npos) s += ".0";
    return s;
}

void write_partition(const char *path, const std::vector<Photo> &photos, const CellCounts &h,
                     uint64_t num_images) {
    std::vector<double> lat_sum(h.keys.size(), 0.0), lng_sum(h.keys.size(), 0.0);
    for (const Photo &ph : photos) {
        size_t k = ph.slot;
        lat_sum[k] = lat_sum[k] + ph.lat;
        lng_sum[k] = lng_sum[k] + ph.lng;
    }
    FILE *f = std::fopen(path, "wb");
    if (!f) die("%s: %s", path, std::strerror(errno));
    std::fprintf(f, "num_images: %" PRIu64 "\r\nmin_concept_probability: ---\r\n", num_images);
    std::fputs("class_label,hex_id,imgs_per_cell,latitude_mean,longitude_mean\r\n", f);
    for (size_t k = 0; k < h.keys.size(); k++) {
        double n = static_cast<double>(h.counts[k]);
        std::fprintf(f, "%zu,%s,%" PRIu64 ",%s,%s\r\n", k, h.keys[k].ToToken().c_str(), h.counts[k],
                     python_repr(lat_sum[k] / n).c_str(), python_repr(lng_sum[k] / n).c_str());
    }
    if (std::fflush(f) != 0 || std::ferror(f)) die("%s: write error", path);
    if (std::fclose(f) != 0) die("%s: close error", path);
}

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: partition_ref --tau-min N --tau-max M [--level-min 2] [--level-max 30] "
                 "DATA.csv OUT.csv\n");
    std::exit(2);
}

long parse_count(const char *s, long max) {
    char *end;
    errno = 0;
    long v = std::strtol(s, &end, 10);
    if (end == s || *end || errno || v < 0 || v > max) usage();
    return v;
}

}  // namespace

int main(int argc, char **argv) {
    auto t0 = std::chrono::steady_clock::now();
    long tau_min = -1, tau_max = -1, level_min = 2, level_max = 30;
    const char *in = nullptr, *out = nullptr;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (!std::strcmp(a, "--tau-min") && k + 1 < argc) tau_min = parse_count(argv[++k], 1L << 62);
        else if (!std::strcmp(a, "--tau-max") && k + 1 < argc) tau_max = parse_count(argv[++k], 1L << 62);
        else if (!std::strcmp(a, "--level-min") && k + 1 < argc) level_min = parse_count(argv[++k], 30);
        else if (!std::strcmp(a, "--level-max") && k + 1 < argc) level_max = parse_count(argv[++k], 30);
        else if (a[0] == '-' && a[1]) usage();
        else if (!in) in = a;
        else if (!out) out = a;
        else usage();
    }
    if (!in || !out || tau_min < 0 || tau_max < 0) usage();

    std::vector<Photo> photos = read_photos(in);
    const uint64_t num_images = photos.size();
    const uint64_t t_min = static_cast<uint64_t>(tau_min), t_max = static_cast<uint64_t>(tau_max);

    // init_cells
    int level = static_cast<int>(level_min);
    CellCounts h;
    for (Photo &ph : photos) {
        ph.leaf = S2CellId(S2LatLng::FromDegrees(ph.lat, ph.lng));
        ph.cell = ph.leaf.parent(level);
        ph.slot = h.add(ph.cell);
    }
    delete_cells(photos, h, t_min);

    // gen_subcells, level by level
    while (any_above(h, t_max) && level < level_max) {
        level++;
        CellCounts next;
        next.slot.reserve(h.keys.size() * 2);
        for (Photo &ph : photos) {
            if (h.counts[ph.slot] > t_max) ph.cell = ph.leaf.parent(level);
            ph.slot = next.add(ph.cell);
        }
        h = std::move(next);
    }
    delete_cells(photos, h, t_min);

    write_partition(out, photos, h, num_images);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "partition_ref: %.3f s\n", secs);
    return 0;
}
