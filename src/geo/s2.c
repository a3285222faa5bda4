/* S2 cell ids: the mapping sphere -> cube face -> (s,t) -> (i,j) -> Hilbert
 * position, and back, following Google's s2geometry definitions exactly
 * (quadratic projection, 4-bit Hilbert lookup tables). The floating-point
 * expressions are written in the reference's order so the results agree to
 * the bit; the library is compiled with -ffp-contract=off for the same
 * reason (a fused multiply-add would round differently). */
#include "geoloc/s2.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#define MAX_LEVEL 30
#define POS_BITS 61 /* 2 * MAX_LEVEL + 1 */
#define LIMIT_IJ (1 << MAX_LEVEL)
#define MAX_SITI 2147483648.0 /* 2^31 */
#define LOOKUP_BITS 4
#define SWAP_MASK 1
#define INVERT_MASK 2

/* Hilbert curve: for each orientation, the (i,j) quadrant of position 0-3,
 * encoded as 2*i_bit + j_bit, and the orientation change of each position. */
static const int POS_TO_IJ[4][4] = {
    {0, 1, 3, 2}, /* canonical:  (0,0) (0,1) (1,1) (1,0) */
    {0, 2, 3, 1}, /* swapped:    (0,0) (1,0) (1,1) (0,1) */
    {3, 2, 0, 1}, /* inverted:   (1,1) (1,0) (0,0) (0,1) */
    {3, 1, 0, 2}, /* both:       (1,1) (0,1) (0,0) (1,0) */
};
static const int POS_TO_ORIENTATION[4] = {SWAP_MASK, 0, 0, INVERT_MASK | SWAP_MASK};

/* lookup_pos[(ij << 2) | orientation] = (pos << 2) | new orientation for a
 * 4-level block; lookup_ij is its inverse. */
static uint16_t lookup_pos[1 << (2 * LOOKUP_BITS + 2)];
static uint16_t lookup_ij[1 << (2 * LOOKUP_BITS + 2)];
static pthread_once_t lookup_once = PTHREAD_ONCE_INIT;

static void init_lookup_cell(int level, int i, int j, int orig_orientation, int pos,
                             int orientation) {
    if (level == LOOKUP_BITS) {
        int ij = (i << LOOKUP_BITS) + j;
        lookup_pos[(ij << 2) + orig_orientation] = (uint16_t)((pos << 2) + orientation);
        lookup_ij[(pos << 2) + orig_orientation] = (uint16_t)((ij << 2) + orientation);
        return;
    }
    const int *r = POS_TO_IJ[orientation];
    for (int k = 0; k < 4; k++)
        init_lookup_cell(level + 1, (i << 1) + (r[k] >> 1), (j << 1) + (r[k] & 1),
                         orig_orientation, (pos << 2) + k, orientation ^ POS_TO_ORIENTATION[k]);
}

static void init_lookup(void) {
    for (int o = 0; o < 4; o++) init_lookup_cell(0, 0, 0, o, 0, o);
}

static inline void ensure_lookup(void) { pthread_once(&lookup_once, init_lookup); }

/* ---- projections ------------------------------------------------------ */

static inline double uv_to_st(double u) {
    if (u >= 0) return 0.5 * sqrt(1 + 3 * u);
    return 1 - 0.5 * sqrt(1 - 3 * u);
}

static inline double st_to_uv(double s) {
    if (s >= 0.5) return (1 / 3.) * (4 * s * s - 1);
    return (1 / 3.) * (1 - 4 * (1 - s) * (1 - s));
}

/* Nearest leaf index; lrint rounds half to even like the reference's
 * cvtsd2si, which matters for s exactly on a multiple of 2^-30. */
static inline int st_to_ij(double s) {
    long r = lrint((double)LIMIT_IJ * s - 0.5);
    if (r < 0) return 0;
    if (r > LIMIT_IJ - 1) return LIMIT_IJ - 1;
    return (int)r;
}

static inline double ij_to_st_min(int i) { return (1.0 / LIMIT_IJ) * i; }

static inline double siti_to_st(unsigned si) { return (1.0 / MAX_SITI) * si; }

static int xyz_to_face_uv(const double p[3], double *u, double *v) {
    double ax = fabs(p[0]), ay = fabs(p[1]), az = fabs(p[2]);
    int face = ax > ay ? (ax > az ? 0 : 2) : (ay > az ? 1 : 2);
    if (p[face] < 0) face += 3;
    switch (face) {
    case 0: *u = p[1] / p[0]; *v = p[2] / p[0]; break;
    case 1: *u = -p[0] / p[1]; *v = p[2] / p[1]; break;
    case 2: *u = -p[0] / p[2]; *v = -p[1] / p[2]; break;
    case 3: *u = p[2] / p[0]; *v = p[1] / p[0]; break;
    case 4: *u = p[2] / p[1]; *v = -p[0] / p[1]; break;
    default: *u = -p[1] / p[2]; *v = -p[0] / p[2]; break;
    }
    return face;
}

