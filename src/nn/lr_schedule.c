/* Learning-rate schedules: closed forms of torch.optim.lr_scheduler's StepLR,
 * MultiStepLR, ExponentialLR and CosineAnnealingLR (PyTorch 1.13), with an
 * optional LinearLR warm-up chained in front (ChainedScheduler), and the
 * parser of their text form. See include/geoloc/optim.h.
 *
 * torch computes these schedules recursively (lr_t = lr_{t-1} * ratio); the
 * closed forms here are its own _get_closed_form_lr expressions, equal to
 * the recursion up to rounding (a few ulp after tens of steps, growing about
 * linearly with t). Chained with LinearLR, every schedule multiplies:
 * lr_t = main(t) * warm(t), except cosine with eta_min > 0, whose recursion
 * (lr - eta_min) * ratio + eta_min does not distribute over the warm-up
 * factor; that case follows torch's two recursions step by step up to W and
 * continues in closed form (after W only the cosine ratio acts, whose
 * product telescopes; from t_max + 1 torch's additive restart formula gives
 * back the plain cosine). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "geoloc/optim.h"

#define LR_PI 3.14159265358979323846 /* M_PI, which strict C17 lacks */
#define LR_MAX_TEXT 1024             /* longest schedule text */
#define LR_MAX_FIELDS 4

/* ---- values -------------------------------------------------------------- */

/* 1 + cos(pi t / T), as torch writes it. */
static double cos_term(long t, long t_max) {
    return 1 + cos(LR_PI * (double)t / (double)t_max);
}

/* Plain cosine annealing (torch's CosineAnnealingLR._get_closed_form_lr). */
static double cosine_closed(const geoloc_lr_schedule *s, long t) {
    return s->eta_min + (s->base_lr - s->eta_min) * cos_term(t, s->t_max) / 2;
}

/* LinearLR's factor: start + (1 - start) * min(W, t) / W (1 without warm-up). */
static double warm_factor(const geoloc_lr_schedule *s, long t) {
    if (s->warmup <= 0) return 1.0;
    long k = t < s->warmup ? t : s->warmup;
    return s->warmup_start + (1.0 - s->warmup_start) * (double)k / (double)s->warmup;
}

/* Cosine with eta_min > 0 after a warm-up W <= t_max, t <= t_max: torch's
 * ChainedScheduler([LinearLR, CosineAnnealingLR]) recursion up to W, then
 * lr - eta_min scaled by the telescoped cosine ratio. */
static double cosine_warm(const geoloc_lr_schedule *s, long t) {
    const double f = s->warmup_start, eta = s->eta_min;
    const long w = s->warmup, tm = s->t_max;
    long upto = t < w ? t : w;
    double x = s->base_lr * f; /* t = 0: LinearLR scales, the cosine keeps */
    for (long k = 1; k <= upto; k++) {
        x = x * (1. + (1.0 - f) / ((double)w * f + (double)(k - 1) * (1.0 - f)));
        x = cos_term(k, tm) / cos_term(k - 1, tm) * (x - eta) + eta;
    }
    if (t <= w) return x;
    return eta + (x - eta) * (cos_term(t, tm) / cos_term(w, tm));
}

double geoloc_lr_at(const geoloc_lr_schedule *s, long t) {
    if (t < 0) t = 0;
    double value;
    switch (s->kind) {
    case GEOLOC_LR_STEP:
        value = s->base_lr * pow(s->gamma, (double)(t / s->step_size));
        break;
    case GEOLOC_LR_MULTISTEP: {
        int passed = 0;
        while (passed < s->n_milestones && s->milestones[passed] <= t) passed++;
        value = s->base_lr * pow(s->gamma, passed);
        break;
    }
    case GEOLOC_LR_EXP:
        value = s->base_lr * pow(s->gamma, (double)t);
        break;
    case GEOLOC_LR_COSINE:
        if (s->warmup > 0 && s->eta_min != 0 && t <= s->t_max) return cosine_warm(s, t);
        value = cosine_closed(s, t);
        break;
    case GEOLOC_LR_CONSTANT:
    default:
        value = s->base_lr;
        break;
    }
    return s->warmup > 0 ? value * warm_factor(s, t) : value;
}

