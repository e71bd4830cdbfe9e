/*
 * table.c — databases, table handles, version resolution and the commit protocol.
 *
 * Commit (the only way a version comes to be):
 *
 *      write new files (data, deletions) and fsync them
 *              |
 *      base := handle's manifest, checked := its version
 *      +--> latest := newest manifest on storage (hint, then probe upward)
 *      |    for v in checked+1 .. latest: conflict(txn, manifest v)?  --yes--> FL_ECONFLICT
 *      |    next := apply(txn, manifest latest); put_if_absent(_versions/latest+1)
 *      +---- FL_EEXIST (another writer won): checked := latest
 *              |
 *      success: handle := next, update the _latest hint
 *
 * The transaction (struct txn) is a description of the change, not a manifest, so applying it again on a
 * newer base is the rebase. Files written before the loop never depend on the base's counters except
 * field ids of added columns, and adding columns conflicts with every other schema change.
 */
#include "txn.h"

#include <stdlib.h>
#include <strings.h>

/* ---- paths ---- */

char *fl_table_path(const fl_table *t, const char *rel) { return fl_sprintf("%s/%s", t->dir, rel); }

static char *manifest_path(const fl_table *t, uint64_t version) {
    return fl_sprintf("%s/_versions/%020llu.manifest", t->dir, (unsigned long long)version);
}

static bool parse_manifest_name(const char *name, uint64_t *version) {
    if (strlen(name) != 29 || strcmp(name + 20, ".manifest") != 0) return false;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *version = v;
    return v > 0;
}

/* ---- databases ---- */

