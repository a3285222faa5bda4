/* A pickle machine for the data.pkl of torch.save (protocol 2, and the
 * binary opcodes of protocols 3-4): it builds plain values (None, bools,
 * ints, floats, strings, tuples, lists, dicts), storages from persistent ids
 * and tensors from torch._utils._rebuild_tensor_v2; any other global, and
 * what it builds, is an opaque object. Nothing is executed and every count
 * is bounded by the pickle's length or a fixed limit. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/error.h"
#include "nn/torch_internal.h"

#define MAX_OBJECTS (1u << 22)
#define MAX_STACK (1u << 20)
#define MAX_MARKS (1u << 16)
#define MAX_MEMO (1u << 22)
#define NO_OBJ UINT32_MAX

typedef struct vm {
    const uint8_t *p;
    size_t n, pos, op_at;  /* op_at: offset of the opcode being run */
    const char *where;
    pk_result r;
    size_t cap_obj, cap_storages, cap_tensors;
    uint32_t *stack;
    size_t sp, cap_stack;
    size_t *marks;
    size_t n_marks, cap_marks;
    uint32_t *memo;
    size_t cap_memo, memo_len;
    geoloc_error *err;
    int failed;
} vm;

__attribute__((format(printf, 2, 3))) static int fail(vm *v, const char *fmt, ...) {
    if (v->failed) return -1;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_set(v->err, GEOLOC_E_PARSE, "%s: pickle byte %zu (opcode 0x%02x): %s", v->where, v->op_at,
              v->op_at < v->n ? v->p[v->op_at] : 0, msg);
    v->failed = 1;
    return -1;
}

static int nomem(vm *v) {
    if (!v->failed) error_set(v->err, GEOLOC_E_NOMEM, "%s: out of memory", v->where);
    v->failed = 1;
    return -1;
}

/* A new object of type t (zeroed); NO_OBJ on failure. */
static uint32_t new_obj(vm *v, pk_type t) {
    if (v->r.n_obj >= MAX_OBJECTS) return fail(v, "more than %u objects", MAX_OBJECTS), NO_OBJ;
    if (array_grow((void **)&v->r.obj, &v->cap_obj, v->r.n_obj + 1, sizeof *v->r.obj) != 0)
        return nomem(v), NO_OBJ;
    pk_obj *o = &v->r.obj[v->r.n_obj];
    memset(o, 0, sizeof *o);
    o->type = (uint8_t)t;
    o->at = v->op_at;
    return (uint32_t)v->r.n_obj++;
}

static int push(vm *v, uint32_t id) {
    if (id == NO_OBJ) return -1;
    if (v->sp >= MAX_STACK) return fail(v, "stack deeper than %u", MAX_STACK);
    if (array_grow((void **)&v->stack, &v->cap_stack, v->sp + 1, sizeof *v->stack) != 0) return nomem(v);
    v->stack[v->sp++] = id;
    return 0;
}

static size_t floor_of(const vm *v) { return v->n_marks ? v->marks[v->n_marks - 1] : 0; }

static int pop(vm *v, uint32_t *id) {
    *id = 0;
    if (v->sp <= floor_of(v)) return fail(v, "stack underflow");
    *id = v->stack[--v->sp];
    return 0;
}

static int top(vm *v, uint32_t *id) {
    *id = 0;
    if (v->sp <= floor_of(v)) return fail(v, "stack underflow");
    *id = v->stack[v->sp - 1];
    return 0;
}

/* Pops the topmost mark: the items above it are stack[*begin..sp). */
static int pop_mark(vm *v, size_t *begin) {
    *begin = 0;
    if (!v->n_marks) return fail(v, "no MARK");
    *begin = v->marks[--v->n_marks];
    return 0;
}

/* Appends ids[0..k) to container c. */
static int add_items(vm *v, uint32_t c, const uint32_t *ids, size_t k) {
    pk_obj *o = &v->r.obj[c];
    size_t cap = o->cap;
    if (k == 0) return 0;
    if (o->n + k > MAX_OBJECTS) return fail(v, "container of more than %u items", MAX_OBJECTS);
    if (array_grow((void **)&o->items, &cap, o->n + k, sizeof *o->items) != 0) return nomem(v);
    o->cap = (uint32_t)cap;
    memcpy(o->items + o->n, ids, k * sizeof *ids);
    o->n += (uint32_t)k;
    return 0;
}

/* A container of type t holding ids[0..k). */
static int push_container(vm *v, pk_type t, const uint32_t *ids, size_t k) {
    uint32_t c = new_obj(v, t);
    if (c == NO_OBJ || (k && add_items(v, c, ids, k) != 0)) return -1;
    return push(v, c);
}

