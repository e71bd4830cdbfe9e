/*
 * bdd100k.c — fl_ingest_bdd100k: a BDD100K download (extracted, or its zips read in place) into a footage
 * table (the contract is in framelake.h; the layouts in docs/INGEST.md).
 *
 * A run goes: find the inputs → for each split, index its images (name → where) → stream its label file
 * frame by frame, submitting one task per frame (its image looked up in the index) → submit the split's
 * images that no label named → the pipeline's workers read each image (a file, or a zip member through
 * the worker's own zip handle) and check its JPEG header → the sink takes them in order and commits.
 *
 * Inputs are found by path suffix, the same way for both forms, so a zip's "bdd100k/" prefix (or none)
 * does not matter:
 *   images   .../images/100k/<split>/<name>.jpg
 *   labels   .../det_20/det_<split>.json (det_20), else .../bdd100k_labels_images_<split>.json (the older
 *            per-image release)
 * An extracted root is listed only where these can be (images/100k/<split>/, labels/, labels/det_20/, and
 * the same under bdd100k/), never walked as a whole: a full download also holds segmentation maps.
 *
 * Invariants:
 *  1. Memory holds the image index (a name and a location per image) and, from the labels, one frame per
 *     pipeline slot; it does not grow with the label file's size.
 *  2. A zip_t is used by one thread only: the calling thread has its own, each worker opens its own.
 */
#include "bdd.h"
#include "sink.h"

#include "../common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#define MAX_ZIPS 16

static const char *const SPLITS[] = {"train", "val", "test"};
enum { N_SPLITS = 3 };

/* Where one input lives: a file (zip < 0) or a member of zips[zip]. */
typedef struct location {
    int zip;
    uint64_t member;
    char *path;                 /* file: its path; zip member: its name in the zip; owned */
    int64_t size;
} location;

typedef struct image_entry {
    char *name;                 /* "<id>.jpg" as in the labels; owned */
    int dir;                    /* its folder (with the trailing '/'): g->dirs[dir]; at.path is NULL */
    location at;
    bool labeled;               /* a label entry of this run named it */
} image_entry;

typedef struct split_inputs {
    image_entry *images;        /* sorted by name */
    size_t n_images, cap_images;
    location labels;            /* labels.path NULL: none */
    bool old_format;
} split_inputs;

typedef struct bdd_run {
    const char *root;
    const fl_ingest_options *o;
    fl_sink *sink;
    fl_error *err;
    char *zip_paths[MAX_ZIPS];
    zip_t *zips[MAX_ZIPS];      /* the calling thread's handles */
    int n_zips;
    split_inputs splits[N_SPLITS];
    char **dirs;                /* the folders images are in (file paths or zip member prefixes) */
    size_t n_dirs, cap_dirs;
    bool wanted[N_SPLITS];
    /* the task stream */
    int split;                  /* the split being submitted */
    int phase;                  /* 0: open its labels, 1: labelled frames, 2: unlabelled images, 3: done */
    size_t next_image;
    fl_bdd_reader *reader;
    int label_fd;
    zip_file_t *label_zf;
    const char *label_what;     /* names the label file in messages */
    char label_what_buf[1024];
    int warn_rc;                /* a strict run's label problem, and its message */
    fl_error warn_err;
} bdd_run;

static int oom(bdd_run *g) { return fl_error_set(g->err, FL_ENOMEM, "ingest bdd100k: out of memory"); }

static const char *location_what(const bdd_run *g, const location *at, char *buf, size_t size) {
    if (at->zip < 0) return at->path;
    snprintf(buf, size, "%s:%s", g->zip_paths[at->zip], at->path);
    return buf;
}

/* ---- finding the inputs ---- */