static void face_uv_to_xyz(int face, double u, double v, double p[3]) {
    switch (face) {
    case 0: p[0] = 1; p[1] = u; p[2] = v; break;
    case 1: p[0] = -u; p[1] = 1; p[2] = v; break;
    case 2: p[0] = -u; p[1] = -v; p[2] = 1; break;
    case 3: p[0] = -1; p[1] = -v; p[2] = -u; break;
    case 4: p[0] = v; p[1] = -1; p[2] = -u; break;
    default: p[0] = v; p[1] = u; p[2] = -1; break;
    }
}

/* S2LatLng(point) in degrees, with the reference's "+ 0.0" so -0 and +0 agree. */
static void xyz_to_latlng_deg(const double p[3], double *lat, double *lng) {
    double lat_rad = atan2(p[2] + 0.0, sqrt(p[0] * p[0] + p[1] * p[1]));
    double lng_rad = atan2(p[1] + 0.0, p[0] + 0.0);
    *lat = (180 / M_PI) * lat_rad;
    *lng = (180 / M_PI) * lng_rad;
}

/* ---- cell id <-> (face, i, j) ------------------------------------------ */

static geoloc_cell from_face_ij(int face, int i, int j) {
    ensure_lookup();
    uint64_t n = (uint64_t)face << (POS_BITS - 1);
    int bits = face & SWAP_MASK;
    const int mask = (1 << LOOKUP_BITS) - 1;
    for (int k = 7; k >= 0; k--) {
        bits += ((i >> (k * LOOKUP_BITS)) & mask) << (LOOKUP_BITS + 2);
        bits += ((j >> (k * LOOKUP_BITS)) & mask) << 2;
        bits = lookup_pos[bits];
        n |= (uint64_t)(bits >> 2) << (k * 2 * LOOKUP_BITS);
        bits &= SWAP_MASK | INVERT_MASK;
    }
    return n * 2 + 1;
}

static inline uint64_t lsb(geoloc_cell id) { return id & (~id + 1); }

static inline uint64_t lsb_for_level(int level) {
    return (uint64_t)1 << (2 * (MAX_LEVEL - level));
}

/* Decodes the (i,j) of the leaf cell the id's bits name (for a non-leaf
 * cell: a leaf next to its center). */
static int to_face_ij(geoloc_cell id, int *pi, int *pj) {
    ensure_lookup();
    int i = 0, j = 0;
    int face = (int)(id >> POS_BITS);
    int bits = face & SWAP_MASK;
    for (int k = 7; k >= 0; k--) {
        int nbits = (k == 7) ? (MAX_LEVEL - 7 * LOOKUP_BITS) : LOOKUP_BITS;
        bits += ((int)(id >> (k * 2 * LOOKUP_BITS + 1)) & ((1 << (2 * nbits)) - 1)) << 2;
        bits = lookup_ij[bits];
        i += (bits >> (LOOKUP_BITS + 2)) << (k * LOOKUP_BITS);
        j += ((bits >> 2) & ((1 << LOOKUP_BITS) - 1)) << (k * LOOKUP_BITS);
        bits &= SWAP_MASK | INVERT_MASK;
    }
    *pi = i;
    *pj = j;
    return face;
}

/* ---- public API ------------------------------------------------------- */

geoloc_cell geoloc_s2_from_latlng(double lat_deg, double lng_deg) {
    if (!isfinite(lat_deg) || !isfinite(lng_deg)) return 0;
    double phi = (M_PI / 180) * lat_deg;
    double theta = (M_PI / 180) * lng_deg;
    double cosphi = cos(phi);
    double p[3] = {cos(theta) * cosphi, sin(theta) * cosphi, sin(phi)};
    double u, v;
    int face = xyz_to_face_uv(p, &u, &v);
    return from_face_ij(face, st_to_ij(uv_to_st(u)), st_to_ij(uv_to_st(v)));
}

geoloc_cell geoloc_s2_from_latlng_level(double lat_deg, double lng_deg, int level) {
    if (level < 0 || level > MAX_LEVEL) return 0;
    geoloc_cell leaf = geoloc_s2_from_latlng(lat_deg, lng_deg);
    return leaf ? geoloc_s2_parent(leaf, level) : 0;
}

int geoloc_s2_is_valid(geoloc_cell cell) {
    return (cell >> POS_BITS) < 6 && (lsb(cell) & 0x1555555555555555ULL) != 0;
}

int geoloc_s2_level(geoloc_cell cell) {
    return MAX_LEVEL - (__builtin_ctzll(cell) >> 1);
}