/* The next k bytes of the pickle; NULL (and the error) when they run past its end. */
static const uint8_t *take(vm *v, size_t k) {
    if (v->n - v->pos < k) return fail(v, "truncated: %zu bytes needed, %zu left", k, v->n - v->pos), NULL;
    const uint8_t *q = v->p + v->pos;
    v->pos += k;
    return q;
}

/* Reads a little-endian unsigned integer of k bytes. */
static int take_uint(vm *v, size_t k, uint64_t *out) {
    const uint8_t *q = take(v, k);
    if (!q) return -1;
    *out = 0;
    for (size_t i = k; i-- > 0;) *out = *out << 8 | q[i];
    return 0;
}

static int push_string(vm *v, pk_type t, size_t len_bytes) {
    uint64_t len;
    if (take_uint(v, len_bytes, &len) != 0) return -1;
    if (len > v->n - v->pos) return fail(v, "string of %llu bytes past the end", (unsigned long long)len);
    if (len > UINT32_MAX) return fail(v, "string of %llu bytes", (unsigned long long)len);
    uint32_t id = new_obj(v, t);
    if (id == NO_OBJ) return -1;
    v->r.obj[id].s = (const char *)take(v, (size_t)len);
    v->r.obj[id].len = (uint32_t)len;
    return push(v, id);
}

static int push_int(vm *v, pk_type t, int64_t value) {
    uint32_t id = new_obj(v, t);
    if (id == NO_OBJ) return -1;
    v->r.obj[id].i = value;
    return push(v, id);
}

/* LONG1 / LONG4: a two's complement little-endian integer; wider than 64 bits: opaque. */
static int push_long(vm *v, size_t len_bytes) {
    uint64_t len;
    if (take_uint(v, len_bytes, &len) != 0) return -1;
    if (len > v->n - v->pos) return fail(v, "integer of %llu bytes past the end", (unsigned long long)len);
    const uint8_t *q = take(v, (size_t)len);
    if (len > 8) return push(v, new_obj(v, PK_OBJECT));
    uint64_t u = 0;
    for (size_t i = (size_t)len; i-- > 0;) u = u << 8 | q[i];
    if (len > 0 && len < 8 && (q[len - 1] & 0x80)) u |= ~0ull << (8 * len);
    return push_int(v, PK_INT, (int64_t)u);
}

static int is_str(const vm *v, uint32_t id, const char *text) {
    const pk_obj *o = &v->r.obj[id];
    return o->type == PK_STR && o->len == strlen(text) && !memcmp(o->s, text, o->len);
}

static int is_global(const pk_obj *o, const char *module, const char *name) {
    return o->type == PK_GLOBAL && o->len == strlen(module) && !memcmp(o->s, module, o->len) &&
           o->len2 == strlen(name) && !memcmp(o->s2, name, o->len2);
}

/* GLOBAL: "module\nname\n". */
static int op_global(vm *v) {
    const char *line[2];
    size_t len[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t *q = v->p + v->pos, *nl = memchr(q, '\n', v->n - v->pos);
        if (!nl) return fail(v, "GLOBAL without its newline");
        line[k] = (const char *)q;
        len[k] = (size_t)(nl - q);
        v->pos += len[k] + 1;
    }
    uint32_t id = new_obj(v, PK_GLOBAL);
    if (id == NO_OBJ) return -1;
    pk_obj *o = &v->r.obj[id];
    o->s = line[0], o->len = (uint32_t)len[0], o->s2 = line[1], o->len2 = (uint32_t)len[1];
    return push(v, id);
}

static int op_stack_global(vm *v) {
    uint32_t name, module;
    if (pop(v, &name) != 0 || pop(v, &module) != 0) return -1;
    const pk_obj *a = &v->r.obj[module], *b = &v->r.obj[name];
    if (a->type != PK_STR || b->type != PK_STR) return fail(v, "STACK_GLOBAL of non-strings");
    uint32_t id = new_obj(v, PK_GLOBAL);
    if (id == NO_OBJ) return -1;
    pk_obj *o = &v->r.obj[id];
    o->s = v->r.obj[module].s, o->len = v->r.obj[module].len;
    o->s2 = v->r.obj[name].s, o->len2 = v->r.obj[name].len;
    return push(v, id);
}