static int split_index(const char *s, size_t n) {
    for (int i = 0; i < N_SPLITS; i++)
        if (strlen(SPLITS[i]) == n && !memcmp(SPLITS[i], s, n)) return i;
    return -1;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* The index of directory prefix path[0..len) in g->dirs, added if new; -1 on OOM. Images share their
 * folder's prefix, so the index holds only a name per image. */
static int intern_dir(bdd_run *g, const char *path, size_t len) {
    for (size_t i = g->n_dirs; i-- > 0;)
        if (strlen(g->dirs[i]) == len && !memcmp(g->dirs[i], path, len)) return (int)i;
    if (!fl_reserve((void **)&g->dirs, &g->cap_dirs, g->n_dirs + 1, sizeof *g->dirs, 8)) return -1;
    if (!(g->dirs[g->n_dirs] = fl_strndup(path, len))) return -1;
    return (int)g->n_dirs++;
}

/* Offers one input (a relative path inside a zip or below the root) to the classifier. */
static int offer(bdd_run *g, const char *path, location at) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    /* an image: .../images/100k/<split>/<name>.jpg */
    const char *img = strstr(path, "images/100k/");
    if (img && (img == path || img[-1] == '/') && fl_jpeg_stem_length(base) > 0 && base[0] != '.') {
        const char *s = img + strlen("images/100k/");
        const char *slash = strchr(s, '/');
        int k = slash && slash + 1 == base ? split_index(s, (size_t)(slash - s)) : -1;
        if (k < 0) return FL_OK;
        split_inputs *sp = &g->splits[k];
        if (!fl_reserve((void **)&sp->images, &sp->cap_images, sp->n_images + 1, sizeof *sp->images, 1024)) return oom(g);
        int dir = intern_dir(g, path, (size_t)(base - path));
        char *name = dir >= 0 ? fl_strdup(base) : NULL;
        if (!name) return oom(g);
        sp->images[sp->n_images++] = (image_entry){.name = name, .dir = dir, .at = at};
        return FL_OK;
    }
    /* a label file */
    for (int k = 0; k < 2; k++) {
        char det20[64], old[64];
        snprintf(det20, sizeof det20, "det_20/det_%s.json", SPLITS[k]);
        snprintf(old, sizeof old, "bdd100k_labels_images_%s.json", SPLITS[k]);
        bool is_det20 = ends_with(path, det20), is_old = !strcmp(base, old);
        if (!is_det20 && !is_old) continue;
        split_inputs *sp = &g->splits[k];
        if (sp->labels.path && (!sp->old_format || is_old)) return FL_OK; /* det_20 wins; the first of a kind wins */
        char *p = fl_strdup(path);
        if (!p) return oom(g);
        fl_free(sp->labels.path);
        at.path = p;
        sp->labels = at;
        sp->old_format = is_old;
    }
    return FL_OK;
}

/* Lists dir (relative to the root) and offers its regular files. A missing directory is fine. */
static int offer_dir(bdd_run *g, const char *rel) {
    char *dir = fl_sprintf("%s/%s", g->root, rel);
    if (!dir) return oom(g);
    char **names = NULL;
    size_t n = 0;
    fl_error why = {0};
    int rc = fl_list_dir_sorted(dir, &names, &n, &why);
    if (rc == FL_ENOTFOUND || (rc != FL_OK && rc != FL_ENOMEM && access(dir, F_OK) != 0)) rc = FL_OK, n = 0;
    else if (rc == FL_ENOMEM) rc = oom(g);
    else if (rc != FL_OK) rc = fl_error_set(g->err, rc, "ingest bdd100k: %s", why.message);
    for (size_t i = 0; i < n && rc == FL_OK; i++) {
        char *path = fl_sprintf("%s/%s", dir, names[i]);
        if (!path) {
            rc = oom(g);
            break;
        }
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) rc = offer(g, path, (location){.zip = -1, .size = (int64_t)st.st_size});
        fl_free(path);
    }
    fl_strings_free(names, n);
    fl_free(dir);
    return rc;
}

static int zip_fail(bdd_run *g, const char *path, int code, const char *what) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    int rc = fl_error_set(g->err, FL_EIO, "ingest bdd100k: %s: %s: %s", path, what, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return rc;
}