/* ---- checking ------------------------------------------------------------ */

/* Writes a message to msg and returns status. */
__attribute__((format(printf, 4, 5)))
static geoloc_status say(char *msg, size_t size, geoloc_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    return status;
}

/* Checks s; on failure msg says which field is wrong. */
static geoloc_status check(const geoloc_lr_schedule *s, char *msg, size_t size) {
    if (!isfinite(s->base_lr) || s->base_lr < 0)
        return say(msg, size, GEOLOC_E_RANGE, "base learning rate %g must be a finite number >= 0",
                   s->base_lr);
    switch (s->kind) {
    case GEOLOC_LR_CONSTANT:
        break;
    case GEOLOC_LR_STEP:
        if (s->step_size <= 0)
            return say(msg, size, GEOLOC_E_RANGE, "step size %ld must be > 0", s->step_size);
        break;
    case GEOLOC_LR_MULTISTEP:
        if (s->n_milestones < 1 || s->n_milestones > GEOLOC_LR_MAX_MILESTONES)
            return say(msg, size, GEOLOC_E_RANGE, "%d milestones (must be 1 to %d)", s->n_milestones,
                       GEOLOC_LR_MAX_MILESTONES);
        for (int k = 0; k < s->n_milestones; k++) {
            if (s->milestones[k] <= 0)
                return say(msg, size, GEOLOC_E_RANGE, "milestone %ld must be > 0", s->milestones[k]);
            if (k > 0 && s->milestones[k] <= s->milestones[k - 1])
                return say(msg, size, GEOLOC_E_RANGE, "milestones must increase: %ld after %ld",
                           s->milestones[k], s->milestones[k - 1]);
        }
        break;
    case GEOLOC_LR_EXP:
        break;
    case GEOLOC_LR_COSINE:
        if (s->t_max <= 0) return say(msg, size, GEOLOC_E_RANGE, "T_max %ld must be > 0", s->t_max);
        if (!isfinite(s->eta_min) || s->eta_min < 0)
            return say(msg, size, GEOLOC_E_RANGE, "eta_min %g must be a finite number >= 0", s->eta_min);
        if (s->warmup > s->t_max)
            return say(msg, size, GEOLOC_E_RANGE,
                       "a warm-up of %ld steps longer than the cosine's T_max %ld is not supported",
                       s->warmup, s->t_max);
        break;
    default:
        return say(msg, size, GEOLOC_E_ARG, "unknown schedule kind %d", (int)s->kind);
    }
    if (s->kind == GEOLOC_LR_STEP || s->kind == GEOLOC_LR_MULTISTEP || s->kind == GEOLOC_LR_EXP) {
        if (!isfinite(s->gamma) || s->gamma <= 0)
            return say(msg, size, GEOLOC_E_RANGE, "gamma %g must be a finite number > 0", s->gamma);
    }
    if (s->warmup < 0)
        return say(msg, size, GEOLOC_E_RANGE, "warm-up steps %ld must be >= 0", s->warmup);
    if (s->warmup > 0 && !(s->warmup_start > 0 && s->warmup_start <= 1))
        return say(msg, size, GEOLOC_E_RANGE, "warm-up start factor %g must be in (0, 1]",
                   s->warmup_start);
    return GEOLOC_OK;
}

geoloc_status geoloc_lr_schedule_check(const geoloc_lr_schedule *s, geoloc_error *err) {
    if (!s) return error_set(err, GEOLOC_E_ARG, "lr schedule: none");
    char msg[300];
    geoloc_status st = check(s, msg, sizeof msg);
    return st == GEOLOC_OK ? st : error_set(err, st, "lr schedule: %s", msg);
}

