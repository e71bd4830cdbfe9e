/*
 * ingest.c — `framelake ingest SOURCE ...` (images, bdd100k, synthetic) and `framelake synthesize DIR`.
 *
 * Output: one summary line on stdout (deterministic, so scripts and tests can compare it); on stderr,
 * unless --quiet: the first lines of each kind of problem, a progress bar (on a terminal) or a periodic
 * plain line (otherwise), and a closing line with the time and rate.
 */
#include "commands.h"

#include "framelake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROBLEM_LINES 20        /* problem lines shown per kind before "... and N more" */

const option_spec ingest_opts[] = {{"recursive", false}, {"split", true},   {"mode", true},    {"strict", false}, {"commit-every", true},
                                   {"quiet", false},     {"table", true},   {"root", true},    {"splits", true},  {"limit", true},
                                   {"threads", true},    {"n", true},       {"seed", true},    {"size", true},    {"quality", true},
                                   {NULL, false}};

const option_spec synthesize_opts[] = {{"n", true},    {"seed", true},    {"split", true},   {"size", true},
                                       {"quality", true}, {"first", true}, {"threads", true}, {NULL, false}};

/* ---- reporting ---- */

typedef struct reporter {
    bool quiet, tty;
    double start, last;
    int64_t shown[6], more[6];  /* per fl_ingest_outcome */
    bool bar_drawn;
    bool periodic;              /* a plain progress line was printed (not a terminal) */
} reporter;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void clear_bar(reporter *r) {
    if (r->bar_drawn) fputs("\r\033[K", stderr);
    r->bar_drawn = false;
}

static const char *outcome_word(fl_ingest_outcome o) {
    switch (o) {
    case FL_INGEST_SKIPPED_EXISTING:
    case FL_INGEST_DUPLICATE: return "skipped";
    case FL_INGEST_MISSING: return "missing";
    case FL_INGEST_LABEL_SKIPPED: return "label skipped";
    default: return "failed";
    }
}

static void on_file(void *ctx, fl_ingest_outcome outcome, const char *path, const char *message) {
    reporter *r = ctx;
    (void)path;
    int k = (int)outcome >= 1 && (int)outcome <= 5 ? (int)outcome : 3;
    if (r->shown[k] >= PROBLEM_LINES) {
        r->more[k]++;
        return;
    }
    r->shown[k]++;
    clear_bar(r);
    fprintf(stderr, "%s: %s\n", outcome_word(outcome), message);
}

static void format_eta(double seconds, char *buf, size_t size) {
    if (seconds < 0 || seconds > 1e7) snprintf(buf, size, "?");
    else snprintf(buf, size, "%d:%02d", (int)seconds / 60, (int)seconds % 60);
}

static void on_progress(void *ctx, const fl_ingest_progress *p) {
    reporter *r = ctx;
    double t = now_s();
    if (!p->finished && t - r->last < (r->tty ? 0.1 : 5.0)) return;
    r->last = t;
    double elapsed = t - r->start > 1e-9 ? t - r->start : 1e-9;
    double rate = (double)p->done / elapsed, mbs = (double)p->bytes_added / 1e6 / elapsed;
    int64_t total = p->total >= p->done ? p->total : -1;
    char eta[32];
    format_eta(total > 0 && rate > 0 ? (double)(total - p->done) / rate : -1, eta, sizeof eta);
    if (r->tty) {
        char bar[31];
        int filled = total > 0 ? (int)(30 * p->done / (total ? total : 1)) : 0;
        for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
        bar[30] = 0;
        fprintf(stderr, "\r\033[K[%s] %lld/%lld frames  %.1f frames/s  %.1f MB/s  ETA %s", bar, (long long)p->done, (long long)total, rate, mbs,
                eta);
        r->bar_drawn = true;
        if (p->finished) clear_bar(r);
    } else if (!p->finished) {
        r->periodic = true;
        fprintf(stderr, "ingest: %lld/%lld frames, %.1f frames/s, %.1f MB/s, ETA %s\n", (long long)p->done, (long long)total, rate, mbs, eta);
    }
    fflush(stderr);
}

static void reporter_init(reporter *r, const args *a, fl_ingest_options *o) {
    memset(r, 0, sizeof *r);
    r->quiet = args_flag(a, "quiet");
    r->tty = isatty(2);
    r->start = r->last = now_s();
    if (r->quiet) return;
    o->on_file = on_file;
    o->on_file_ctx = r;
    o->on_progress = on_progress;
    o->on_progress_ctx = r;
}

