/*
 * cleanup.c — removing old versions and files nothing references any more.
 *
 * Order matters for crash safety: manifests of removed versions go first (after that nobody can open
 * them), then the files only they referenced. Files no manifest references at all (left by failed or
 * crashed commits) are removed only when older than the grace period, because a commit in flight has
 * written its files but not yet its manifest. For the same reason a version superseded less than the
 * grace period ago stays: a writer that saw it as the latest may still be creating its successor.
 */
#include "table.h"

#include <stdlib.h>

typedef struct path_set {
    char **items;
    size_t n, cap;
} path_set;

static int set_add(path_set *s, const char *p) {
    if (!fl_reserve((void **)&s->items, &s->cap, s->n + 1, sizeof *s->items, 64)) return FL_ENOMEM;
    if (!(s->items[s->n] = fl_strdup(p))) return FL_ENOMEM;
    s->n++;
    return FL_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool set_has(const path_set *s, const char *p) {
    return s->n && bsearch(&p, s->items, s->n, sizeof *s->items, cmp_str) != NULL;
}

static int add_manifest_files(path_set *s, const fl_manifest *m) {
    for (uint32_t i = 0; i < m->n_fragments; i++) {
        const fl_fragment *f = &m->fragments[i];
        for (uint32_t k = 0; k < f->n_files; k++) FL_RETURN_NOT_OK(set_add(s, f->files[k].path));
        if (f->deletion_path) FL_RETURN_NOT_OK(set_add(s, f->deletion_path));
    }
    for (uint32_t i = 0; i < m->n_indexes; i++)
        for (uint32_t k = 0; k < m->indexes[i].n_files; k++) FL_RETURN_NOT_OK(set_add(s, m->indexes[i].files[k]));
    return FL_OK;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int fl_table_cleanup(fl_table *t, const fl_cleanup_options *opts, fl_cleanup_stats *stats, fl_error *err) {
    int64_t older_than = opts ? opts->older_than_ms : -1;
    int64_t keep_n = opts && opts->keep_versions > 0 ? opts->keep_versions : 0;
    int64_t grace = opts && opts->grace_ms >= 0 ? opts->grace_ms : FL_DEFAULT_GRACE_MS;
    int64_t now = fl_now_ms();
    fl_cleanup_stats st = {0};
    fl_version_info *versions = NULL;
    fl_tag_info *tags = NULL;
    size_t n_versions = 0, n_tags = 0;
    path_set keep = {0}, doomed = {0};
    uint64_t *tagged = NULL;
    bool *kept = NULL;
    int rc = fl_table_list_versions(t, &versions, &n_versions, err);
    if (rc == FL_OK) rc = fl_table_list_tags(t, &tags, &n_tags, err);
    if (rc != FL_OK || n_versions == 0) goto done;
    if (!(tagged = fl_calloc(n_tags + 1, sizeof *tagged)) || !(kept = fl_calloc(n_versions, sizeof *kept))) goto oom;
    for (size_t i = 0; i < n_tags; i++) tagged[i] = tags[i].version;
    qsort(tagged, n_tags, sizeof *tagged, cmp_u64);
    uint64_t latest = versions[n_versions - 1].version;
    for (size_t i = 0; i < n_versions; i++) {
        uint64_t v = versions[i].version;
        bool is_tagged = n_tags && bsearch(&v, tagged, n_tags, sizeof *tagged, cmp_u64);
        bool recent = (int64_t)(n_versions - i) <= keep_n;
        bool young = older_than >= 0 && versions[i].timestamp_ms > now - older_than;
        /* A writer that saw v as the latest may still be committing v+1 (see FL_COMMIT_ATTEMPT_MS): v stays
         * until it has been superseded for the grace period. Its successor's time bounds that moment. */
        bool superseded_recently = i + 1 < n_versions && versions[i + 1].timestamp_ms > now - grace;
        kept[i] = v == latest || is_tagged || recent || young || superseded_recently || v == t->m->version;
        fl_manifest *m;
        rc = fl_table_load_manifest(t, v, &m, err);
        if (rc == FL_ENOTFOUND) { /* a concurrent cleanup got there first */
            fl_error_clear(err);
            rc = FL_OK;
            continue;
        }
        if (rc != FL_OK) goto done;
        rc = add_manifest_files(kept[i] ? &keep : &doomed, m);
        fl_manifest_free(m);
        if (rc != FL_OK) goto oom;
    }
    if (keep.n) qsort(keep.items, keep.n, sizeof *keep.items, cmp_str);
    if (doomed.n) qsort(doomed.items, doomed.n, sizeof *doomed.items, cmp_str);
    for (size_t i = 0; i < n_versions; i++) {
        if (kept[i]) continue;
        char *p = fl_sprintf("%s/_versions/%020llu.manifest", t->dir, (unsigned long long)versions[i].version);
        if (!p) goto oom;
        rc = fl_io_delete(p, err);
        fl_free(p);
        if (rc != FL_OK) goto done;
        st.versions_removed++;
    }
    if (st.versions_removed) {
        char *vdir = fl_table_path(t, "_versions");
        if (!vdir) goto oom;
        rc = fl_io_sync_dir(vdir, err);
        fl_free(vdir);
        if (rc != FL_OK) goto done;
    }
    /* Data directories hold garbage of any name; the others only leftovers of interrupted writes. */
    static const char *dirs[] = {"data", "_deletions", "_indexes", "_versions", "_tags", "."};
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        char *dir = fl_table_path(t, dirs[d]);
        char **names = NULL;
        size_t n = 0;
        if (!dir) goto oom;
        if (!fl_io_exists(dir)) {
            fl_free(dir);
            continue;
        }
        rc = fl_io_list(dir, &names, &n, err);
        for (size_t i = 0; rc == FL_OK && i < n; i++) {
            bool tmp = strncmp(names[i], ".tmp-", 5) == 0;
            if (d >= 3 && !tmp) continue;
            char *rel = d == 5 ? fl_strdup(names[i]) : fl_sprintf("%s/%s", dirs[d], names[i]);
            char *abs = fl_sprintf("%s/%s", dir, names[i]);
            if (!rel || !abs) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            int64_t mtime = 0;
            uint64_t size = 0;
            if (rc == FL_OK && !set_has(&keep, rel) && fl_io_stat(abs, &mtime, &size, NULL) == FL_OK &&
                (set_has(&doomed, rel) || mtime < now - grace)) {
                rc = fl_io_delete(abs, err);
                if (rc == FL_OK) {
                    st.files_removed++;
                    st.bytes_removed += (int64_t)size;
                }
            }
            fl_free(rel);
            fl_free(abs);
        }
        fl_strings_free(names, n);
        fl_free(dir);
        if (rc != FL_OK) goto done;
    }
    goto done;
oom:
    rc = fl_error_set(err, FL_ENOMEM, "out of memory");
done:
    fl_free(versions);
    fl_tags_free(tags, n_tags);
    fl_free(tagged);
    fl_free(kept);
    fl_strings_free(keep.items, keep.n);
    fl_strings_free(doomed.items, doomed.n);
    if (rc == FL_OK && stats) *stats = st;
    return rc;
}