/* ---- parsing ------------------------------------------------------------- */

/* The parse in progress: the option's name and the whole text, for messages. */
typedef struct lr_parser {
    const char *what, *text;
    geoloc_error *err;
} lr_parser;

/* Fails with `WHAT: "TEXT": <message>`. */
__attribute__((format(printf, 3, 4)))
static geoloc_status fail(const lr_parser *ps, geoloc_status status, const char *fmt, ...) {
    char msg[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(ps->err, status, "%s: \"%.120s%s\": %s", ps->what, ps->text,
                     strlen(ps->text) > 120 ? "..." : "", msg);
}

/* A positive decimal integer of digits only, or 0 when s is not one. */
static long positive_int(const char *s) {
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    errno = 0;
    long v = strtol(s, NULL, 10);
    return errno || v <= 0 ? 0 : v;
}

/* A finite decimal number into *v (no spaces, nothing after it). */
static int finite_number(const char *s, double *v) {
    if (!*s || isspace((unsigned char)*s)) return 0;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end == '\0' && isfinite(*v);
}

/* Parses a positive integer field named `name` into *out. */
static geoloc_status int_field(const lr_parser *ps, const char *name, const char *field, long *out) {
    *out = positive_int(field);
    if (*out == 0) return fail(ps, GEOLOC_E_PARSE, "%s \"%s\" is not a positive integer", name, field);
    return GEOLOC_OK;
}

/* Parses a number field named `name` into *out, > 0 when positive, else >= 0. */
static geoloc_status num_field(const lr_parser *ps, const char *name, const char *field, int positive,
                               double *out) {
    if (!finite_number(field, out))
        return fail(ps, GEOLOC_E_PARSE, "%s \"%s\" is not a number", name, field);
    if (positive ? !(*out > 0) : !(*out >= 0))
        return fail(ps, GEOLOC_E_RANGE, "%s \"%s\" must be %s", name, field, positive ? "> 0" : ">= 0");
    return GEOLOC_OK;
}

/* Splits s in place at each sep into at most max fields; returns their count
 * (max + 1 when there are more). */
static int split(char *s, char sep, char **fields, int max) {
    int n = 0;
    for (;;) {
        if (n == max) return max + 1;
        fields[n++] = s;
        char *c = strchr(s, sep);
        if (!c) return n;
        *c = '\0';
        s = c + 1;
    }
}

/* Parses the comma-separated milestones of a multistep schedule. */
static geoloc_status milestones_field(const lr_parser *ps, char *field, geoloc_lr_schedule *s) {
    char *m[GEOLOC_LR_MAX_MILESTONES];
    int n = split(field, ',', m, GEOLOC_LR_MAX_MILESTONES);
    if (n > GEOLOC_LR_MAX_MILESTONES)
        return fail(ps, GEOLOC_E_RANGE, "more than %d milestones", GEOLOC_LR_MAX_MILESTONES);
    for (int k = 0; k < n; k++) {
        geoloc_status st = int_field(ps, "milestone", m[k], &s->milestones[k]);
        if (st != GEOLOC_OK) return st;
        if (k > 0 && s->milestones[k] <= s->milestones[k - 1])
            return fail(ps, GEOLOC_E_RANGE, "milestones must increase: %ld after %ld", s->milestones[k],
                        s->milestones[k - 1]);
    }
    s->n_milestones = n;
    return GEOLOC_OK;
}

/* Syntax of each kind, for messages. */
static const char *const lr_usage[] = {
    [GEOLOC_LR_CONSTANT] = "constant",
    [GEOLOC_LR_STEP] = "step:N[:GAMMA]",
    [GEOLOC_LR_MULTISTEP] = "multistep:M1,M2,...[:GAMMA]",
    [GEOLOC_LR_EXP] = "exp:GAMMA",
    [GEOLOC_LR_COSINE] = "cosine:T_MAX[:ETA_MIN]",
};

/* Parses the main schedule (the text before any +warmup), split at ':'. */
static geoloc_status parse_main(const lr_parser *ps, char *text, geoloc_lr_schedule *s) {
    char *f[LR_MAX_FIELDS];
    int n = split(text, ':', f, LR_MAX_FIELDS);
    static const char *const names[] = {"constant", "step", "multistep", "exp", "cosine"};
    int kind = -1;
    for (int k = 0; k < 5; k++)
        if (strcmp(f[0], names[k]) == 0) kind = k;
    if (kind < 0)
        return fail(ps, GEOLOC_E_PARSE,
                    "unknown schedule \"%s\" (expected constant, step:N[:GAMMA], "
                    "multistep:M1,M2,...[:GAMMA], exp:GAMMA or cosine:T_MAX[:ETA_MIN], "
                    "then optionally +warmup:W[:START_FACTOR])",
                    f[0]);
    s->kind = (geoloc_lr_kind)kind;
    int min_fields = kind == GEOLOC_LR_CONSTANT ? 1 : 2;
    int max_fields = kind == GEOLOC_LR_CONSTANT ? 1 : kind == GEOLOC_LR_EXP ? 2 : 3;
    if (n < min_fields)
        return fail(ps, GEOLOC_E_PARSE, "\"%s\" needs its parameters (%s)", f[0], lr_usage[kind]);
    if (n > max_fields)
        return fail(ps, GEOLOC_E_PARSE, "too many parameters for \"%s\" (%s)", f[0], lr_usage[kind]);
    geoloc_status st = GEOLOC_OK;
    switch (s->kind) {
    case GEOLOC_LR_CONSTANT:
        break;
    case GEOLOC_LR_STEP:
        st = int_field(ps, "step size", f[1], &s->step_size);
        if (st == GEOLOC_OK && n == 3) st = num_field(ps, "gamma", f[2], 1, &s->gamma);
        break;
    case GEOLOC_LR_MULTISTEP:
        st = milestones_field(ps, f[1], s);
        if (st == GEOLOC_OK && n == 3) st = num_field(ps, "gamma", f[2], 1, &s->gamma);
        break;
    case GEOLOC_LR_EXP:
        st = num_field(ps, "gamma", f[1], 1, &s->gamma);
        break;
    case GEOLOC_LR_COSINE:
        st = int_field(ps, "T_max", f[1], &s->t_max);
        if (st == GEOLOC_OK && n == 3) st = num_field(ps, "eta_min", f[2], 0, &s->eta_min);
        break;
    }
    return st;
}

/* Parses the warm-up suffix (the text after '+'): warmup:W[:START_FACTOR]. */
static geoloc_status parse_warmup(const lr_parser *ps, char *suffix, geoloc_lr_schedule *s) {
    char shown[64];
    snprintf(shown, sizeof shown, "+%s", suffix);
    char *f[LR_MAX_FIELDS];
    int n = split(suffix, ':', f, LR_MAX_FIELDS);
    if (strcmp(f[0], "warmup") != 0)
        return fail(ps, GEOLOC_E_PARSE, "unknown suffix \"%s\" (expected +warmup:W[:START_FACTOR])",
                    shown);
    if (n < 2 || n > 3)
        return fail(ps, GEOLOC_E_PARSE, "\"%s\" is not +warmup:W[:START_FACTOR]", shown);
    geoloc_status st = int_field(ps, "warm-up steps", f[1], &s->warmup);
    if (st != GEOLOC_OK || n == 2) return st;
    if (!finite_number(f[2], &s->warmup_start))
        return fail(ps, GEOLOC_E_PARSE, "warm-up start factor \"%s\" is not a number", f[2]);
    if (!(s->warmup_start > 0 && s->warmup_start <= 1))
        return fail(ps, GEOLOC_E_RANGE, "warm-up start factor \"%s\" must be in (0, 1]", f[2]);
    return GEOLOC_OK;
}

geoloc_status geoloc_lr_schedule_parse(const char *text, double base_lr, const char *what,
                                       geoloc_lr_schedule *out, geoloc_error *err) {
    lr_parser ps = {what ? what : "lr schedule", text ? text : "", err};
    if (!out) return error_set(err, GEOLOC_E_ARG, "%s: no output", ps.what);
    if (!text || !*text)
        return fail(&ps, GEOLOC_E_PARSE,
                    "empty schedule (expected e.g. constant, step:5:0.5, multistep:30,60:0.1, exp:0.95, "
                    "cosine:100)");
    size_t len = strlen(text);
    if (len >= LR_MAX_TEXT)
        return fail(&ps, GEOLOC_E_PARSE, "longer than %d characters", LR_MAX_TEXT - 1);
    char copy[LR_MAX_TEXT];
    memcpy(copy, text, len + 1);
    geoloc_lr_schedule s;
    memset(&s, 0, sizeof s);
    s.base_lr = base_lr;
    s.gamma = 0.1;              /* torch's StepLR / MultiStepLR default */
    s.warmup_start = 1.0 / 3.0; /* torch's LinearLR default */
    /* the suffix starts at a '+' followed by a letter (a '+' in "1e+5" is followed by a digit) */
    char *suffix = NULL;
    for (char *c = copy; *c; c++) {
        if (*c == '+' && isalpha((unsigned char)c[1])) {
            if (suffix)
                return fail(&ps, GEOLOC_E_PARSE,
                            "more than one +suffix (only +warmup:W[:START_FACTOR])");
            suffix = c;
        }
    }
    if (suffix) *suffix++ = '\0';
    geoloc_status st = parse_main(&ps, copy, &s);
    if (st == GEOLOC_OK && suffix) st = parse_warmup(&ps, suffix, &s);
    if (st != GEOLOC_OK) return st;
    char msg[300];
    st = check(&s, msg, sizeof msg);
    if (st != GEOLOC_OK) return fail(&ps, st, "%s", msg);
    *out = s;
    return GEOLOC_OK;
}

/* ---- formatting ---------------------------------------------------------- */

/* Appends to buf (size bytes) at *len, as snprintf; *len counts what would be written. */
__attribute__((format(printf, 4, 5)))
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*len < size ? buf + *len : NULL, *len < size ? size - *len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) *len += (size_t)n;
}