/* The "... and N more" lines, and on a terminal (or after periodic lines) the time and rate. */
static void reporter_done(reporter *r, const fl_ingest_report *rep) {
    if (r->quiet) return;
    clear_bar(r);
    for (int k = 1; k <= 5; k++)
        if (r->more[k] > 0) fprintf(stderr, "%s: ... and %lld more\n", outcome_word((fl_ingest_outcome)k), (long long)r->more[k]);
    if (!r->tty && !r->periodic) return;
    double elapsed = now_s() - r->start;
    if (elapsed < 1e-9) elapsed = 1e-9;
    fprintf(stderr, "framelake: %lld rows, %.1f MB in %.2f s (%.1f rows/s, %.1f MB/s)\n", (long long)rep->added, (double)rep->bytes_added / 1e6,
            elapsed, (double)rep->added / elapsed, (double)rep->bytes_added / 1e6 / elapsed);
}

/* ---- options ---- */

/* The index of --name's value among names[0..n) (absent: 0, the default); false with a usage message if
 * it is none of them ("--mode must be skip-existing, append or overwrite, not 'x'"). */
static bool choice(const args *a, const char *name, const char *const *names, int n, int *out) {
    const char *v = args_get(a, name);
    *out = 0;
    if (!v) return true;
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) {
            *out = i;
            return true;
        }
    fprintf(stderr, "framelake: --%s must be ", name);
    for (int i = 0; i < n; i++) fprintf(stderr, "%s%s", names[i], i + 2 < n ? ", " : i + 1 < n ? " or " : "");
    fprintf(stderr, ", not '%s'\n", v);
    return false;
}

static int parse_common(const args *a, fl_ingest_options *o) {
    memset(o, 0, sizeof *o);
    o->strict = args_flag(a, "strict");
    static const char *const modes[] = {"skip-existing", "append", "overwrite"}; /* FL_INGEST_* order */
    if (!choice(a, "mode", modes, 3, &o->mode)) return 2;
    uint64_t every = 0, limit = 0, threads = 0;
    if (!args_u64(a, "commit-every", &every, NULL) || !args_u64(a, "limit", &limit, NULL) || !args_u64(a, "threads", &threads, NULL)) return 2;
    if (threads > 64) {
        fprintf(stderr, "framelake: --threads must be at most 64\n");
        return 2;
    }
    o->commit_every = every > INT64_MAX ? INT64_MAX : (int64_t)every;
    o->limit = limit > INT64_MAX ? INT64_MAX : (int64_t)limit;
    o->threads = (int)threads;
    return 0;
}

static int parse_synthetic(const args *a, fl_synthetic_options *s) {
    memset(s, 0, sizeof *s);
    uint64_t n = 0, seed = 0, quality = 0;
    bool have_n = false;
    if (!args_u64(a, "n", &n, &have_n) || !args_u64(a, "seed", &seed, NULL) || !args_u64(a, "quality", &quality, NULL)) return 2;
    if (!have_n) {
        fprintf(stderr, "framelake: --n (the number of frames) is required\n");
        return 2;
    }
    if (n > INT64_MAX || quality > 100) {
        fprintf(stderr, "framelake: --n is too large or --quality is above 100\n");
        return 2;
    }
    s->n = (int64_t)n;
    s->seed = seed;
    s->quality = (int)quality;
    static const char *const splits[] = {"mixed", "train", "val"};
    static const int split_modes[] = {FL_SYNTHETIC_MIXED, FL_SYNTHETIC_TRAIN, FL_SYNTHETIC_VAL};
    int k;
    if (!choice(a, "split", splits, 3, &k)) return 2;
    s->split = split_modes[k];
    const char *size = args_get(a, "size");
    if (size) {
        int w = 0, h = 0;
        char tail;
        if (sscanf(size, "%dx%d%c", &w, &h, &tail) != 2 || w <= 0 || h <= 0) {
            fprintf(stderr, "framelake: --size must be WIDTHxHEIGHT (e.g. 1280x720), not '%s'\n", size);
            return 2;
        }
        s->width = w;
        s->height = h;
    }
    return 0;
}

static int open_db(const char *path, fl_db **db) {
    fl_error err = {0};
    if (fl_db_open(path, FL_OPEN_CREATE, db, &err) != FL_OK) {
        fprintf(stderr, "framelake: error: %s\n", err.message);
        return 1;
    }
    return 0;
}

static int finish(int rc, const fl_error *err, const fl_ingest_report *r, reporter *rp, const char *unit, const char *table) {
    if (rc != FL_OK) {
        clear_bar(rp);
        fprintf(stderr, "framelake: error: %s\n", err->message[0] ? err->message : fl_strerror(rc));
        if (r->commits > 0)
            fprintf(stderr, "framelake: %lld %s were committed before the error (version %llu)\n", (long long)r->added, unit,
                    (unsigned long long)r->version);
        return 1;
    }
    reporter_done(rp, r);
    if (!strcmp(unit, "images")) {
        printf("ingested %lld images (%lld skipped, %lld failed): version %llu\n", (long long)r->added, (long long)(r->skipped + r->duplicates),
               (long long)r->failed, (unsigned long long)r->version);
        return 0;
    }
    printf("ingested %lld frames into '%s' (%lld skipped, %lld failed, %lld missing images, %lld labels skipped, %lld unlabeled): version %llu\n",
           (long long)r->added, table, (long long)(r->skipped + r->duplicates), (long long)r->failed, (long long)r->missing,
           (long long)r->labels_skipped, (long long)r->unlabeled, (unsigned long long)r->version);
    return 0;
}

