/*
 * index.c — `framelake index create|update|list|drop`: scalar, full-text and vector index management
 * (include/framelake.h, "Scalar indexes").
 */
#include "commands.h"

#include "framelake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const option_spec index_opts[] = {{"type", true},      {"name", true},       {"version", true},    {"stem", true},
                                  {"stopwords", true}, {"positions", false}, {"metric", true},     {"partitions", true},
                                  {"sub-vectors", true}, {"store-vectors", true}, {NULL, false}};

static int fail(const fl_error *err) {
    fprintf(stderr, "framelake: error: %s\n", err->message[0] ? err->message : fl_strerror(err->code));
    return 1;
}

static int usage(const char *msg) {
    fprintf(stderr, "framelake index: %s\nusage: %s\n", msg, INDEX_USAGE);
    return 2;
}

static int index_list(fl_table *t) {
    fl_error err = {0};
    fl_index_info *list;
    size_t n;
    if (fl_index_list(t, &list, &n, &err) != FL_OK) return fail(&err);
    printf("%-20s %-10s %-20s %-8s %s\n", "name", "type", "column", "created", "fragments");
    for (size_t i = 0; i < n; i++)
        printf("%-20s %-10s %-20s %-8llu %u/%u\n", list[i].name, list[i].type, list[i].column, (unsigned long long)list[i].created_version,
               list[i].fragments_covered, list[i].fragments_total);
    fl_index_info_free(list, n);
    return 0;
}

int cmd_index(const args *a) {
    const char *sub = a->positional[0];
    bool create = !strcmp(sub, "create"), update = !strcmp(sub, "update"), list = !strcmp(sub, "list"), drop = !strcmp(sub, "drop");
    if (!create && !update && !list && !drop) {
        fprintf(stderr, "framelake index: unknown subcommand '%s' (available: create, update, list, drop)\n", sub);
        return 2;
    }
    if ((create || drop) && a->n_positional != 4) return usage(create ? "create needs DB TABLE COLUMN" : "drop needs DB TABLE NAME");
    if (list && a->n_positional != 3) return usage("list needs DB TABLE");
    const char *type = args_get(a, "type");
    if (create && !type) return usage("--type btree|bitmap|label_list|fts|ivf_pq|ivf_flat|hamming is required");
    static const char *const types[] = {"btree", "bitmap", "label_list", "fts", "ivf_pq", "ivf_flat", "hamming"};
    bool known = false;
    for (int i = 0; type && i < 7; i++) known = known || !strcmp(type, types[i]);
    if (type && !known) {
        fprintf(stderr, "framelake: --type must be btree, bitmap, label_list, fts, ivf_pq, ivf_flat or hamming, not '%s'\n", type);
        return 2;
    }
    if (!create && (type || args_get(a, "name"))) return usage("--type and --name go with create");
    bool fts_opts = args_get(a, "stem") || args_get(a, "stopwords") || args_flag(a, "positions");
    if (fts_opts && (!type || strcmp(type, "fts"))) return usage("--stem, --stopwords and --positions go with create --type fts");
    bool ivf = type && (!strcmp(type, "ivf_pq") || !strcmp(type, "ivf_flat"));
    bool ivf_opts = args_get(a, "metric") || args_get(a, "partitions") || args_get(a, "sub-vectors") || args_get(a, "store-vectors");
    if (ivf_opts && !ivf) return usage("--metric, --partitions, --sub-vectors and --store-vectors go with create --type ivf_pq|ivf_flat");
    if ((args_get(a, "sub-vectors") || args_get(a, "store-vectors")) && strcmp(type, "ivf_pq"))
        return usage("--sub-vectors and --store-vectors go with --type ivf_pq");
    fl_kv params[4];
    size_t n_params = 0;
    if (args_get(a, "metric")) params[n_params++] = (fl_kv){"metric", (char *)args_get(a, "metric")};
    if (args_get(a, "partitions")) params[n_params++] = (fl_kv){"partitions", (char *)args_get(a, "partitions")};
    if (args_get(a, "sub-vectors")) params[n_params++] = (fl_kv){"sub_vectors", (char *)args_get(a, "sub-vectors")};
    if (args_get(a, "store-vectors")) params[n_params++] = (fl_kv){"store_vectors", (char *)args_get(a, "store-vectors")};
    if (args_get(a, "stem")) params[n_params++] = (fl_kv){"stem", (char *)args_get(a, "stem")};
    if (args_get(a, "stopwords")) params[n_params++] = (fl_kv){"stopwords", (char *)args_get(a, "stopwords")};
    if (args_flag(a, "positions")) params[n_params++] = (fl_kv){"positions", "true"};
    fl_open_options oo = {0};
    bool has_version = false;
    if (!args_u64(a, "version", &oo.version, &has_version)) return 2;
    if (has_version && (!list || oo.version == 0)) return usage(list ? "--version must be at least 1" : "--version goes with list");
    fl_error err = {0};
    fl_db *db;
    fl_table *t;
    if (fl_db_open(a->positional[1], 0, &db, &err) != FL_OK) return fail(&err);
    if (fl_table_open(db, a->positional[2], &oo, &t, &err) != FL_OK) {
        fl_db_close(db);
        return fail(&err);
    }
    int rc = 0;
    if (list) rc = index_list(t);
    else if (create) {
        const char *name = args_get(a, "name");
        char fallback[300];
        snprintf(fallback, sizeof fallback, "%s_idx", a->positional[3]);
        for (char *c = fallback; *c; c++) /* "title,caption" gives title_caption_idx */
            if (*c == ',') *c = '_';
            else if (*c == ' ') memmove(c, c + 1, strlen(c)), c--;
        if (fl_index_create_with(t, a->positional[3], type, name, params, n_params, &err) != FL_OK) rc = fail(&err);
        else printf("created index '%s' (%s on %s): version %llu\n", name ? name : fallback, type, a->positional[3], (unsigned long long)fl_table_version(t));
    } else if (update) {
        uint64_t before = fl_table_version(t);
        const char *name = a->n_positional > 3 ? a->positional[3] : NULL;
        if (fl_index_update(t, name, &err) != FL_OK) rc = fail(&err);
        else if (fl_table_version(t) == before) printf("%s current: version %llu\n", name ? "index is" : "indexes are", (unsigned long long)before);
        else printf("updated %s: version %llu\n", name ? name : "every index", (unsigned long long)fl_table_version(t));
    } else {
        if (fl_index_drop(t, a->positional[3], &err) != FL_OK) rc = fail(&err);
        else printf("dropped index '%s': version %llu\n", a->positional[3], (unsigned long long)fl_table_version(t));
    }
    fl_table_close(t);
    fl_db_close(db);
    return rc;
}