/* Appends v in the fewest significant digits that read back as v. */
static void append_number(char *buf, size_t size, size_t *len, double v) {
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) break;
    }
    append(buf, size, len, "%s", tmp);
}

size_t geoloc_lr_schedule_format(const geoloc_lr_schedule *s, char *buf, size_t size) {
    size_t len = 0;
    if (size > 0) buf[0] = '\0';
    switch (s->kind) {
    case GEOLOC_LR_STEP:
        append(buf, size, &len, "step:%ld:", s->step_size);
        append_number(buf, size, &len, s->gamma);
        break;
    case GEOLOC_LR_MULTISTEP:
        append(buf, size, &len, "multistep:");
        for (int k = 0; k < s->n_milestones && k < GEOLOC_LR_MAX_MILESTONES; k++)
            append(buf, size, &len, "%s%ld", k ? "," : "", s->milestones[k]);
        append(buf, size, &len, ":");
        append_number(buf, size, &len, s->gamma);
        break;
    case GEOLOC_LR_EXP:
        append(buf, size, &len, "exp:");
        append_number(buf, size, &len, s->gamma);
        break;
    case GEOLOC_LR_COSINE:
        append(buf, size, &len, "cosine:%ld:", s->t_max);
        append_number(buf, size, &len, s->eta_min);
        break;
    case GEOLOC_LR_CONSTANT:
    default:
        append(buf, size, &len, "constant");
        break;
    }
    if (s->warmup > 0) {
        append(buf, size, &len, "+warmup:%ld:", s->warmup);
        append_number(buf, size, &len, s->warmup_start);
    }
    return len;
}