/* Opens a zip and offers its members. */
static int offer_zip(bdd_run *g, const char *path) {
    if (g->n_zips == MAX_ZIPS) return fl_error_set(g->err, FL_EINVAL, "ingest bdd100k: more than %d zip files in %s", MAX_ZIPS, g->root);
    int code = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &code);
    if (!z) return zip_fail(g, path, code, "cannot open zip");
    int k = g->n_zips;
    g->zips[k] = z;
    if (!(g->zip_paths[k] = fl_strdup(path))) {
        zip_discard(z);
        g->zips[k] = NULL;
        return oom(g);
    }
    g->n_zips++;
    zip_int64_t n = zip_get_num_entries(z, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z, (zip_uint64_t)i, ZIP_FL_ENC_GUESS);
        zip_stat_t st;
        if (!name || zip_stat_index(z, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE)) continue;
        if (name[0] && name[strlen(name) - 1] == '/') continue; /* a directory entry */
        FL_RETURN_NOT_OK(offer(g, name, (location){.zip = k, .member = (uint64_t)i, .size = (int64_t)st.size}));
    }
    return FL_OK;
}

static int compare_images(const void *a, const void *b) { return strcmp(((const image_entry *)a)->name, ((const image_entry *)b)->name); }

static int find_inputs(bdd_run *g) {
    struct stat st;
    if (stat(g->root, &st) != 0) return fl_error_set(g->err, FL_ENOTFOUND, "ingest bdd100k: %s: %s", g->root, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return fl_error_set(g->err, FL_EINVAL, "ingest bdd100k: %s is not a directory", g->root);
    static const char *const prefixes[] = {"", "bdd100k/"};
    for (int p = 0; p < 2; p++) {
        char rel[256];
        for (int k = 0; k < N_SPLITS; k++) {
            snprintf(rel, sizeof rel, "%simages/100k/%s", prefixes[p], SPLITS[k]);
            FL_RETURN_NOT_OK(offer_dir(g, rel));
        }
        snprintf(rel, sizeof rel, "%slabels", prefixes[p]);
        FL_RETURN_NOT_OK(offer_dir(g, rel));
        snprintf(rel, sizeof rel, "%slabels/det_20", prefixes[p]);
        FL_RETURN_NOT_OK(offer_dir(g, rel));
    }
    /* the downloaded zips, read in place */
    char **names = NULL;
    size_t n = 0;
    fl_error why = {0};
    int rc = fl_list_dir_sorted(g->root, &names, &n, &why);
    if (rc != FL_OK) return rc == FL_ENOMEM ? oom(g) : fl_error_set(g->err, rc, "ingest bdd100k: %s", why.message);
    for (size_t i = 0; i < n && rc == FL_OK; i++) {
        size_t len = strlen(names[i]);
        if (len < 5 || strcasecmp(names[i] + len - 4, ".zip") != 0) continue;
        char *path = fl_sprintf("%s/%s", g->root, names[i]);
        rc = path ? offer_zip(g, path) : oom(g);
        fl_free(path);
    }
    fl_strings_free(names, n);
    if (rc != FL_OK) return rc;
    bool any = false;
    for (int k = 0; k < N_SPLITS; k++) {
        split_inputs *sp = &g->splits[k];
        if (sp->n_images > 1) qsort(sp->images, sp->n_images, sizeof *sp->images, compare_images);
        any = any || sp->n_images > 0 || sp->labels.path;
    }
    if (!any)
        return fl_error_set(g->err, FL_ENOTFOUND,
                            "ingest bdd100k: no BDD100K images or labels in %s (expected images/100k/{train,val,test}/*.jpg and "
                            "labels/det_20/det_{train,val}.json, or bdd100k_images_100k.zip and bdd100k_det_20_labels_trainval.zip)",
                            g->root);
    return FL_OK;
}

static image_entry *find_image(split_inputs *sp, const char *name) {
    size_t lo = 0, hi = sp->n_images;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sp->images[mid].name, name);
        if (c == 0) return &sp->images[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ---- reading inputs ---- */

typedef struct worker {
    bdd_run *g;
    zip_t *zips[MAX_ZIPS];
} worker;

static int worker_init(void *ctx, void **state, fl_error *err) {
    (void)err;
    worker *w = fl_calloc(1, sizeof *w);
    if (!w) return fl_error_set(err, FL_ENOMEM, "ingest bdd100k: out of memory");
    w->g = ctx;
    *state = w;
    return FL_OK;
}

static void worker_fini(void *state) {
    worker *w = state;
    for (int i = 0; i < MAX_ZIPS; i++)
        if (w->zips[i]) zip_discard(w->zips[i]);
    fl_free(w);
}

/* Reads a zip member into the item (failing the item on a problem). */
static int read_member(worker *w, int k, uint64_t member, int64_t size, fl_ingest_item *item) {
    if (!w->zips[k]) {
        int code = 0;
        if (!(w->zips[k] = zip_open(w->g->zip_paths[k], ZIP_RDONLY, &code)))
            return fl_item_fail(item, FL_EIO, "%s: cannot open zip (error %d)", item->source, code);
    }
    if (size > FL_MAX_IMAGE_BYTES)
        return fl_item_fail(item, FL_EINVAL, "%s: member too large (%lld bytes)", item->source, (long long)size);
    if (!fl_item_reserve(item, (size_t)size + 1)) return fl_item_fail(item, FL_ENOMEM, "%s: out of memory", item->source);
    zip_file_t *zf = zip_fopen_index(w->zips[k], member, 0);
    if (!zf) return fl_item_fail(item, FL_EIO, "%s: cannot open member: %s", item->source, zip_strerror(w->zips[k]));
    zip_int64_t got = zip_fread(zf, item->bytes, (zip_uint64_t)size + 1);
    int rc = FL_OK;
    if (got < 0) rc = fl_item_fail(item, FL_ECORRUPT, "%s: cannot read member: %s", item->source, zip_file_strerror(zf));
    else if (got != size)
        rc = fl_item_fail(item, FL_ECORRUPT, "%s: member has %lld bytes, the zip directory says %lld", item->source, (long long)got,
                          (long long)size);
    else item->size = (size_t)got;
    zip_fclose(zf);
    return rc;
}

static int produce(void *ctx, void *state, fl_ingest_item *item, fl_error *err) {
    (void)ctx, (void)err;
    worker *w = state;
    if (item->archive < 0) {
        if (fl_item_read_file(item, item->source) != FL_OK) return FL_OK;
    } else if (read_member(w, item->archive, item->member, item->expected_size, item) != FL_OK || item->outcome) {
        return FL_OK;
    }
    return fl_item_check_jpeg(item);
}

/* ---- the label stream ---- */

static int64_t read_fd(void *ctx, void *buf, size_t size, const char **why) {
    bdd_run *g = ctx;
    for (;;) {
        ssize_t r = read(g->label_fd, buf, size);
        if (r >= 0) return r;
        if (errno != EINTR) {
            *why = strerror(errno);
            return -1;
        }
    }
}

static int64_t read_zip(void *ctx, void *buf, size_t size, const char **why) {
    bdd_run *g = ctx;
    zip_int64_t r = zip_fread(g->label_zf, buf, size);
    if (r < 0) *why = zip_file_strerror(g->label_zf);
    return r;
}

static int on_warning(void *ctx, const char *message) {
    bdd_run *g = ctx;
    int rc = fl_sink_notice(g->sink, FL_INGEST_LABEL_SKIPPED, FL_EINVAL, g->label_what, "%s", message);
    if (rc != FL_OK) { /* strict: the sink's message ("strict: ...") is the run's error, whatever the reader then says */
        g->warn_rc = rc;
        if (g->err) g->warn_err = *g->err;
    }
    return rc;
}

static void close_labels(bdd_run *g) {
    fl_bdd_reader_free(g->reader);
    g->reader = NULL;
    if (g->label_fd >= 0) close(g->label_fd);
    g->label_fd = -1;
    if (g->label_zf) zip_fclose(g->label_zf);
    g->label_zf = NULL;
}

static int open_labels(bdd_run *g, split_inputs *sp) {
    const location *at = &sp->labels;
    g->label_what = location_what(g, at, g->label_what_buf, sizeof g->label_what_buf);
    fl_read_fn fn;
    if (at->zip < 0) {
        if ((g->label_fd = open(at->path, O_RDONLY | O_CLOEXEC)) < 0)
            return fl_error_set(g->err, FL_EIO, "ingest bdd100k: %s: %s", at->path, strerror(errno));
        fn = read_fd;
    } else {
        if (!(g->label_zf = zip_fopen_index(g->zips[at->zip], at->member, 0)))
            return fl_error_set(g->err, FL_EIO, "ingest bdd100k: %s: %s", g->label_what, zip_strerror(g->zips[at->zip]));
        fn = read_zip;
    }
    return fl_bdd_reader_open(g->label_what, fn, g, on_warning, g, &g->reader, g->err);
}

/* Fills the slot with an image task. */
static bool image_task(bdd_run *g, fl_ingest_item *slot, const image_entry *im, int split, int *rc) {
    size_t stem = fl_jpeg_stem_length(im->name);
    slot->image_id = fl_strndup(im->name, stem ? stem : strlen(im->name));
    slot->source = im->at.zip < 0 ? fl_sprintf("%s%s", g->dirs[im->dir], im->name)
                                  : fl_sprintf("%s:%s%s", g->zip_paths[im->at.zip], g->dirs[im->dir], im->name);
    slot->split = SPLITS[split];
    if (!slot->image_id || !slot->source) {
        *rc = oom(g);
        return false;
    }
    slot->archive = im->at.zip;
    slot->member = im->at.member;
    slot->expected_size = im->at.size;
    if (g->o->mode == FL_INGEST_SKIP_EXISTING && fl_sink_exists(g->sink, slot->image_id)) slot->outcome = FL_INGEST_SKIPPED_EXISTING;
    return true;
}

static bool next_task(void *ctx, fl_ingest_item *slot, int *rc) {
    bdd_run *g = ctx;
    while (g->split < N_SPLITS) {
        split_inputs *sp = &g->splits[g->split];
        if (!g->wanted[g->split]) g->phase = 3;
        if (g->phase == 0) {
            g->phase = 2;
            if (sp->labels.path && g->split < 2) {
                if ((*rc = open_labels(g, sp)) != FL_OK) return false;
                g->phase = 1;
            }
            g->next_image = 0;
        }
        if (g->phase == 1) {
            bool got = false;
            *rc = fl_bdd_reader_next(g->reader, &slot->frame, &got, g->err);
            if (*rc != FL_OK) {
                if (g->warn_rc != FL_OK) {
                    *rc = g->warn_rc;
                    if (g->err) *g->err = g->warn_err;
                }
                return false;
            }
            if (got) {
                image_entry *im = find_image(sp, slot->frame.name);
                slot->labeled = true;
                if (!im) {
                    size_t stem = fl_jpeg_stem_length(slot->frame.name);
                    slot->image_id = fl_strndup(slot->frame.name, stem ? stem : strlen(slot->frame.name));
                    slot->source = fl_strdup(g->label_what);
                    slot->split = SPLITS[g->split];
                    if (!slot->image_id || !slot->source) {
                        *rc = oom(g);
                        return false;
                    }
                    slot->outcome = FL_INGEST_MISSING;
                    slot->code = FL_ENOTFOUND;
                    snprintf(slot->message, sizeof slot->message, "%s: byte %llu: frame '%s': no image %s in images/100k/%s/",
                             g->label_what, (unsigned long long)fl_bdd_reader_frame_offset(g->reader), slot->frame.name,
                             slot->frame.name, SPLITS[g->split]);
                    return true;
                }
                im->labeled = true;
                return image_task(g, slot, im, g->split, rc);
            }
            close_labels(g);
            g->phase = 2;
        }
        if (g->phase == 2) {
            while (g->next_image < sp->n_images && sp->images[g->next_image].labeled) g->next_image++;
            if (g->next_image < sp->n_images) {
                const image_entry *im = &sp->images[g->next_image++];
                slot->no_label_entry = sp->labels.path != NULL && g->split < 2;
                return image_task(g, slot, im, g->split, rc);
            }
            g->phase = 3;
        }
        g->split++;
        g->phase = 0;
    }
    return false;
}

/* One pass over every input: the strict pre-check, or the real run. */
static int run_pass(void *ctx) {
    bdd_run *g = ctx;
    fl_pipeline_def def = {.produce = produce, .ctx = g, .init = worker_init, .fini = worker_fini, .threads = g->o->threads};
    g->split = 0;
    g->phase = 0;
    g->warn_rc = FL_OK;
    for (int k = 0; k < N_SPLITS; k++)
        for (size_t i = 0; i < g->splits[k].n_images; i++) g->splits[k].images[i].labeled = false;
    int rc = fl_ingest_run(&def, g->sink, next_task, g, g->err);
    close_labels(g);
    return rc;
}

static int parse_splits(bdd_run *g) {
    const char *s = g->o->splits;
    if (!s || !*s) {
        for (int k = 0; k < N_SPLITS; k++) g->wanted[k] = true;
        return FL_OK;
    }
    while (*s) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        int k = split_index(s, n);
        if (k < 0) return fl_error_set(g->err, FL_EINVAL, "ingest bdd100k: unknown split '%.*s' (expected train, val or test)", (int)n, s);
        g->wanted[k] = true;
        s += n + (end ? 1 : 0);
    }
    return FL_OK;
}

int fl_ingest_bdd100k(fl_db *db, const char *table, const char *root, const fl_ingest_options *opts, fl_ingest_report *report,
                      fl_error *err) {
    fl_ingest_report local_report;
    if (!report) report = &local_report;
    memset(report, 0, sizeof *report);
    if (!db || !table || !root) return fl_error_set(err, FL_EINVAL, "ingest bdd100k: db, table and root are required");
    fl_ingest_options defaults = {0};
    bdd_run g = {.root = root, .o = opts ? opts : &defaults, .err = err, .label_fd = -1};
    int rc = parse_splits(&g);
    if (rc == FL_OK) rc = find_inputs(&g);
    if (rc == FL_OK) rc = fl_sink_open(db, table, "ingest bdd100k", FL_FOOTAGE_SCHEMA, true, false, g.o, report, err, &g.sink);
    if (rc == FL_OK) {
        int64_t inputs = 0, bytes = 0;
        for (int k = 0; k < N_SPLITS; k++) {
            if (!g.wanted[k]) continue;
            inputs += (int64_t)g.splits[k].n_images;
            for (size_t i = 0; i < g.splits[k].n_images; i++) bytes += g.splits[k].images[i].at.size;
        }
        rc = fl_sink_run(g.sink, inputs, bytes, run_pass, &g);
    }
    fl_sink_free(g.sink);
    for (int k = 0; k < N_SPLITS; k++) {
        split_inputs *sp = &g.splits[k];
        for (size_t i = 0; i < sp->n_images; i++) {
            fl_free(sp->images[i].name);
        }
        fl_free(sp->images);
        fl_free(sp->labels.path);
    }
    fl_strings_free(g.dirs, g.n_dirs);
    for (int i = 0; i < g.n_zips; i++) {
        zip_discard(g.zips[i]);
        fl_free(g.zip_paths[i]);
    }
    if (rc != FL_OK && err && (err->code != rc || !err->message[0]))
        fl_error_set(err, rc, "ingest bdd100k: %s into table '%s': %s", root, table, fl_strerror(rc));
    return rc;
}
