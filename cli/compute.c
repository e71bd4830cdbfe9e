/*
 * compute.c — `framelake backfill` (compute a UDF column for the rows that lack it) and `framelake udf list`.
 */
#include "commands.h"

#include "framelake.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

const option_spec backfill_opts[] = {{"udf", true},   {"checkpoint-size", true}, {"overwrite", false},
                                     {"on-error", true}, {"quiet", false},       {NULL, false}};

static void progress(void *ctx, int64_t done, int64_t total) {
    (void)ctx;
    fprintf(stderr, "\r\033[Kbackfill: %lld/%lld rows scanned", (long long)done, (long long)total);
    fflush(stderr);
}

int cmd_backfill(const args *a) {
    const char *udf = args_get(a, "udf");
    if (!udf) {
        fprintf(stderr, "framelake backfill: --udf NAME is required (see framelake udf list)\n");
        return 2;
    }
    fl_backfill_options o = {.overwrite = args_flag(a, "overwrite")};
    uint64_t every = 0;
    if (!args_u64(a, "checkpoint-size", &every, NULL)) return 2;
    o.checkpoint_rows = every > INT64_MAX ? INT64_MAX : (int64_t)every;
    const char *on_error = args_get(a, "on-error");
    if (on_error && strcmp(on_error, "fail") != 0 && strcmp(on_error, "null") != 0) {
        fprintf(stderr, "framelake: --on-error must be fail or null, not '%s'\n", on_error);
        return 2;
    }
    o.on_error_null = on_error && !strcmp(on_error, "null");
    bool bar = !args_flag(a, "quiet") && isatty(2);
    if (bar) o.on_progress = progress;
    fl_error err = {0};
    fl_db *db;
    if (fl_db_open(a->positional[0], 0, &db, &err) != FL_OK) {
        fprintf(stderr, "framelake: error: %s\n", err.message);
        return 1;
    }
    fl_backfill_report r;
    int rc = fl_backfill(db, a->positional[1], a->positional[2], udf, &o, &r, &err);
    fl_db_close(db);
    if (bar) fputs("\r\033[K", stderr);
    if (rc != FL_OK) {
        fprintf(stderr, "framelake: error: %s\n", err.message[0] ? err.message : fl_strerror(rc));
        if (r.checkpoints > 0)
            fprintf(stderr, "framelake: %lld rows in %lld checkpoints were committed before the error (version %llu)\n", (long long)r.computed,
                    (long long)r.checkpoints, (unsigned long long)r.version);
        return 1;
    }
    printf("backfilled '%s' with udf %s%s: %lld computed, %lld skipped, %lld failed, %lld checkpoints: version %llu\n", a->positional[2], udf,
           r.stale ? " (stale: recomputed)" : "", (long long)r.computed, (long long)r.skipped, (long long)r.failed, (long long)r.checkpoints,
           (unsigned long long)r.version);
    return 0;
}

int cmd_udf(const args *a) {
    if (strcmp(a->positional[0], "list") != 0) {
        fprintf(stderr, "framelake udf: unknown subcommand '%s' (available: list)\n", a->positional[0]);
        return 2;
    }
    printf("%-22s %-8s %-26s %s\n", "name", "version", "output", "inputs");
    for (int i = 0; i < fl_udf_count(); i++) {
        const char *name, *inputs, *output, *description;
        int version;
        fl_udf_info(i, &name, &inputs, &output, &version, &description);
        printf("%-22s %-8d %-26s %s\n%-22s %s\n", name, version, output, inputs, "", description);
    }
    return 0;
}