int geoloc_s2_face(geoloc_cell cell) { return (int)(cell >> POS_BITS); }

geoloc_cell geoloc_s2_parent(geoloc_cell cell, int level) {
    uint64_t new_lsb = lsb_for_level(level);
    return (cell & (~new_lsb + 1)) | new_lsb;
}

geoloc_cell geoloc_s2_child(geoloc_cell cell, int k) {
    uint64_t new_lsb = lsb(cell) >> 2;
    return cell + (uint64_t)(2 * k + 1) * new_lsb - 4 * new_lsb;
}

geoloc_cell geoloc_s2_child_begin(geoloc_cell cell, int level) {
    return cell - lsb(cell) + lsb_for_level(level);
}

geoloc_cell geoloc_s2_child_end(geoloc_cell cell, int level) {
    return cell + lsb(cell) + lsb_for_level(level);
}

geoloc_cell geoloc_s2_begin(int level) {
    return geoloc_s2_child_begin((uint64_t)1 << (POS_BITS - 1), level);
}

geoloc_cell geoloc_s2_end(int level) {
    return geoloc_s2_child_end(((uint64_t)5 << POS_BITS) + ((uint64_t)1 << (POS_BITS - 1)), level);
}

geoloc_cell geoloc_s2_next(geoloc_cell cell) { return cell + (lsb(cell) << 1); }

geoloc_cell geoloc_s2_prev(geoloc_cell cell) { return cell - (lsb(cell) << 1); }

geoloc_cell geoloc_s2_range_min(geoloc_cell cell) { return cell - (lsb(cell) - 1); }

geoloc_cell geoloc_s2_range_max(geoloc_cell cell) { return cell + (lsb(cell) - 1); }

int geoloc_s2_contains(geoloc_cell cell, geoloc_cell other) {
    return other >= geoloc_s2_range_min(cell) && other <= geoloc_s2_range_max(cell);
}

size_t geoloc_s2_to_token(geoloc_cell cell, char out[GEOLOC_S2_TOKEN_SIZE]) {
    static const char hex[] = "0123456789abcdef";
    if (cell == 0) {
        memcpy(out, "X", 2);
        return 1;
    }
    size_t len = 16 - (size_t)(__builtin_ctzll(cell) / 4);
    for (size_t k = 0; k < len; k++) out[k] = hex[(cell >> (60 - 4 * k)) & 15];
    out[len] = '\0';
    return len;
}

geoloc_status geoloc_s2_from_token(const char *token, size_t len, geoloc_cell *out) {
    if (token == NULL || len == 0 || len > 16) return GEOLOC_E_PARSE;
    uint64_t id = 0;
    for (size_t k = 0; k < len; k++) {
        char c = token[k];
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return GEOLOC_E_PARSE;
        id = id * 16 + (uint64_t)d;
    }
    id <<= 4 * (16 - len);
    if (!geoloc_s2_is_valid(id)) return GEOLOC_E_RANGE;
    *out = id;
    return GEOLOC_OK;
}

void geoloc_s2_center(geoloc_cell cell, double *lat_deg, double *lng_deg) {
    int i, j;
    int face = to_face_ij(cell, &i, &j);
    int delta = 0;
    if (cell & 1) delta = 1;
    else if ((i ^ ((int)cell >> 2)) & 1) delta = 2;
    unsigned si = 2 * (unsigned)i + (unsigned)delta, ti = 2 * (unsigned)j + (unsigned)delta;
    double p[3];
    face_uv_to_xyz(face, st_to_uv(siti_to_st(si)), st_to_uv(siti_to_st(ti)), p);
    xyz_to_latlng_deg(p, lat_deg, lng_deg);
}

void geoloc_s2_vertex(geoloc_cell cell, int k, double *lat_deg, double *lng_deg) {
    int i, j;
    int face = to_face_ij(cell, &i, &j);
    int size = 1 << (MAX_LEVEL - geoloc_s2_level(cell));
    int ij[2] = {i, j};
    double bound[2][2];
    for (int d = 0; d < 2; d++) {
        int lo = ij[d] & -size;
        bound[d][0] = st_to_uv(ij_to_st_min(lo));
        bound[d][1] = st_to_uv(ij_to_st_min(lo + size));
    }
    /* counter-clockwise: lower left, lower right, upper right, upper left */
    int vj = (k >> 1) & 1, vi = vj ^ (k & 1);
    double p[3];
    face_uv_to_xyz(face, bound[0][vi], bound[1][vj], p);
    double n = sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
    if (n != 0) n = 1.0 / n;
    for (int d = 0; d < 3; d++) p[d] *= n;
    xyz_to_latlng_deg(p, lat_deg, lng_deg);
}