/* BINPERSID: ('storage', torch.<T>Storage, key, location, numel). */
static int op_persid(vm *v) {
    uint32_t pid;
    if (pop(v, &pid) != 0) return -1;
    const pk_obj *t = &v->r.obj[pid];
    if (t->type != PK_TUPLE || t->n != 5 || !is_str(v, t->items[0], "storage"))
        return fail(v, "persistent id is not ('storage', type, key, location, numel)");
    const pk_obj *type = &v->r.obj[t->items[1]], *key = &v->r.obj[t->items[2]], *numel = &v->r.obj[t->items[4]];
    if (type->type != PK_GLOBAL || type->len != 5 || memcmp(type->s, "torch", 5) || type->len2 < 8 ||
        memcmp(type->s2 + type->len2 - 7, "Storage", 7))
        return fail(v, "persistent id: the storage type is not a torch.*Storage");
    if (key->type != PK_STR || key->len == 0 || key->len > 64)
        return fail(v, "persistent id: the storage key is not a string of 1-64 bytes");
    if (numel->type != PK_INT || numel->i < 0) return fail(v, "persistent id: bad element count");
    if (array_grow((void **)&v->r.storages, &v->cap_storages, v->r.n_storages + 1, sizeof *v->r.storages) != 0)
        return nomem(v);
    pk_storage *s = &v->r.storages[v->r.n_storages];
    s->type = type->s2, s->type_len = type->len2, s->key = key->s, s->key_len = key->len, s->numel = numel->i;
    uint32_t id = new_obj(v, PK_STORAGE);
    if (id == NO_OBJ) return -1;
    v->r.obj[id].i = (int64_t)v->r.n_storages++;
    return push(v, id);
}

/* Reads a tuple of ints (each >= 0) into out; its length into *ndim. */
static int int_tuple(vm *v, uint32_t id, const char *what, int64_t *out, size_t *ndim) {
    const pk_obj *t = &v->r.obj[id];
    if (t->type != PK_TUPLE) return fail(v, "_rebuild_tensor_v2: %s is not a tuple", what);
    if (t->n > PK_MAX_DIMS) return fail(v, "_rebuild_tensor_v2: %u dimensions (at most %d)", t->n, PK_MAX_DIMS);
    for (uint32_t k = 0; k < t->n; k++) {
        const pk_obj *e = &v->r.obj[t->items[k]];
        if (e->type != PK_INT || e->i < 0 || e->i > (1ll << 40))
            return fail(v, "_rebuild_tensor_v2: %s[%u] is not an integer in [0, 2^40]", what, k);
        out[k] = e->i;
    }
    *ndim = t->n;
    return 0;
}

/* torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]). */
static uint32_t rebuild_tensor(vm *v, const pk_obj *args) {
    if (args->n < 6 || args->n > 7) return fail(v, "_rebuild_tensor_v2 with %u arguments", args->n), NO_OBJ;
    const pk_obj *st = &v->r.obj[args->items[0]], *off = &v->r.obj[args->items[1]];
    if (st->type != PK_STORAGE) return fail(v, "_rebuild_tensor_v2: the first argument is not a storage"), NO_OBJ;
    if (off->type != PK_INT || off->i < 0 || off->i > (1ll << 40))
        return fail(v, "_rebuild_tensor_v2: bad storage offset"), NO_OBJ;
    pk_tensor t = {.storage = (uint32_t)st->i, .offset = off->i};
    size_t nstride;
    if (int_tuple(v, args->items[2], "size", t.shape, &t.ndim) != 0 ||
        int_tuple(v, args->items[3], "stride", t.stride, &nstride) != 0)
        return NO_OBJ;
    if (nstride != t.ndim)
        return fail(v, "_rebuild_tensor_v2: %zu sizes but %zu strides", t.ndim, nstride), NO_OBJ;
    if (array_grow((void **)&v->r.tensors, &v->cap_tensors, v->r.n_tensors + 1, sizeof *v->r.tensors) != 0)
        return nomem(v), NO_OBJ;
    uint32_t id = new_obj(v, PK_TENSOR);
    if (id == NO_OBJ) return NO_OBJ;
    v->r.tensors[v->r.n_tensors] = t;
    v->r.obj[id].i = (int64_t)v->r.n_tensors++;
    return id;
}

/* REDUCE: OrderedDict() is a dict, _rebuild_tensor_v2 a tensor, _rebuild_parameter
 * its tensor; anything else an opaque object. */
static int op_reduce(vm *v) {
    uint32_t args, fn;
    if (pop(v, &args) != 0 || pop(v, &fn) != 0) return -1;
    const pk_obj *a = &v->r.obj[args], *f = &v->r.obj[fn];
    if (a->type != PK_TUPLE) return fail(v, "REDUCE arguments are not a tuple");
    if (is_global(f, "collections", "OrderedDict") && a->n == 0) return push(v, new_obj(v, PK_DICT));
    if (is_global(f, "torch._utils", "_rebuild_tensor_v2")) return push(v, rebuild_tensor(v, a));
    if (is_global(f, "torch._utils", "_rebuild_parameter") && a->n >= 1 &&
        v->r.obj[a->items[0]].type == PK_TENSOR)
        return push(v, a->items[0]);
    return push(v, new_obj(v, PK_OBJECT));
}

