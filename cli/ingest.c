/*
 * ingest.c — `framelake ingest SOURCE ...`: bringing files into a table. Today the one source is
 * `images` (a folder of JPEGs, fl_ingest_images); bdd100k, synthetic and JSONL arrive with issue 3.
 * Prints one summary line on stdout and, unless --quiet, one line per file not added on stderr.
 */
#include "commands.h"

#include "framelake.h"

#include <stdio.h>
#include <string.h>

const option_spec ingest_opts[] = {{"recursive", false}, {"split", true}, {"mode", true},  {"strict", false},
                                   {"commit-every", true}, {"quiet", false}, {NULL, false}};

static void print_file(void *ctx, fl_ingest_outcome outcome, const char *path, const char *message) {
    (void)ctx;
    (void)path;
    fprintf(stderr, "%s: %s\n", outcome == FL_INGEST_FAILED ? "failed" : "skipped", message);
}

static int ingest_images(const args *a) {
    fl_ingest_options o = {.split = args_get(a, "split"), .recursive = args_flag(a, "recursive"), .strict = args_flag(a, "strict")};
    const char *mode = args_get(a, "mode");
    if (!mode || !strcmp(mode, "skip-existing")) o.mode = FL_INGEST_SKIP_EXISTING;
    else if (!strcmp(mode, "append")) o.mode = FL_INGEST_APPEND;
    else if (!strcmp(mode, "overwrite")) o.mode = FL_INGEST_OVERWRITE;
    else {
        fprintf(stderr, "framelake: --mode must be skip-existing, append or overwrite, not '%s'\n", mode);
        return 2;
    }
    uint64_t every = 0;
    if (!args_u64(a, "commit-every", &every, NULL)) return 2;
    if (every > INT64_MAX) every = INT64_MAX;
    o.commit_every = (int64_t)every;
    if (!args_flag(a, "quiet")) o.on_file = print_file;

    fl_error err = {0};
    fl_db *db;
    if (fl_db_open(a->positional[1], FL_OPEN_CREATE, &db, &err) != FL_OK) {
        fprintf(stderr, "framelake: error: %s\n", err.message);
        return 1;
    }
    fl_ingest_report r;
    int rc = fl_ingest_images(db, a->positional[2], a->positional[3], &o, &r, &err);
    fl_db_close(db);
    if (rc != FL_OK) {
        fprintf(stderr, "framelake: error: %s\n", err.message[0] ? err.message : fl_strerror(rc));
        if (r.commits > 0)
            fprintf(stderr, "framelake: %lld images were committed before the error (version %llu)\n", (long long)r.added,
                    (unsigned long long)r.version);
        return 1;
    }
    printf("ingested %lld images (%lld skipped, %lld failed): version %llu\n", (long long)r.added, (long long)(r.skipped + r.duplicates),
           (long long)r.failed, (unsigned long long)r.version);
    return 0;
}

int cmd_ingest(const args *a) {
    if (!strcmp(a->positional[0], "images")) {
        if (a->n_positional != 4) {
            fprintf(stderr, "framelake ingest images: expected DB TABLE DIR\nusage: framelake ingest images DB TABLE DIR [--recursive] "
                            "[--split S] [--mode skip-existing|append|overwrite] [--strict] [--commit-every N] [--quiet]\n");
            return 2;
        }
        return ingest_images(a);
    }
    fprintf(stderr, "framelake ingest: unknown source '%s' (available: images)\n", a->positional[0]);
    return 2;
}