int fl_db_open(const char *path, int flags, fl_db **out, fl_error *err) {
    *out = NULL;
    if (!path || !*path) return fl_error_set(err, FL_EINVAL, "database path is empty");
    if (flags & FL_OPEN_CREATE) FL_RETURN_NOT_OK(fl_io_mkdirs(path, err));
    else if (!fl_io_exists(path)) return fl_error_set(err, FL_ENOTFOUND, "database %s does not exist", path);
    fl_db *db = fl_calloc(1, sizeof *db);
    if (!db || !(db->path = fl_strdup(path))) {
        fl_free(db);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    size_t n = strlen(db->path);
    while (n > 1 && db->path[n - 1] == '/') db->path[--n] = 0;
    *out = db;
    return FL_OK;
}

void fl_db_close(fl_db *db) {
    if (!db) return;
    fl_free(db->path);
    fl_free(db);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int fl_db_list_tables(fl_db *db, char ***names, size_t *n, fl_error *err) {
    char **all;
    size_t count, kept = 0;
    FL_RETURN_NOT_OK(fl_io_list(db->path, &all, &count, err));
    for (size_t i = 0; i < count; i++) {
        char *v = fl_sprintf("%s/%s/_versions", db->path, all[i]);
        bool is_table = v && fl_valid_name(all[i]) && fl_io_exists(v);
        fl_free(v);
        if (is_table) all[kept++] = all[i];
        else fl_free(all[i]);
    }
    if (kept) qsort(all, kept, sizeof *all, cmp_str);
    *names = all;
    *n = kept;
    return FL_OK;
}

/* ---- handle state ---- */

static int cmp_rid(const void *a, const void *b) {
    const rid_entry *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static void free_derived(fl_table *t) {
    fl_free(t->rids);
    fl_free(t->live_prefix);
    if (t->deletions && t->m)
        for (uint32_t i = 0; i < t->m->n_fragments; i++) fl_free(t->deletions[i].offsets);
    fl_free(t->deletions);
    t->rids = NULL;
    t->live_prefix = NULL;
    t->deletions = NULL;
    t->n_rids = 0;
}

/* The in-memory index of a manifest: row id runs sorted by id, live-row prefix sums, deletion slots. */
typedef struct derived {
    rid_entry *rids;
    size_t n_rids;
    uint64_t *live_prefix;
    deletion_set *deletions;
    uint32_t n_fragments;
} derived;

static void derived_free(derived *d) {
    fl_free(d->rids);
    fl_free(d->live_prefix);
    for (uint32_t i = 0; d->deletions && i < d->n_fragments; i++) fl_free(d->deletions[i].offsets);
    fl_free(d->deletions);
    memset(d, 0, sizeof *d);
}

/* Index of the first entry overlapping its predecessor (sorted entries), or n. */
static size_t first_overlap(const rid_entry *r, size_t n) {
    for (size_t i = 1; i < n; i++)
        if (r[i].start < r[i - 1].start + r[i - 1].count) return i;
    return n;
}

/* Reads the deletion set of fragment f (of `version`) from its file. */
static int load_deletions(const fl_table *t, const fl_fragment *f, uint64_t version, deletion_set *d, fl_error *err) {
    memset(d, 0, sizeof *d);
    if (f->deletion_path) {
        char *path = fl_table_path(t, f->deletion_path);
        uint8_t *data;
        size_t size;
        if (!path) return fl_error_set(err, FL_ENOMEM, "out of memory");
        int rc = fl_io_read_file(path, &data, &size, err);
        if (rc == FL_OK) {
            rc = fl_deletion_decode(data, size, f->physical_rows, path, &d->offsets, &d->n, err);
            fl_free(data);
            if (rc == FL_OK && d->n != f->deleted_rows)
                rc = fl_error_set(err, FL_ECORRUPT, "%s: holds %llu offsets, the manifest says %llu", path, (unsigned long long)d->n,
                                  (unsigned long long)f->deleted_rows);
        } else if (rc == FL_ENOTFOUND) {
            rc = fl_error_set(err, FL_ECORRUPT, "%s: deletion file of version %llu is missing", path, (unsigned long long)version);
        }
        fl_free(path);
        if (rc != FL_OK) {
            fl_free(d->offsets);
            memset(d, 0, sizeof *d);
            return rc;
        }
    }
    d->loaded = true;
    return FL_OK;
}

/* Rebuilds d->rids from the live rows of fragments with deletions (their deleted rows split the runs), loading
 * those deletion sets into d->deletions. */
static int index_live_rows(const fl_table *t, const fl_manifest *m, derived *d, fl_error *err) {
    size_t n = 0, cap = d->n_rids + 16;
    rid_entry *r = fl_malloc(cap * sizeof *r);
    if (!r) return fl_error_set(err, FL_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < m->n_fragments; i++) {
        const fl_fragment *f = &m->fragments[i];
        deletion_set *del = &d->deletions[i];
        if (f->deleted_rows && !del->loaded) {
            int rc = load_deletions(t, f, m->version, del, err);
            if (rc != FL_OK) {
                fl_free(r);
                return rc;
            }
        }
        uint64_t off = 0, k = 0; /* k: next deleted offset */
        for (uint32_t q = 0; q < f->n_runs; q++) {
            uint64_t start = f->runs[q].start, end_off = off + f->runs[q].count;
            while (off < end_off) {
                while (k < del->n && del->offsets[k] < off) k++;
                uint64_t stop = k < del->n && del->offsets[k] < end_off ? del->offsets[k] : end_off;
                if (stop > off) {
                    if (!fl_reserve((void **)&r, &cap, n + 1, sizeof *r, 64)) {
                        fl_free(r);
                        return fl_error_set(err, FL_ENOMEM, "out of memory");
                    }
                    r[n++] = (rid_entry){start + (off - (end_off - f->runs[q].count)), stop - off, i, off};
                }
                off = stop < end_off ? stop + 1 : stop; /* step over the deleted row */
            }
        }
    }
    if (n > 1) qsort(r, n, sizeof *r, cmp_rid);
    fl_free(d->rids);
    d->rids = r;
    d->n_rids = n;
    return FL_OK;
}

/* Builds the index of m (allocates; may fail). */
static int derive(const fl_table *t, const fl_manifest *m, derived *d, fl_error *err) {
    memset(d, 0, sizeof *d);
    size_t n = 0;
    for (uint32_t i = 0; i < m->n_fragments; i++) n += m->fragments[i].n_runs;
    d->rids = fl_calloc(n ? n : 1, sizeof *d->rids);
    d->live_prefix = fl_calloc((size_t)m->n_fragments + 1, sizeof *d->live_prefix);
    d->deletions = fl_calloc(m->n_fragments ? m->n_fragments : 1, sizeof *d->deletions);
    if (!d->rids || !d->live_prefix || !d->deletions) {
        derived_free(d);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    d->n_fragments = m->n_fragments;
    size_t k = 0;
    for (uint32_t i = 0; i < m->n_fragments; i++) {
        const fl_fragment *f = &m->fragments[i];
        uint64_t off = 0;
        for (uint32_t r = 0; r < f->n_runs; r++) {
            d->rids[k++] = (rid_entry){f->runs[r].start, f->runs[r].count, i, off};
            off += f->runs[r].count;
        }
        d->live_prefix[i + 1] = d->live_prefix[i] + (f->physical_rows - f->deleted_rows);
    }
    bool sorted = true; /* appends and compaction keep runs in id order: most manifests need no sort */
    for (size_t i = 1; i < k && sorted; i++) sorted = d->rids[i].start >= d->rids[i - 1].start;
    if (!sorted) qsort(d->rids, k, sizeof *d->rids, cmp_rid);
    d->n_rids = k;
    size_t clash = first_overlap(d->rids, k);
    if (clash < k) {
        /* A row id physically in two fragments: a materialized view re-added a row it had removed
         * (deleted in its old fragment). Index live rows only there, so the id finds the live copy. */
        int rc = index_live_rows(t, m, d, err);
        if (rc != FL_OK) {
            derived_free(d);
            return rc;
        }
        clash = first_overlap(d->rids, d->n_rids);
    }
    if (clash < d->n_rids) {
        uint64_t id = d->rids[clash].start;
        derived_free(d);
        return fl_error_set(err, FL_ECORRUPT, "%s: version %llu: row id %llu belongs to two fragments", t->name, (unsigned long long)m->version,
                            (unsigned long long)id);
    }
    return FL_OK;
}

/* Makes m and its index the handle's state (cannot fail; takes ownership of both). */
static void swap_in(fl_table *t, fl_manifest *m, derived *d) {
    free_derived(t);
    fl_manifest_free(t->m);
    t->m = m;
    t->rids = d->rids;
    t->n_rids = d->n_rids;
    t->live_prefix = d->live_prefix;
    t->deletions = d->deletions;
    memset(d, 0, sizeof *d);
}

/* Makes `m` the handle's manifest. Always takes ownership of m; on failure m is freed and the handle
 * keeps its previous state. */
static int install_manifest(fl_table *t, fl_manifest *m, fl_error *err) {
    derived d;
    int rc = derive(t, m, &d, err);
    if (rc != FL_OK) {
        fl_manifest_free(m);
        return rc;
    }
    swap_in(t, m, &d);
    return FL_OK;
}

bool fl_table_locate(const fl_table *t, uint64_t row_id, uint32_t *fragment, uint64_t *offset) {
    size_t lo = 0, hi = t->n_rids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const rid_entry *e = &t->rids[mid];
        if (row_id < e->start) hi = mid;
        else if (row_id >= e->start + e->count) lo = mid + 1;
        else {
            *fragment = e->fragment;
            *offset = e->offset + (row_id - e->start);
            return true;
        }
    }
    return false;
}

uint64_t fl_fragment_row_id(const fl_fragment *f, uint64_t offset) {
    for (uint32_t r = 0; r < f->n_runs; r++) {
        if (offset < f->runs[r].count) return f->runs[r].start + offset;
        offset -= f->runs[r].count;
    }
    return UINT64_MAX;
}

const fl_file_ref *fl_fragment_file_for(const fl_fragment *f, int32_t field_id) {
    for (uint32_t i = f->n_files; i-- > 0;)
        for (uint32_t k = 0; k < f->files[i].n_field_ids; k++)
            if (f->files[i].field_ids[k] == field_id) return &f->files[i];
    return NULL;
}

bool fl_deletion_contains(const deletion_set *d, uint64_t offset) {
    size_t lo = 0, hi = (size_t)d->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (d->offsets[mid] < offset) lo = mid + 1;
        else hi = mid;
    }
    return lo < d->n && d->offsets[lo] == offset;
}

int fl_table_deletions(fl_table *t, uint32_t fi, const deletion_set **out, fl_error *err) {
    deletion_set *d = &t->deletions[fi];
    if (!d->loaded) FL_RETURN_NOT_OK(load_deletions(t, &t->m->fragments[fi], t->m->version, d, err));
    *out = d;
    return FL_OK;
}

int fl_table_datafile(fl_table *t, const fl_file_ref *ref, fl_datafile **out, fl_error *err) {
    df_cache_entry *slot = &t->cache[0];
    for (int i = 0; i < FL_DF_CACHE_SIZE; i++) {
        df_cache_entry *e = &t->cache[i];
        if (e->path && !strcmp(e->path, ref->path)) {
            e->last_use = ++t->cache_clock;
            *out = e->df;
            return FL_OK;
        }
        if (!e->path || e->last_use < slot->last_use) slot = e;
    }
    char *path = fl_table_path(t, ref->path);
    if (!path) return fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_datafile *df;
    int rc = fl_datafile_open(path, ref->size, &df, err);
    if (rc == FL_ENOTFOUND) rc = fl_error_set(err, FL_ECORRUPT, "%s: data file of version %llu is missing", path, (unsigned long long)t->m->version);
    fl_free(path);
    FL_RETURN_NOT_OK(rc);
    char *key = fl_strdup(ref->path);
    if (!key) {
        fl_datafile_close(df);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    fl_free(slot->path);
    fl_datafile_close(slot->df);
    slot->path = key;
    slot->df = df;
    slot->last_use = ++t->cache_clock;
    *out = df;
    return FL_OK;
}

int fl_table_read_column(fl_table *t, uint32_t fi, const fl_field *field, int64_t start, int64_t count, fl_array *dst, fl_error *err) {
    const fl_fragment *f = &t->m->fragments[fi];
    const fl_file_ref *ref = fl_fragment_file_for(f, field->id);
    if (!ref) {
        for (int64_t i = 0; i < count; i++)
            if (fl_array_append_null(dst) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
        return FL_OK;
    }
    fl_datafile *df;
    FL_RETURN_NOT_OK(fl_table_datafile(t, ref, &df, err));
    int col = fl_datafile_find(df, field->id);
    if (col < 0 || !fl_field_same_type(fl_datafile_field(df, col), field))
        return fl_error_set(err, FL_ECORRUPT, "%s/%s: column '%s' (field %d) is %s in the file", t->dir, ref->path, field->name, field->id,
                            col < 0 ? "missing" : "of another type");
    if (fl_datafile_num_rows(df) != (int64_t)f->physical_rows)
        return fl_error_set(err, FL_ECORRUPT, "%s/%s: holds %lld rows, fragment %llu has %llu", t->dir, ref->path,
                            (long long)fl_datafile_num_rows(df), (unsigned long long)f->id, (unsigned long long)f->physical_rows);
    return fl_datafile_read_range(df, col, start, count, dst, err);
}

/* ---- versions ---- */

int fl_table_load_manifest(fl_table *t, uint64_t version, fl_manifest **out, fl_error *err) {
    *out = NULL;
    char *path = manifest_path(t, version);
    if (!path) return fl_error_set(err, FL_ENOMEM, "out of memory");
    uint8_t *data;
    size_t size;
    int rc = fl_io_read_file(path, &data, &size, err);
    if (rc == FL_ENOTFOUND) rc = fl_error_set(err, FL_ENOTFOUND, "table '%s': version %llu not found", t->name, (unsigned long long)version);
    if (rc == FL_OK) {
        rc = fl_manifest_decode(data, size, path, out, err);
        fl_free(data);
        if (rc == FL_OK && (*out)->version != version) {
            rc = fl_error_set(err, FL_ECORRUPT, "%s: holds version %llu", path, (unsigned long long)(*out)->version);
            fl_manifest_free(*out);
            *out = NULL;
        }
    }
    fl_free(path);
    return rc;
}

static bool manifest_exists(const fl_table *t, uint64_t version) {
    char *p = manifest_path(t, version);
    bool ok = p && fl_io_exists(p);
    fl_free(p);
    return ok;
}

/* Versions present on storage (sorted ascending), from a listing. */
static int list_versions(const fl_table *t, uint64_t **out, size_t *n, fl_error *err) {
    char *dir = fl_table_path(t, "_versions");
    if (!dir) return fl_error_set(err, FL_ENOMEM, "out of memory");
    char **names;
    size_t count;
    int rc = fl_io_list(dir, &names, &count, err);
    fl_free(dir);
    FL_RETURN_NOT_OK(rc);
    uint64_t *v = fl_calloc(count ? count : 1, sizeof *v);
    size_t k = 0;
    if (!v) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    for (size_t i = 0; v && i < count; i++)
        if (parse_manifest_name(names[i], &v[k])) k++;
    fl_strings_free(names, count);
    if (rc != FL_OK) return rc;
    for (size_t i = 1; i < k; i++) { /* insertion sort: listings are short and nearly sorted */
        uint64_t x = v[i];
        size_t j = i;
        while (j && v[j - 1] > x) v[j] = v[j - 1], j--;
        v[j] = x;
    }
    *out = v;
    *n = k;
    return FL_OK;
}

/*
 * Newest committed version at or after `from`. Commits create N+1 only after N exists, so above the newest
 * version ever seen the versions are contiguous and probing N+1, N+2, ... finds the latest. Cleanup can
 * leave gaps below the latest (it keeps tagged versions), so the starting point is the largest of `from`,
 * the _latest hint and the newest manifest in a listing; the probe then covers commits that raced the
 * listing. Two writers never both create the same version (put_if_absent arbitrates). A writer whose
 * view of the latest is stale could recreate a number cleanup has freed; cleanup therefore keeps every
 * version superseded less than its grace period ago, and a commit attempt older than
 * FL_COMMIT_ATTEMPT_MS (a fraction of the shortest grace period) starts over.
 */
static int find_latest(fl_table *t, uint64_t from, uint64_t *latest, fl_error *err) {
    uint64_t v = from;
    char *hint_path = fl_table_path(t, "_latest");
    uint8_t *data;
    size_t size;
    if (hint_path && fl_io_read_file(hint_path, &data, &size, NULL) == FL_OK) {
        uint64_t h = strtoull((char *)data, NULL, 10);
        fl_free(data);
        if (h > v && manifest_exists(t, h)) v = h;
    }
    fl_free(hint_path);
    uint64_t *all;
    size_t n;
    FL_RETURN_NOT_OK(list_versions(t, &all, &n, err));
    if (n && all[n - 1] > v) v = all[n - 1];
    fl_free(all);
    if (v == 0) return fl_error_set(err, FL_ENOTFOUND, "table '%s' has no committed version", t->name);
    while (manifest_exists(t, v + 1)) v++;
    *latest = v;
    return FL_OK;
}

static void write_hint(fl_table *t, uint64_t version) {
    char *p = fl_table_path(t, "_latest");
    char text[32];
    int n = snprintf(text, sizeof text, "%llu\n", (unsigned long long)version);
    /* Only a hint (find_latest verifies and probes), so it need not survive a crash: no fsync. */
    if (p) fl_io_put_replace(p, text, (size_t)n, false, NULL);
    fl_free(p);
}

int fl_table_latest_version(fl_table *t, uint64_t *out, fl_error *err) { return find_latest(t, t->m ? t->m->version : 0, out, err); }

int fl_table_checkout(fl_table *t, uint64_t version, fl_error *err) {
    if (version == 0) FL_RETURN_NOT_OK(find_latest(t, t->m ? t->m->version : 0, &version, err));
    if (t->m && t->m->version == version) return FL_OK;
    fl_manifest *m;
    FL_RETURN_NOT_OK(fl_table_load_manifest(t, version, &m, err));
    return install_manifest(t, m, err);
}

static int read_tag(fl_table *t, const char *name, uint64_t *version, fl_error *err);

static fl_table *table_new(fl_db *db, const char *name) {
    fl_table *t = fl_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->db = db;
    t->name = fl_strdup(name);
    t->dir = fl_sprintf("%s/%s", db->path, name);
    if (!t->name || !t->dir) {
        fl_table_close(t);
        return NULL;
    }
    return t;
}

int fl_table_open(fl_db *db, const char *name, const fl_open_options *opts, fl_table **out, fl_error *err) {
    *out = NULL;
    if (!fl_valid_name(name)) return fl_error_set(err, FL_EINVAL, "invalid table name '%s'", name ? name : "");
    fl_table *t = table_new(db, name);
    if (!t) return fl_error_set(err, FL_ENOMEM, "out of memory");
    char *vdir = fl_table_path(t, "_versions");
    bool exists = vdir && fl_io_exists(vdir);
    fl_free(vdir);
    int rc = FL_OK;
    uint64_t version = opts ? opts->version : 0;
    if (!vdir) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    else if (!exists) rc = fl_error_set(err, FL_ENOTFOUND, "table '%s' not found in %s", name, db->path);
    else if (opts && opts->tag) {
        if (version) rc = fl_error_set(err, FL_EINVAL, "give a version or a tag, not both");
        else rc = read_tag(t, opts->tag, &version, err);
    }
    if (rc == FL_OK) rc = fl_table_checkout(t, version, err);
    if (rc != FL_OK) {
        fl_table_close(t);
        return rc;
    }
    *out = t;
    return FL_OK;
}

void fl_table_close(fl_table *t) {
    if (!t) return;
    if (t->ext && t->ext_free) t->ext_free(t->ext);
    free_derived(t);
    fl_manifest_free(t->m);
    for (int i = 0; i < FL_DF_CACHE_SIZE; i++) {
        fl_free(t->cache[i].path);
        fl_datafile_close(t->cache[i].df);
    }
    fl_free(t->name);
    fl_free(t->dir);
    fl_free(t);
}

uint64_t fl_table_version(const fl_table *t) { return t->m->version; }
const fl_schema *fl_table_schema(const fl_table *t) { return t->m->schema; }
const char *fl_table_name(const fl_table *t) { return t->name; }
int64_t fl_table_count_rows(const fl_table *t) { return t->m->num_rows; }

/* ---- create / drop ---- */

static void assign_ids(fl_field *f, int32_t *next) {
    f->id = (*next)++;
    for (int32_t i = 0; i < f->n_children; i++) assign_ids(&f->children[i], next);
}

static int check_new_field(const fl_field *f, const char *table, fl_error *err) {
    if (!fl_field_names_valid(f))
        return fl_error_set(err, FL_EINVAL, "table '%s': column '%s' has an empty name, a control character or a repeated struct member",
                            table, f->name ? f->name : "");
    return FL_OK;
}

int fl_table_create(fl_db *db, const char *name, const fl_schema *schema, fl_table **out, fl_error *err) {
    if (out) *out = NULL;
    if (!fl_valid_name(name)) return fl_error_set(err, FL_EINVAL, "invalid table name '%s' (use letters, digits, '_', '-', '.')", name ? name : "");
    if (!schema || schema->n_fields == 0) return fl_error_set(err, FL_EINVAL, "table '%s': the schema has no columns", name);
    for (int32_t i = 0; i < schema->n_fields; i++) {
        FL_RETURN_NOT_OK(check_new_field(&schema->fields[i], name, err));
        for (int32_t k = 0; k < i; k++)
            if (!strcmp(schema->fields[i].name, schema->fields[k].name))
                return fl_error_set(err, FL_EINVAL, "table '%s': duplicate column '%s'", name, schema->fields[i].name);
    }
    fl_table *t = table_new(db, name);
    if (!t) return fl_error_set(err, FL_ENOMEM, "out of memory");
    int rc = FL_OK;
    char *sub[3] = {fl_table_path(t, "_versions"), fl_table_path(t, "data"), fl_table_path(t, "_deletions")};
    fl_manifest *m = fl_calloc(1, sizeof *m);
    fl_buf enc = {0};
    char *mpath = manifest_path(t, 1);
    if (!sub[0] || !sub[1] || !sub[2] || !m || !mpath) {
        rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        goto done;
    }
    if (fl_io_exists(sub[0])) {
        /* A directory left by a create that crashed before its manifest is reused; one with any
         * manifest (version 1 may have been cleaned up) is an existing table. */
        uint64_t *all;
        size_t n;
        FL_GOTO_NOT_OK(rc, list_versions(t, &all, &n, err), done);
        fl_free(all);
        if (n) {
            rc = fl_error_set(err, FL_EEXIST, "table '%s' already exists", name);
            goto done;
        }
    }
    for (int i = 0; i < 3 && rc == FL_OK; i++) rc = fl_io_mkdirs(sub[i], err);
    if (rc != FL_OK) goto done;
    m->version = 1;
    m->timestamp_ms = fl_now_ms();
    m->table_id = fl_random_u64();
    m->operation = fl_strdup("create");
    m->detail = fl_sprintf("%d columns", schema->n_fields);
    m->schema = fl_schema_copy(schema);
    m->schema_changed = true;
    if (!m->operation || !m->detail || !m->schema) {
        rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        goto done;
    }
    for (int32_t i = 0; i < m->schema->n_fields; i++) assign_ids(&m->schema->fields[i], &m->next_field_id);
    FL_GOTO_NOT_OK(rc, fl_manifest_encode(m, &enc, err), done);
    rc = fl_io_put_if_absent(mpath, enc.data, enc.size, err);
    if (rc == FL_EEXIST) rc = fl_error_set(err, FL_EEXIST, "table '%s' already exists", name);
    if (rc != FL_OK) goto done;
    write_hint(t, 1);
    rc = install_manifest(t, m, err);
    m = NULL;
    if (rc != FL_OK) goto done;
    if (out) {
        *out = t;
        t = NULL;
    }
done:
    for (int i = 0; i < 3; i++) fl_free(sub[i]);
    fl_free(mpath);
    fl_buf_free(&enc);
    fl_manifest_free(m);
    fl_table_close(t);
    return rc;
}

int fl_table_drop(fl_db *db, const char *name, fl_error *err) {
    if (!fl_valid_name(name)) return fl_error_set(err, FL_EINVAL, "invalid table name '%s'", name ? name : "");
    char *dir = fl_sprintf("%s/%s", db->path, name);
    char *vdir = fl_sprintf("%s/%s/_versions", db->path, name);
    int rc = FL_OK;
    if (!dir || !vdir) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    else if (!fl_io_exists(vdir)) rc = fl_error_set(err, FL_ENOTFOUND, "table '%s' not found", name);
    else {
        /* Remove the versions first: a crash midway leaves no half-readable table behind. */
        rc = fl_io_remove_tree(vdir, err);
        if (rc == FL_OK) rc = fl_io_remove_tree(dir, err);
    }
    fl_free(dir);
    fl_free(vdir);
    return rc;
}

/* ---- transactions ---- */

void txn_clear(txn *x) {
    for (uint32_t i = 0; i < x->n_new; i++) fl_fragment_clear(&x->new_frags[i]);
    fl_free(x->new_frags);
    fl_free(x->removed);
    for (uint32_t i = 0; i < x->n_changes; i++) {
        fl_free(x->changes[i].file.path);
        fl_free(x->changes[i].file.field_ids);
        fl_free(x->changes[i].deletion_path);
        fl_free(x->changes[i].offsets);
    }
    fl_free(x->changes);
    fl_schema_free(x->fields);
    fl_strings_free(x->names, x->n_names);
    fl_strings_free(x->values, x->n_names);
    fl_manifest_free(x->target);
    for (uint32_t i = 0; i < x->n_index_changes; i++) {
        index_change *c = &x->index_changes[i];
        fl_free(c->name);
        if (c->before) fl_index_ref_clear(c->before);
        if (c->after) fl_index_ref_clear(c->after);
        fl_free(c->before);
        fl_free(c->after);
    }
    fl_free(x->index_changes);
    fl_strings_free(x->index_files, x->n_index_files);
    memset(x, 0, sizeof *x);
}

static bool txn_touches(const txn *x, uint64_t fragment_id) {
    for (uint32_t i = 0; i < x->n_changes; i++)
        if (x->changes[i].fragment_id == fragment_id) return true;
    for (uint32_t i = 0; i < x->n_removed; i++)
        if (x->removed[i] == fragment_id) return true;
    return false;
}

static bool txn_changes_schema(const txn *x) {
    /* A refresh counts: it sets the view's metadata, and two refreshes must never both apply. */
    return x->kind == OP_ADD_COLUMNS || x->kind == OP_DROP_COLUMNS || x->kind == OP_RENAME || x->kind == OP_METADATA || x->kind == OP_RESTORE ||
           x->kind == OP_REFRESH;
}

/* Whether `x`, prepared on an older base, can still be applied after committed version `c`. */
static int check_conflict(const fl_table *t, const txn *x, const fl_manifest *c, fl_error *err) {
    if (x->kind == OP_RESTORE || c->restore)
        return fl_error_set(err, FL_ECONFLICT, "table '%s': version %llu (%s) was committed concurrently; %s must be retried", t->name,
                            (unsigned long long)c->version, c->operation, op_name(x->kind));
    if (txn_changes_schema(x) && c->schema_changed)
        return fl_error_set(err, FL_ECONFLICT, "table '%s': concurrent schema change at version %llu (%s) conflicts with %s", t->name,
                            (unsigned long long)c->version, c->operation, op_name(x->kind));
    for (uint32_t i = 0; i < c->n_touched; i++)
        if (txn_touches(x, c->touched[i]))
            return fl_error_set(err, FL_ECONFLICT, "table '%s': fragment %llu was changed concurrently by version %llu (%s); %s must be retried",
                                t->name, (unsigned long long)c->touched[i], (unsigned long long)c->version, c->operation, op_name(x->kind));
    return FL_OK;
}

const char *op_name(op_kind k) {
    static const char *names[] = {"create", "append", "delete", "update", "add_columns", "drop_columns", "rename_column", "set_metadata", "compact", "restore",
                                  "index",  "refresh"};
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static int find_fragment(const fl_manifest *m, uint64_t id) {
    for (uint32_t i = 0; i < m->n_fragments; i++)
        if (m->fragments[i].id == id) return (int)i;
    return -1;
}

static void remove_fragment(fl_manifest *m, uint32_t i) {
    fl_fragment_clear(&m->fragments[i]);
    memmove(&m->fragments[i], &m->fragments[i + 1], (m->n_fragments - i - 1) * sizeof *m->fragments);
    m->n_fragments--;
}

static int add_fragment(fl_manifest *m, const fl_fragment *f) {
    fl_fragment *grown = fl_realloc(m->fragments, ((size_t)m->n_fragments + 1) * sizeof *grown);
    if (!grown) return FL_ENOMEM;
    m->fragments = grown;
    if (fl_fragment_copy_into(&m->fragments[m->n_fragments], f) != FL_OK) return FL_ENOMEM;
    m->n_fragments++;
    return FL_OK;
}

static bool field_id_in_schema(const fl_schema *s, int32_t id) {
    for (int32_t i = 0; i < s->n_fields; i++)
        if (s->fields[i].id == id) return true;
    return false;
}

/* Drops files of a fragment that no longer provide any live column (every field they hold is dropped or
 * superseded by a later file), so cleanup can reclaim them once old versions go. */
static void prune_files(fl_fragment *f, const fl_schema *s) {
    uint32_t kept = 0;
    for (uint32_t i = 0; i < f->n_files; i++) {
        bool useful = false;
        for (uint32_t k = 0; k < f->files[i].n_field_ids && !useful; k++) {
            int32_t id = f->files[i].field_ids[k];
            useful = field_id_in_schema(s, id) && fl_fragment_file_for(f, id) == &f->files[i];
        }
        if (useful) f->files[kept++] = f->files[i];
        else {
            fl_free(f->files[i].path);
            fl_free(f->files[i].field_ids);
        }
    }
    f->n_files = kept;
}

static int add_touched(fl_manifest *m, uint64_t id) {
    uint64_t *grown = fl_realloc(m->touched, ((size_t)m->n_touched + 1) * sizeof *grown);
    if (!grown) return FL_ENOMEM;
    m->touched = grown;
    m->touched[m->n_touched++] = id;
    return FL_OK;
}

static int find_index(const fl_manifest *m, const char *name) {
    for (uint32_t i = 0; i < m->n_indexes; i++)
        if (!strcmp(m->indexes[i].name, name)) return (int)i;
    return -1;
}

static bool same_index_files(const fl_index_ref *a, const fl_index_ref *b) {
    if (a->n_files != b->n_files || a->created_version != b->created_version) return false;
    for (uint32_t i = 0; i < a->n_files; i++)
        if (strcmp(a->files[i], b->files[i])) return false;
    return true;
}

/* OP_INDEX: each change applies only if the entry is still as the writer saw it. */
static int apply_index_changes(const fl_table *t, const txn *x, fl_manifest *m, fl_error *err) {
    for (uint32_t i = 0; i < x->n_index_changes; i++) {
        const index_change *c = &x->index_changes[i];
        int k = find_index(m, c->name);
        if (!c->before && k >= 0) return fl_error_set(err, FL_EEXIST, "table '%s': index '%s' already exists", t->name, c->name);
        if (c->before && (k < 0 || !same_index_files(&m->indexes[k], c->before)))
            return fl_error_set(err, FL_ECONFLICT, "table '%s': index '%s' was changed concurrently; retry", t->name, c->name);
        if (c->after)
            for (uint32_t f = 0; f < c->after->n_field_ids; f++)
                if (!field_id_in_schema(m->schema, c->after->field_ids[f]))
                    return fl_error_set(err, FL_ECONFLICT, "table '%s': the column of index '%s' was dropped concurrently", t->name, c->name);
        if (!c->after) {
            fl_index_ref_clear(&m->indexes[k]);
            memmove(&m->indexes[k], &m->indexes[k + 1], (m->n_indexes - (uint32_t)k - 1) * sizeof *m->indexes);
            m->n_indexes--;
            continue;
        }
        fl_index_ref copy;
        if (fl_index_ref_copy_into(&copy, c->after) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
        copy.created_version = c->before ? c->after->created_version : m->version;
        if (k >= 0) {
            fl_index_ref_clear(&m->indexes[k]);
            m->indexes[k] = copy;
            continue;
        }
        fl_index_ref *grown = fl_realloc(m->indexes, ((size_t)m->n_indexes + 1) * sizeof *grown);
        if (!grown) {
            fl_index_ref_clear(&copy);
            return fl_error_set(err, FL_ENOMEM, "out of memory");
        }
        m->indexes = grown;
        m->indexes[m->n_indexes++] = copy;
    }
    return FL_OK;
}

static bool runs_overlap(const fl_fragment *a, const fl_fragment *b) {
    for (uint32_t i = 0; i < a->n_runs; i++)
        for (uint32_t k = 0; k < b->n_runs; k++)
            if (a->runs[i].start < b->runs[k].start + b->runs[k].count && b->runs[k].start < a->runs[i].start + a->runs[i].count) return true;
    return false;
}

/*
 * COMPACT: a new fragment holds exactly the live rows of the fragments it replaced, with the same row ids
 * and values. When one index file served all of those fragments with their current column data, its
 * entries for these rows are still right (deleted rows are gone from the new fragment, so readers skip
 * them), and the new fragment is covered by that file. Otherwise the fragment is left uncovered.
 * New fragments are m->fragments[first_new ..]; the replaced ones are in base.
 */
static int remap_index_coverage(const txn *x, const fl_manifest *base, fl_manifest *m, uint32_t first_new) {
    for (uint32_t ix = 0; ix < m->n_indexes; ix++) {
        fl_index_ref *r = &m->indexes[ix];
        bool has_coverage = false;
        for (int32_t p = 0; p < r->n_params; p++) has_coverage |= !strcmp(r->params[p].key, FL_INDEX_COVERAGE_KEY);
        if (!has_coverage || r->n_field_ids != 1) continue;
        uint32_t n = r->n_fragment_ids, cap = n + x->n_new;
        uint32_t *file = fl_calloc((size_t)cap + 1, sizeof *file);
        uint64_t *ver = fl_calloc((size_t)cap + 1, sizeof *ver), *ids = fl_calloc((size_t)cap + 1, sizeof *ids);
        if (!file || !ver || !ids) {
            fl_free(file);
            fl_free(ver);
            fl_free(ids);
            return FL_ENOMEM;
        }
        bool added = false;
        if (fl_index_coverage_get(r, file, ver, NULL) == FL_OK) {
            memcpy(ids, r->fragment_ids, (size_t)n * sizeof *ids);
            for (uint32_t k = first_new; k < m->n_fragments; k++) {
                const fl_fragment *nf = &m->fragments[k];
                int32_t from = -1;
                bool ok = true, any = false;
                for (uint32_t i = 0; i < x->n_removed && ok; i++) {
                    int bi = find_fragment(base, x->removed[i]);
                    if (bi < 0 || !runs_overlap(&base->fragments[bi], nf)) continue;
                    any = true;
                    uint64_t want = fl_index_fragment_version(&base->fragments[bi], r);
                    int32_t served = -1;
                    for (uint32_t j = 0; j < r->n_fragment_ids && served < 0; j++)
                        if (r->fragment_ids[j] == x->removed[i] && ver[j] == want) served = (int32_t)file[j];
                    ok = served >= 0 && (from < 0 || from == served);
                    from = served;
                }
                if (!ok || !any) continue;
                ids[n] = nf->id;
                file[n] = (uint32_t)from;
                ver[n++] = fl_index_fragment_version(nf, r);
                added = true;
            }
        }
        int rc = FL_OK;
        if (added) {
            fl_free(r->fragment_ids);
            r->fragment_ids = ids;
            r->n_fragment_ids = n;
            ids = NULL;
            rc = fl_index_coverage_set(r, file, ver);
        }
        fl_free(file);
        fl_free(ver);
        fl_free(ids);
        FL_RETURN_NOT_OK(rc);
    }
    return FL_OK;
}

/* APPEND, COMPACT, REFRESH: removes the fragments x replaces. */
static int apply_removed(const fl_table *t, const txn *x, fl_manifest *m, fl_error *err) {
    for (uint32_t i = 0; i < x->n_removed; i++) {
        int fi = find_fragment(m, x->removed[i]);
        if (fi < 0) return fl_error_set(err, FL_ECONFLICT, "table '%s': fragment %llu no longer exists", t->name, (unsigned long long)x->removed[i]);
        remove_fragment(m, (uint32_t)fi);
        if (add_touched(m, x->removed[i]) != FL_OK) return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    return FL_OK;
}

/* APPEND, COMPACT, REFRESH: adds x's new fragments. Appended rows get the next row ids; compacted and
 * refreshed rows come with theirs. Compacted rows keep their row versions (their values did not change);
 * the others were written now. */
static int apply_new_fragments(const txn *x, fl_manifest *m, uint64_t version) {
    for (uint32_t i = 0; i < x->n_new; i++) {
        fl_fragment f = x->new_frags[i];
        fl_row_run run;
        f.id = m->next_fragment_id++;
        f.created_version = version;
        if (x->kind == OP_APPEND) {
            run = (fl_row_run){m->next_row_id, f.physical_rows};
            f.runs = &run;
            f.n_runs = 1;
            m->next_row_id += f.physical_rows;
        }
        if (x->kind != OP_COMPACT) {
            f.vruns = NULL; /* every row: this version, the fragment's base version */
            f.n_vruns = 0;
        }
        for (uint32_t r = 0; r < f.n_runs && x->kind == OP_REFRESH; r++)
            if (f.runs[r].start + f.runs[r].count > m->next_row_id) m->next_row_id = f.runs[r].start + f.runs[r].count;
        if (add_fragment(m, &f) != FL_OK) return FL_ENOMEM;
        fl_fragment *nf = &m->fragments[m->n_fragments - 1];
        for (uint32_t k = 0; k < nf->n_files; k++) nf->files[k].created_version = version;
    }
    return FL_OK;
}

/* DELETE, UPDATE, ADD_COLUMNS, REFRESH: new deletion files and data files of existing fragments. */
static int apply_changes(const fl_table *t, const txn *x, fl_manifest *m, uint64_t version, fl_error *err) {
    for (uint32_t i = 0; i < x->n_changes; i++) {
        const frag_change *c = &x->changes[i];
        int fi = find_fragment(m, c->fragment_id);
        if (fi < 0) return fl_error_set(err, FL_ECONFLICT, "table '%s': fragment %llu no longer exists", t->name, (unsigned long long)c->fragment_id);
        fl_fragment *f = &m->fragments[fi];
        if (add_touched(m, f->id) != FL_OK) goto oom;
        if (c->drop_fragment) {
            remove_fragment(m, (uint32_t)fi);
            continue;
        }
        if (c->deletion_path) {
            char *p = fl_strdup(c->deletion_path);
            if (!p) goto oom;
            fl_free(f->deletion_path);
            f->deletion_path = p;
            f->deleted_rows = c->deleted_rows;
            f->deletion_version = version;
        }
        if (c->file.path) {
            for (uint32_t k = 0; k < c->file.n_field_ids; k++)
                if (!field_id_in_schema(m->schema, c->file.field_ids[k]))
                    return fl_error_set(err, FL_ECONFLICT, "table '%s': a column being written was dropped concurrently", t->name);
            /* Row versions first: a fragment without them derives them from its files. */
            if (fl_fragment_mark_rows(f, c->offsets, c->n_offsets, version) != FL_OK) goto oom;
            fl_file_ref *grown = fl_realloc(f->files, ((size_t)f->n_files + 1) * sizeof *grown);
            if (!grown) goto oom;
            f->files = grown;
            fl_file_ref *r = &f->files[f->n_files];
            *r = c->file;
            r->created_version = version;
            r->path = fl_strdup(c->file.path);
            r->field_ids = fl_malloc(c->file.n_field_ids * sizeof(int32_t));
            if (!r->path || !r->field_ids) {
                fl_free(r->path);
                fl_free(r->field_ids);
                goto oom;
            }
            memcpy(r->field_ids, c->file.field_ids, c->file.n_field_ids * sizeof(int32_t));
            f->n_files++;
            prune_files(f, m->schema);
        }
    }
    return FL_OK;
oom:
    return fl_error_set(err, FL_ENOMEM, "out of memory");
}

/* METADATA, REFRESH: sets or removes table metadata keys. */
static int apply_metadata(const txn *x, fl_manifest *m) {
    for (uint32_t i = 0; i < x->n_names; i++) {
        fl_schema *s = m->schema;
        if (x->values[i]) {
            if (fl_schema_set_metadata(s, x->names[i], x->values[i]) != FL_OK) return FL_ENOMEM;
            continue;
        }
        for (int32_t k = 0; k < s->n_metadata; k++) {
            if (strcmp(s->metadata[k].key, x->names[i])) continue;
            fl_free(s->metadata[k].key);
            fl_free(s->metadata[k].value);
            s->metadata[k] = s->metadata[--s->n_metadata];
            break;
        }
    }
    return FL_OK;
}

/* Builds the manifest of `version` by applying x to base. */
static int apply(const fl_table *t, const txn *x, const fl_manifest *base, uint64_t version, fl_manifest **out, fl_error *err) {
    /* The version the writer read (the handle's), not the base it was rebased onto. */
    uint64_t read_version = t->m->version;
    *out = NULL;
    fl_manifest *m = x->kind == OP_RESTORE ? fl_manifest_copy(x->target) : fl_manifest_copy(base);
    if (!m) return fl_error_set(err, FL_ENOMEM, "out of memory");
    int rc = FL_OK;
    fl_free(m->operation);
    fl_free(m->detail);
    fl_free(m->touched);
    m->touched = NULL;
    m->n_touched = 0;
    m->operation = fl_strdup(x->operation ? x->operation : op_name(x->kind));
    m->detail = fl_strdup(x->detail);
    m->version = version;
    m->read_version = read_version;
    m->timestamp_ms = fl_now_ms();
    m->schema_changed = txn_changes_schema(x);
    m->restore = x->kind == OP_RESTORE;
    m->table_id = base->table_id;
    m->restored_at = x->kind == OP_RESTORE ? version : base->restored_at;
    if (!m->operation || !m->detail) goto oom;
    switch (x->kind) {
    case OP_RESTORE:
        /* Counters never move backwards, so ids handed out after the restored version stay unique. */
        m->next_row_id = base->next_row_id > m->next_row_id ? base->next_row_id : m->next_row_id;
        m->next_fragment_id = base->next_fragment_id > m->next_fragment_id ? base->next_fragment_id : m->next_fragment_id;
        m->next_field_id = base->next_field_id > m->next_field_id ? base->next_field_id : m->next_field_id;
        for (uint32_t i = 0; i < base->n_fragments; i++)
            if (add_touched(m, base->fragments[i].id) != FL_OK) goto oom;
        break;
    case OP_APPEND:
    case OP_COMPACT:
        FL_GOTO_NOT_OK(rc, apply_removed(t, x, m, err), fail);
        if (apply_new_fragments(x, m, version) != FL_OK) goto oom;
        if (x->kind == OP_COMPACT && remap_index_coverage(x, base, m, m->n_fragments - x->n_new) != FL_OK) goto oom;
        break;
    case OP_REFRESH:
        FL_GOTO_NOT_OK(rc, apply_removed(t, x, m, err), fail);
        FL_GOTO_NOT_OK(rc, apply_changes(t, x, m, version, err), fail);
        if (apply_new_fragments(x, m, version) != FL_OK || apply_metadata(x, m) != FL_OK) goto oom;
        break;
    case OP_DELETE:
    case OP_UPDATE:
    case OP_ADD_COLUMNS:
        if (x->kind == OP_ADD_COLUMNS) {
            if (m->next_field_id != x->base_next_field_id) {
                rc = fl_error_set(err, FL_ECONFLICT, "table '%s': columns were added concurrently", t->name);
                goto fail;
            }
            for (int32_t i = 0; i < x->fields->n_fields; i++) {
                if (fl_schema_find(m->schema, x->fields->fields[i].name) >= 0) {
                    rc = fl_error_set(err, FL_EEXIST, "table '%s': column '%s' already exists", t->name, x->fields->fields[i].name);
                    goto fail;
                }
                if (fl_schema_append_field(m->schema, &x->fields->fields[i]) != FL_OK) goto oom;
            }
            for (int32_t i = 0; i < x->fields->n_metadata; i++)
                if (fl_schema_set_metadata(m->schema, x->fields->metadata[i].key, x->fields->metadata[i].value) != FL_OK) goto oom;
            m->next_field_id = x->next_field_id;
        }
        FL_GOTO_NOT_OK(rc, apply_changes(t, x, m, version, err), fail);
        break;
    case OP_DROP_COLUMNS:
        for (uint32_t i = 0; i < x->n_names; i++) {
            int k = fl_schema_find(m->schema, x->names[i]);
            if (k < 0) {
                rc = fl_error_set(err, FL_ENOTFOUND, "table '%s': column '%s' not found", t->name, x->names[i]);
                goto fail;
            }
            fl_field_clear(&m->schema->fields[k]);
            memmove(&m->schema->fields[k], &m->schema->fields[k + 1], (size_t)(m->schema->n_fields - k - 1) * sizeof(fl_field));
            m->schema->n_fields--;
        }
        if (m->schema->n_fields == 0) {
            rc = fl_error_set(err, FL_EINVAL, "table '%s': cannot drop every column", t->name);
            goto fail;
        }
        break;
    case OP_RENAME: {
        int k = fl_schema_find(m->schema, x->names[0]);
        if (k < 0) {
            rc = fl_error_set(err, FL_ENOTFOUND, "table '%s': column '%s' not found", t->name, x->names[0]);
            goto fail;
        }
        if (fl_schema_find(m->schema, x->names[1]) >= 0) {
            rc = fl_error_set(err, FL_EEXIST, "table '%s': column '%s' already exists", t->name, x->names[1]);
            goto fail;
        }
        char *n = fl_strdup(x->names[1]);
        if (!n) goto oom;
        fl_free(m->schema->fields[k].name);
        m->schema->fields[k].name = n;
        break;
    }
    case OP_METADATA:
        if (apply_metadata(x, m) != FL_OK) goto oom;
        break;
    case OP_INDEX:
        FL_GOTO_NOT_OK(rc, apply_index_changes(t, x, m, err), fail);
        break;
    case OP_CREATE: break;
    }
    if (fl_manifest_prune_indexes(m) != FL_OK) goto oom;
    fl_manifest_count_rows(m);
    *out = m;
    return FL_OK;
oom:
    rc = fl_error_set(err, FL_ENOMEM, "out of memory");
fail:
    fl_manifest_free(m);
    return rc;
}

int txn_commit(fl_table *t, txn *x, fl_error *err) {
    fl_manifest *base = NULL; /* owned copy when newer than the handle's */
    uint64_t checked = t->m->version;
    int rc = FL_OK;
    for (int attempt = 0; attempt < 10000; attempt++) {
        int64_t attempt_start = fl_now_ms();
        uint64_t latest;
        FL_GOTO_NOT_OK(rc, find_latest(t, checked, &latest, err), done);
        for (uint64_t v = checked + 1; v <= latest; v++) {
            fl_manifest *c;
            rc = fl_table_load_manifest(t, v, &c, err);
            if (rc == FL_ENOTFOUND) {
                rc = fl_error_set(err, FL_ECONFLICT, "table '%s': version %llu, committed after this handle's version %llu, was cleaned up, so "
                                  "%s cannot be checked against it; reopen the table and retry", t->name, (unsigned long long)v,
                                  (unsigned long long)t->m->version, op_name(x->kind));
            }
            if (rc != FL_OK) goto done;
            rc = check_conflict(t, x, c, err);
            fl_manifest_free(base);
            base = c;
            if (rc != FL_OK) goto done;
        }
        checked = latest;
        fl_manifest *next;
        FL_GOTO_NOT_OK(rc, apply(t, x, base ? base : t->m, latest + 1, &next, err), done);
        /* Everything that can fail happens before the commit point: once manifest N+1 exists the
         * operation has happened and the caller must not be told otherwise. */
        derived d;
        fl_buf enc;
        char *path = NULL;
        rc = derive(t, next, &d, err);
        if (rc == FL_OK) rc = fl_manifest_encode(next, &enc, err);
        else fl_buf_init(&enc);
        if (rc == FL_OK && !(path = manifest_path(t, latest + 1))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        /* An attempt that took too long may have seen a latest version that cleanup has since freed (see
         * FL_COMMIT_ATTEMPT_MS): start it over rather than risk reusing that number. */
        if (rc == FL_OK && fl_now_ms() - attempt_start > FL_COMMIT_ATTEMPT_MS) {
            derived_free(&d);
            fl_manifest_free(next);
            fl_free(path);
            fl_buf_free(&enc);
            continue;
        }
        if (rc == FL_OK) rc = fl_io_put_if_absent(path, enc.data, enc.size, err);
        fl_free(path);
        fl_buf_free(&enc);
        if (rc != FL_OK) {
            derived_free(&d);
            fl_manifest_free(next);
            if (rc != FL_EEXIST) goto done;
            fl_error_clear(err);
            rc = FL_OK;
            continue;
        }
        write_hint(t, latest + 1);
        swap_in(t, next, &d);
        goto done;
    }
    rc = fl_error_set(err, FL_ECONFLICT, "table '%s': gave up after too many concurrent commits", t->name);
done:
    fl_manifest_free(base);
    return rc;
}

/* ---- tags ---- */

static char *tag_path(const fl_table *t, const char *name) { return fl_sprintf("%s/_tags/%s.tag", t->dir, name); }

static int read_tag(fl_table *t, const char *name, uint64_t *version, fl_error *err) {
    if (!fl_valid_name(name)) return fl_error_set(err, FL_EINVAL, "invalid tag name '%s'", name);
    char *p = tag_path(t, name);
    if (!p) return fl_error_set(err, FL_ENOMEM, "out of memory");
    uint8_t *data;
    size_t size;
    int rc = fl_io_read_file(p, &data, &size, err);
    if (rc == FL_ENOTFOUND) rc = fl_error_set(err, FL_ENOTFOUND, "table '%s': tag '%s' not found", t->name, name);
    if (rc == FL_OK) {
        if (size != 20 || memcmp(data, FL_TAG_MAGIC, 4) || fl_hash64(data, 12) != fl_load_u64(data + 12))
            rc = fl_error_set(err, FL_ECORRUPT, "%s: byte 0: not a valid tag file", p);
        else *version = fl_load_u64(data + 4);
        fl_free(data);
    }
    fl_free(p);
    return rc;
}

int fl_table_tag(fl_table *t, const char *name, uint64_t version, fl_error *err) {
    if (!fl_valid_name(name)) return fl_error_set(err, FL_EINVAL, "invalid tag name '%s' (use letters, digits, '_', '-', '.')", name ? name : "");
    if (version == 0) version = t->m->version;
    if (!manifest_exists(t, version)) return fl_error_set(err, FL_ENOTFOUND, "table '%s': version %llu not found", t->name, (unsigned long long)version);
    char *dir = fl_table_path(t, "_tags");
    char *p = tag_path(t, name);
    int rc = !dir || !p ? fl_error_set(err, FL_ENOMEM, "out of memory") : fl_io_mkdirs(dir, err);
    if (rc == FL_OK) {
        uint8_t data[20];
        memcpy(data, FL_TAG_MAGIC, 4);
        fl_store_u64(data + 4, version);
        fl_store_u64(data + 12, fl_hash64(data, 12));
        rc = fl_io_put_if_absent(p, data, sizeof data, err);
        if (rc == FL_EEXIST) rc = fl_error_set(err, FL_EEXIST, "table '%s': tag '%s' already exists", t->name, name);
    }
    fl_free(dir);
    fl_free(p);
    return rc;
}

int fl_table_untag(fl_table *t, const char *name, fl_error *err) {
    uint64_t v;
    FL_RETURN_NOT_OK(read_tag(t, name, &v, err));
    char *p = tag_path(t, name);
    if (!p) return fl_error_set(err, FL_ENOMEM, "out of memory");
    int rc = fl_io_delete(p, err);
    fl_free(p);
    return rc;
}

static int cmp_tag(const void *a, const void *b) { return strcmp(((const fl_tag_info *)a)->name, ((const fl_tag_info *)b)->name); }

int fl_table_list_tags(fl_table *t, fl_tag_info **tags, size_t *n, fl_error *err) {
    *tags = NULL;
    *n = 0;
    char *dir = fl_table_path(t, "_tags");
    if (!dir) return fl_error_set(err, FL_ENOMEM, "out of memory");
    char **names;
    size_t count;
    int rc = fl_io_exists(dir) ? fl_io_list(dir, &names, &count, err) : FL_ENOTFOUND;
    fl_free(dir);
    if (rc == FL_ENOTFOUND) return FL_OK;
    FL_RETURN_NOT_OK(rc);
    fl_tag_info *list = fl_calloc(count ? count : 1, sizeof *list);
    size_t k = 0;
    if (!list) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == FL_OK && i < count; i++) {
        size_t len = strlen(names[i]);
        if (len < 5 || strcmp(names[i] + len - 4, ".tag")) continue;
        names[i][len - 4] = 0;
        if (!fl_valid_name(names[i])) continue;
        rc = read_tag(t, names[i], &list[k].version, err);
        if (rc == FL_OK) {
            list[k].name = names[i];
            names[i] = NULL;
            k++;
        }
    }
    fl_strings_free(names, count);
    if (rc != FL_OK) {
        fl_tags_free(list, k);
        return rc;
    }
    qsort(list, k, sizeof *list, cmp_tag);
    *tags = list;
    *n = k;
    return FL_OK;
}

void fl_tags_free(fl_tag_info *tags, size_t n) {
    if (!tags) return;
    for (size_t i = 0; i < n; i++) fl_free(tags[i].name);
    fl_free(tags);
}

/* ---- versions listing and info ---- */

int fl_table_list_versions(fl_table *t, fl_version_info **out, size_t *n, fl_error *err) {
    *out = NULL;
    *n = 0;
    uint64_t *vs;
    size_t count;
    FL_RETURN_NOT_OK(list_versions(t, &vs, &count, err));
    fl_version_info *list = fl_calloc(count ? count : 1, sizeof *list);
    int rc = list ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; rc == FL_OK && i < count; i++) {
        fl_manifest *m;
        rc = fl_table_load_manifest(t, vs[i], &m, err);
        if (rc == FL_ENOTFOUND) { /* removed by a concurrent cleanup */
            rc = FL_OK;
            fl_error_clear(err);
            continue;
        }
        if (rc != FL_OK) break;
        list[k].version = m->version;
        list[k].timestamp_ms = m->timestamp_ms;
        snprintf(list[k].operation, sizeof list[k].operation, "%s", m->operation);
        snprintf(list[k].detail, sizeof list[k].detail, "%s", m->detail);
        list[k].num_rows = m->num_rows;
        k++;
        fl_manifest_free(m);
    }
    fl_free(vs);
    if (rc != FL_OK) {
        fl_free(list);
        return rc;
    }
    *out = list;
    *n = k;
    return FL_OK;
}

void fl_table_get_stats(const fl_table *t, fl_table_stats *st) {
    memset(st, 0, sizeof *st);
    for (uint32_t i = 0; i < t->m->n_fragments; i++) {
        const fl_fragment *f = &t->m->fragments[i];
        st->fragments++;
        st->data_files += f->n_files;
        for (uint32_t k = 0; k < f->n_files; k++) st->data_bytes += (int64_t)f->files[k].size;
        st->deleted_rows += (int64_t)f->deleted_rows;
        st->deletion_files += f->deletion_path != NULL;
    }
}

static void json_field(fl_buf *b, const fl_field *f) {
    char *type = fl_field_type_format(f);
    fl_buf_printf(b, "{\"name\":");
    fl_json_string(b, f->name);
    fl_buf_printf(b, ",\"id\":%d,\"type\":", f->id);
    fl_json_string(b, type ? type : "?");
    fl_free(type);
    fl_buf_printf(b, ",\"nullable\":%s,\"metadata\":{", f->nullable ? "true" : "false");
    for (int32_t i = 0; i < f->n_metadata; i++) {
        if (i) fl_buf_put_u8(b, ',');
        fl_json_string(b, f->metadata[i].key);
        fl_buf_put_u8(b, ':');
        fl_json_string(b, f->metadata[i].value);
    }
    fl_buf_printf(b, "}}");
}

int fl_table_info_json(fl_table *t, char **json, fl_error *err) {
    const fl_manifest *m = t->m;
    fl_buf b;
    fl_buf_init(&b);
    uint64_t total_bytes = 0;
    fl_buf_printf(&b, "{\"name\":");
    fl_json_string(&b, t->name);
    fl_buf_printf(&b, ",\"path\":");
    fl_json_string(&b, t->dir);
    fl_buf_printf(&b, ",\"version\":%llu,\"timestamp_ms\":%lld,\"operation\":", (unsigned long long)m->version, (long long)m->timestamp_ms);
    fl_json_string(&b, m->operation);
    fl_buf_printf(&b, ",\"num_rows\":%lld,\"next_row_id\":%llu,\"schema\":[", (long long)m->num_rows, (unsigned long long)m->next_row_id);
    for (int32_t i = 0; i < m->schema->n_fields; i++) {
        if (i) fl_buf_put_u8(&b, ',');
        json_field(&b, &m->schema->fields[i]);
    }
    fl_buf_printf(&b, "],\"metadata\":{");
    for (int32_t i = 0; i < m->schema->n_metadata; i++) {
        if (i) fl_buf_put_u8(&b, ',');
        fl_json_string(&b, m->schema->metadata[i].key);
        fl_buf_put_u8(&b, ':');
        fl_json_string(&b, m->schema->metadata[i].value);
    }
    fl_buf_printf(&b, "},\"fragments\":[");
    for (uint32_t i = 0; i < m->n_fragments; i++) {
        const fl_fragment *f = &m->fragments[i];
        if (i) fl_buf_put_u8(&b, ',');
        fl_buf_printf(&b, "{\"id\":%llu,\"physical_rows\":%llu,\"deleted_rows\":%llu,\"created_version\":%llu,\"row_id_runs\":%u,\"files\":[",
                      (unsigned long long)f->id, (unsigned long long)f->physical_rows, (unsigned long long)f->deleted_rows,
                      (unsigned long long)f->created_version, f->n_runs);
        for (uint32_t k = 0; k < f->n_files; k++) {
            const fl_file_ref *r = &f->files[k];
            if (k) fl_buf_put_u8(&b, ',');
            fl_buf_printf(&b, "{\"path\":");
            fl_json_string(&b, r->path);
            fl_buf_printf(&b, ",\"size\":%llu,\"created_version\":%llu,\"field_ids\":[", (unsigned long long)r->size, (unsigned long long)r->created_version);
            for (uint32_t j = 0; j < r->n_field_ids; j++) fl_buf_printf(&b, "%s%d", j ? "," : "", r->field_ids[j]);
            fl_buf_printf(&b, "]}");
            total_bytes += r->size;
        }
        fl_buf_printf(&b, "],\"deletion_file\":");
        fl_json_string(&b, f->deletion_path);
        fl_buf_printf(&b, "}");
    }
    fl_buf_printf(&b, "],\"indexes\":[");
    for (uint32_t i = 0; i < m->n_indexes; i++) {
        const fl_index_ref *x = &m->indexes[i];
        if (i) fl_buf_put_u8(&b, ',');
        fl_buf_printf(&b, "{\"name\":");
        fl_json_string(&b, x->name);
        fl_buf_printf(&b, ",\"type\":");
        fl_json_string(&b, x->type);
        fl_buf_printf(&b, ",\"fragments\":%u,\"created_version\":%llu}", x->n_fragment_ids, (unsigned long long)x->created_version);
    }
    fl_buf_printf(&b, "],\"data_bytes\":%llu}", (unsigned long long)total_bytes);
    *json = fl_buf_take_string(&b);
    return *json ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
}