/* APPEND(S) / SETITEM(S) / ADDITEMS on the object below: a list or dict gets the
 * items, an opaque object ignores them. */
static int add_to(vm *v, size_t begin, pk_type want) {
    if (begin == 0 || begin - 1 < floor_of(v)) return fail(v, "no container to add to");
    uint32_t c = v->stack[begin - 1];
    size_t k = v->sp - begin;
    pk_type t = v->r.obj[c].type;
    if (want == PK_DICT && k % 2) return fail(v, "SETITEMS with an odd number of items");
    if (t == want && add_items(v, c, v->stack + begin, k) != 0) return -1;
    if (t != want && t != PK_OBJECT)
        return fail(v, "adding items to a %s", t == PK_TUPLE ? "tuple" : t == PK_DICT ? "dict" : t == PK_LIST ? "list" : "value");
    v->sp = begin;
    return 0;
}

static int memo_put(vm *v, uint64_t idx) {
    uint32_t id;
    if (top(v, &id) != 0) return -1;
    if (idx >= MAX_MEMO || idx > v->n) return fail(v, "memo index %llu too large", (unsigned long long)idx);
    size_t old = v->cap_memo;
    if (idx >= old) {
        if (array_grow((void **)&v->memo, &v->cap_memo, (size_t)idx + 1, sizeof *v->memo) != 0) return nomem(v);
        for (size_t k = old; k < v->cap_memo; k++) v->memo[k] = NO_OBJ;
    }
    if (v->memo[idx] == NO_OBJ) v->memo_len++;
    v->memo[idx] = id;
    return 0;
}

static int memo_get(vm *v, uint64_t idx) {
    if (idx >= v->cap_memo || v->memo[idx] == NO_OBJ)
        return fail(v, "memo index %llu was never set", (unsigned long long)idx);
    return push(v, v->memo[idx]);
}