/* ---- sources ---- */

static int ingest_images(const args *a) {
    fl_ingest_options o;
    if (parse_common(a, &o)) return 2;
    o.split = args_get(a, "split");
    o.recursive = args_flag(a, "recursive");
    reporter rp;
    reporter_init(&rp, a, &o);
    fl_db *db;
    if (open_db(a->positional[1], &db)) return 1;
    fl_error err = {0};
    fl_ingest_report r;
    int rc = fl_ingest_images(db, a->positional[2], a->positional[3], &o, &r, &err);
    fl_db_close(db);
    return finish(rc, &err, &r, &rp, "images", a->positional[2]);
}

static int ingest_bdd100k(const args *a) {
    const char *root = args_get(a, "root");
    if (!root) {
        fprintf(stderr, "framelake ingest bdd100k: --root DIR is required (the extracted download, or the folder holding its zips)\n");
        return 2;
    }
    fl_ingest_options o;
    if (parse_common(a, &o)) return 2;
    o.splits = args_get(a, "splits");
    reporter rp;
    reporter_init(&rp, a, &o);
    const char *table = args_get(a, "table") ? args_get(a, "table") : "bdd100k";
    fl_db *db;
    if (open_db(a->positional[1], &db)) return 1;
    fl_error err = {0};
    fl_ingest_report r;
    int rc = fl_ingest_bdd100k(db, table, root, &o, &r, &err);
    fl_db_close(db);
    return finish(rc, &err, &r, &rp, "frames", table);
}

static int ingest_synthetic(const args *a) {
    fl_ingest_options o;
    fl_synthetic_options s;
    if (parse_common(a, &o) || parse_synthetic(a, &s)) return 2;
    reporter rp;
    reporter_init(&rp, a, &o);
    const char *table = args_get(a, "table") ? args_get(a, "table") : "bdd100k";
    fl_db *db;
    if (open_db(a->positional[1], &db)) return 1;
    fl_error err = {0};
    fl_ingest_report r;
    int rc = fl_ingest_synthetic(db, table, &s, &o, &r, &err);
    fl_db_close(db);
    return finish(rc, &err, &r, &rp, "frames", table);
}

int cmd_ingest(const args *a) {
    static const struct {
        const char *name;
        int n_positional;
        const char *usage;
        int (*run)(const args *);
    } sources[] = {
        {"images", 4, "framelake ingest images DB TABLE DIR [--recursive] [--split S] [--mode M] [--strict] [--commit-every N] [--threads N] [--quiet]",
         ingest_images},
        {"bdd100k", 2,
         "framelake ingest bdd100k DB --root DIR [--table bdd100k] [--splits train,val,test] [--limit N] [--mode M] [--strict] "
         "[--commit-every N] [--threads N] [--quiet]",
         ingest_bdd100k},
        {"synthetic", 2,
         "framelake ingest synthetic DB --n N [--table bdd100k] [--seed S] [--split train|val|mixed] [--size WxH] [--quality Q] "
         "[--commit-every N] [--threads N] [--quiet]",
         ingest_synthetic},
    };
    for (size_t i = 0; i < sizeof sources / sizeof *sources; i++) {
        if (strcmp(a->positional[0], sources[i].name) != 0) continue;
        if (a->n_positional != sources[i].n_positional) {
            fprintf(stderr, "framelake ingest %s: expected %s\nusage: %s\n", sources[i].name, sources[i].n_positional == 4 ? "DB TABLE DIR" : "DB",
                    sources[i].usage);
            return 2;
        }
        return sources[i].run(a);
    }
    fprintf(stderr, "framelake ingest: unknown source '%s' (available: images, bdd100k, synthetic)\n", a->positional[0]);
    return 2;
}

int cmd_synthesize(const args *a) {
    fl_synthetic_options s;
    if (parse_synthetic(a, &s)) return 2;
    uint64_t first = 0, threads = 0;
    if (!args_u64(a, "first", &first, NULL) || !args_u64(a, "threads", &threads, NULL)) return 2;
    fl_error err = {0};
    double start = now_s();
    if (fl_synthetic_export(a->positional[0], &s, first, threads > 64 ? 64 : (int)threads, &err) != FL_OK) {
        fprintf(stderr, "framelake: error: %s\n", err.message);
        return 1;
    }
    double elapsed = now_s() - start;
    printf("wrote %lld synthetic frames to %s\n", (long long)s.n, a->positional[0]);
    fprintf(stderr, "framelake: %.2f s (%.1f frames/s)\n", elapsed, (double)s.n / (elapsed > 1e-9 ? elapsed : 1e-9));
    return 0;
}