/* Runs one opcode; 1 at STOP. */
static int step(vm *v) {
    uint64_t u;
    uint32_t a, b;
    size_t begin;
    v->op_at = v->pos;
    const uint8_t *q = take(v, 1);
    if (!q) return -1;
    switch (*q) {
    case 0x80: /* PROTO */
        if (take_uint(v, 1, &u) != 0) return -1;
        return u >= 2 && u <= 5 ? 0 : fail(v, "pickle protocol %llu (2 to 5 are read)", (unsigned long long)u);
    case 0x95: return take(v, 8) ? 0 : -1; /* FRAME */
    case '.': /* STOP */
        if (pop(v, &a) != 0) return -1;
        v->r.root = a;
        return 1;
    case '(':
        if (v->n_marks >= MAX_MARKS) return fail(v, "more than %u nested marks", MAX_MARKS);
        if (array_grow((void **)&v->marks, &v->cap_marks, v->n_marks + 1, sizeof *v->marks) != 0) return nomem(v);
        v->marks[v->n_marks++] = v->sp;
        return 0;
    case '0': return pop(v, &a);
    case '1': return pop_mark(v, &begin) == 0 ? (v->sp = begin, 0) : -1;
    case '2': return top(v, &a) == 0 ? push(v, a) : -1;
    case 'N': return push(v, new_obj(v, PK_NONE));
    case 0x88: return push_int(v, PK_BOOL, 1);
    case 0x89: return push_int(v, PK_BOOL, 0);
    case 'J': return take_uint(v, 4, &u) == 0 ? push_int(v, PK_INT, (int32_t)(uint32_t)u) : -1;
    case 'K': return take_uint(v, 1, &u) == 0 ? push_int(v, PK_INT, (int64_t)u) : -1;
    case 'M': return take_uint(v, 2, &u) == 0 ? push_int(v, PK_INT, (int64_t)u) : -1;
    case 0x8a: return push_long(v, 1);
    case 0x8b: return push_long(v, 4);
    case 'G': {
        if (!(q = take(v, 8))) return -1;
        uint64_t bits = 0;
        for (int k = 0; k < 8; k++) bits = bits << 8 | q[k]; /* big-endian */
        uint32_t id = new_obj(v, PK_FLOAT);
        if (id == NO_OBJ) return -1;
        memcpy(&v->r.obj[id].f, &bits, 8);
        return push(v, id);
    }
    case 'X': case 'T': return push_string(v, PK_STR, 4);
    case 0x8c: case 'U': return push_string(v, PK_STR, 1);
    case 0x8d: return push_string(v, PK_STR, 8);
    case 'C': return push_string(v, PK_BYTES, 1);
    case 'B': return push_string(v, PK_BYTES, 4);
    case 0x8e: return push_string(v, PK_BYTES, 8);
    case ')': return push_container(v, PK_TUPLE, NULL, 0);
    case ']': case 0x8f: return push_container(v, PK_LIST, NULL, 0);
    case '}': return push_container(v, PK_DICT, NULL, 0);
    case 0x85: case 0x86: case 0x87: {
        size_t k = (size_t)(*q - 0x84);
        if (v->sp - floor_of(v) < k) return fail(v, "stack underflow");
        v->sp -= k;
        return push_container(v, PK_TUPLE, v->stack + v->sp, k);
    }
    case 't': case 'l': case 'd': case 0x91: {
        if (pop_mark(v, &begin) != 0) return -1;
        size_t k = v->sp - begin;
        if (*q == 'd' && k % 2) return fail(v, "DICT with an odd number of items");
        v->sp = begin;
        return push_container(v, *q == 't' ? PK_TUPLE : *q == 'd' ? PK_DICT : PK_LIST,
                              k ? v->stack + begin : NULL, k);
    }
    case 'a': return v->sp - floor_of(v) >= 2 ? add_to(v, v->sp - 1, PK_LIST) : fail(v, "stack underflow");
    case 's': return v->sp - floor_of(v) >= 3 ? add_to(v, v->sp - 2, PK_DICT) : fail(v, "stack underflow");
    case 'e': case 0x90: return pop_mark(v, &begin) == 0 ? add_to(v, begin, PK_LIST) : -1;
    case 'u': return pop_mark(v, &begin) == 0 ? add_to(v, begin, PK_DICT) : -1;
    case 'q': return take_uint(v, 1, &u) == 0 ? memo_put(v, u) : -1;
    case 'r': return take_uint(v, 4, &u) == 0 ? memo_put(v, u) : -1;
    case 0x94: return memo_put(v, v->memo_len);
    case 'h': return take_uint(v, 1, &u) == 0 ? memo_get(v, u) : -1;
    case 'j': return take_uint(v, 4, &u) == 0 ? memo_get(v, u) : -1;
    case 'c': return op_global(v);
    case 0x93: return op_stack_global(v);
    case 'R': return op_reduce(v);
    case 'b': return pop(v, &a) == 0 ? top(v, &b) : -1; /* BUILD: the state is dropped */
    case 0x81: /* NEWOBJ */
        if (pop(v, &a) != 0 || pop(v, &b) != 0) return -1;
        return push(v, new_obj(v, PK_OBJECT));
    case 0x92: /* NEWOBJ_EX */
        if (pop(v, &a) != 0 || pop(v, &a) != 0 || pop(v, &b) != 0) return -1;
        return push(v, new_obj(v, PK_OBJECT));
    case 'Q': return op_persid(v);
    default: return fail(v, "unsupported pickle opcode");
    }
}

geoloc_status pk_run(const uint8_t *data, size_t size, const char *where, pk_result *out, geoloc_error *err) {
    vm v = {.p = data, .n = size, .where = where, .err = err};
    memset(out, 0, sizeof *out);
    int rc = 0;
    while (rc == 0) {
        if (v.pos >= v.n) {
            v.op_at = v.pos;
            rc = fail(&v, "the pickle ends without STOP (truncated?)");
            break;
        }
        rc = step(&v);
    }
    free(v.stack);
    free(v.marks);
    free(v.memo);
    if (rc < 0) {
        pk_free(&v.r);
        return err ? err->status : GEOLOC_E_PARSE;
    }
    *out = v.r;
    return GEOLOC_OK;
}

int64_t pk_dict_get(const pk_result *r, uint32_t dict, const char *key) {
    const pk_obj *d = &r->obj[dict];
    size_t len = strlen(key);
    if (d->type != PK_DICT) return -1;
    for (uint32_t k = d->n; k >= 2; k -= 2) { /* the last assignment wins */
        const pk_obj *o = &r->obj[d->items[k - 2]];
        if (o->type == PK_STR && o->len == len && !memcmp(o->s, key, len)) return d->items[k - 1];
    }
    return -1;
}

void pk_free(pk_result *r) {
    for (size_t k = 0; k < r->n_obj; k++) free(r->obj[k].items);
    free(r->obj);
    free(r->storages);
    free(r->tensors);
    memset(r, 0, sizeof *r);
}
