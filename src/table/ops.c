/*
 * ops.c — the write operations: each prepares its files, describes itself as a txn and commits it.
 *
 * Files are written and synced before the commit; if the commit fails they are left unreferenced and
 * removed on the spot (best effort) or later by fl_table_cleanup.
 */
#include "txn.h"

#include <stdlib.h>

/* A fresh table-relative file name under `dir` ("data/<random>.fld"). */
static char *new_file_name(const char *dir, const char *ext) {
    char rnd[17], rnd2[17];
    fl_random_hex(rnd);
    fl_random_hex(rnd2);
    return fl_sprintf("%s/%s%s.%s", dir, rnd, rnd2, ext);
}

/* Removes the files a failed write left behind (best effort: cleanup catches anything missed). */
static void discard_txn_files(fl_table *t, const txn *x) {
    for (uint32_t i = 0; i < x->n_new; i++)
        for (uint32_t k = 0; k < x->new_frags[i].n_files; k++) {
            char *p = fl_table_path(t, x->new_frags[i].files[k].path);
            if (p) fl_io_delete(p, NULL);
            fl_free(p);
        }
    for (uint32_t i = 0; i < x->n_changes; i++) {
        const char *rel[2] = {x->changes[i].file.path, x->changes[i].deletion_path};
        for (int k = 0; k < 2; k++) {
            if (!rel[k]) continue;
            char *p = fl_table_path(t, rel[k]);
            if (p) fl_io_delete(p, NULL);
            fl_free(p);
        }
    }
}

int fl_table_check_writable(const fl_table *t, const char *what, fl_error *err) {
    const char *source = fl_schema_get_metadata(t->m->schema, FL_VIEW_SOURCE_KEY);
    if (!source) return FL_OK;
    return fl_error_set(err, FL_EINVAL, "table '%s' is a materialized view of '%s': it cannot be changed by %s; change '%s' and run "
                        "`framelake view refresh`",
                        t->name, source, what, source);
}

static int commit_or_discard(fl_table *t, txn *x, fl_error *err) {
    int rc = txn_commit(t, x, err);
    if (rc != FL_OK) discard_txn_files(t, x);
    txn_clear(x);
    return rc;
}

static int sync_dir(fl_table *t, const char *rel, fl_error *err) {
    char *p = fl_table_path(t, rel);
    if (!p) return fl_error_set(err, FL_ENOMEM, "out of memory");
    int rc = fl_io_sync_dir(p, err);
    fl_free(p);
    return rc;
}

/* A data file being written: its table-relative name and the streaming writer. */
typedef struct new_file {
    char *rel;
    fl_datafile_writer *w;
} new_file;

static int new_file_open(fl_table *t, const fl_field *fields, int n, new_file *nf, fl_error *err) {
    nf->w = NULL;
    nf->rel = new_file_name("data", "fld");
    char *path = nf->rel ? fl_table_path(t, nf->rel) : NULL;
    int rc = path ? fl_datafile_writer_open(path, fields, n, &nf->w, err) : fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_free(path);
    if (rc != FL_OK) {
        fl_free(nf->rel);
        nf->rel = NULL;
    }
    return rc;
}

static void new_file_abort(new_file *nf) {
    fl_datafile_writer_abort(nf->w);
    fl_free(nf->rel);
    nf->w = NULL;
    nf->rel = NULL;
}

/* Finishes the file and describes it in *ref (which then owns the name). */
static int new_file_finish(new_file *nf, const fl_field *fields, int n, fl_file_ref *ref, fl_error *err) {
    memset(ref, 0, sizeof *ref);
    int32_t *ids = fl_malloc((size_t)(n ? n : 1) * sizeof *ids);
    if (!ids) {
        new_file_abort(nf);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    int rc = fl_datafile_writer_finish(nf->w, &ref->size, err);
    nf->w = NULL;
    if (rc != FL_OK) {
        fl_free(ids);
        new_file_abort(nf);
        return rc;
    }
    for (int i = 0; i < n; i++) ids[i] = fields[i].id;
    ref->field_ids = ids;
    ref->n_field_ids = (uint32_t)n;
    ref->path = nf->rel;
    nf->rel = NULL;
    return FL_OK;
}

/* Writes rows [start, start+count) of `columns` (typed like `fields`) to a new data file. */
static int write_data_file(fl_table *t, const fl_field *fields, int n, const fl_array *const *columns, int64_t start, int64_t count,
                           fl_file_ref *ref, fl_error *err) {
    new_file nf;
    memset(ref, 0, sizeof *ref);
    FL_RETURN_NOT_OK(new_file_open(t, fields, n, &nf, err));
    int rc = fl_datafile_writer_write(nf.w, columns, start, count, err);
    if (rc != FL_OK) {
        new_file_abort(&nf);
        return rc;
    }
    return new_file_finish(&nf, fields, n, ref, err);
}

/* Matches batch columns to table fields by name; checks types and nullability. On success fields[i] /
 * columns[i] (n of them) are the table fields present in the batch and their arrays. */
static int match_columns(fl_table *t, const fl_batch *b, const fl_schema *target, bool require_all, fl_field *fields,
                         const fl_array **columns, int *n, fl_error *err) {
    if (b->num_rows != (b->n_columns ? b->columns[0].length : 0))
        return fl_error_set(err, FL_EINVAL, "batch is not finished (call fl_batch_finish)");
    *n = 0;
    for (int32_t i = 0; i < b->n_columns; i++) {
        const fl_field *bf = &b->schema->fields[i];
        int k = fl_schema_find(target, bf->name);
        if (k < 0) return fl_error_set(err, FL_EINVAL, "table '%s': no column named '%s'", t->name, bf->name);
        for (int32_t j = 0; j < i; j++)
            if (!strcmp(b->schema->fields[j].name, bf->name)) return fl_error_set(err, FL_EINVAL, "batch has column '%s' twice", bf->name);
        const fl_field *tf = &target->fields[k];
        if (!fl_field_same_type(bf, tf) || b->columns[i].type != tf->type) {
            char *want = fl_field_type_format(tf), *got = fl_field_type_format(bf);
            int rc = fl_error_set(err, FL_ETYPE, "table '%s': column '%s' is %s, the batch has %s", t->name, tf->name, want ? want : "?", got ? got : "?");
            fl_free(want);
            fl_free(got);
            return rc;
        }
        if (!tf->nullable && b->columns[i].null_count)
            return fl_error_set(err, FL_ETYPE, "table '%s': column '%s' is not nullable but the batch has %lld NULLs", t->name, tf->name,
                                (long long)b->columns[i].null_count);
        fields[*n] = *tf;
        columns[(*n)++] = &b->columns[i];
    }
    if (require_all)
        for (int32_t k = 0; k < target->n_fields; k++)
            if (!target->fields[k].nullable && !fl_batch_column(b, target->fields[k].name))
                return fl_error_set(err, FL_EINVAL, "table '%s': the batch lacks non-nullable column '%s'", t->name, target->fields[k].name);
    return FL_OK;
}

int fl_table_append(fl_table *t, const fl_batch *b, const fl_write_options *opts, fl_error *err) {
    FL_RETURN_NOT_OK(fl_table_check_writable(t, "append", err));
    int64_t max_rows = opts && opts->max_rows_per_fragment > 0 ? opts->max_rows_per_fragment : 1048576;
    if (max_rows > UINT32_MAX) max_rows = UINT32_MAX;
    const fl_schema *s = t->m->schema;
    fl_field *fields = fl_calloc((size_t)b->n_columns + 1, sizeof *fields);
    const fl_array **cols = fl_calloc((size_t)b->n_columns + 1, sizeof *cols);
    int n = 0, rc = FL_OK;
    txn x = {.kind = OP_APPEND};
    if (!fields || !cols) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK) rc = match_columns(t, b, s, true, fields, cols, &n, err);
    if (rc != FL_OK || b->num_rows == 0) goto done;
    uint32_t n_frags = (uint32_t)((b->num_rows + max_rows - 1) / max_rows);
    if (!(x.new_frags = fl_calloc(n_frags, sizeof *x.new_frags))) {
        rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < n_frags && rc == FL_OK; i++) {
        int64_t start = (int64_t)i * max_rows, count = b->num_rows - start < max_rows ? b->num_rows - start : max_rows;
        fl_fragment *f = &x.new_frags[i];
        x.n_new = i + 1; /* so txn_clear frees this fragment whatever happens next */
        if (!(f->files = fl_calloc(1, sizeof *f->files))) {
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            break;
        }
        rc = write_data_file(t, fields, n, cols, start, count, &f->files[0], err);
        if (rc == FL_OK) {
            f->n_files = 1;
            f->physical_rows = (uint64_t)count;
        }
    }
    if (rc == FL_OK) rc = sync_dir(t, "data", err);
    snprintf(x.detail, sizeof x.detail, "+%lld rows", (long long)b->num_rows);
    if (rc == FL_OK) {
        rc = commit_or_discard(t, &x, err);
    } else {
        discard_txn_files(t, &x);
    }
done:
    txn_clear(&x);
    fl_free(fields);
    fl_free(cols);
    return rc;
}

/* (fragment index, physical offset, position in the caller's list) of one addressed row. */
typedef struct row_addr {
    uint32_t fragment;
    uint64_t offset;
    int64_t index;
} row_addr;

static int cmp_addr(const void *a, const void *b) {
    const row_addr *x = a, *y = b;
    if (x->fragment != y->fragment) return x->fragment < y->fragment ? -1 : 1;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return 0;
}

/* Resolves live row ids to addresses sorted by (fragment, offset). */
static int resolve_rows(fl_table *t, const uint64_t *ids, size_t n, row_addr **out, fl_error *err) {
    row_addr *a = fl_calloc(n ? n : 1, sizeof *a);
    if (!a) return fl_error_set(err, FL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const deletion_set *d;
        if (!fl_table_locate(t, ids[i], &a[i].fragment, &a[i].offset)) {
            fl_free(a);
            return fl_error_set(err, FL_ENOTFOUND, "table '%s': row id %llu not found at version %llu", t->name, (unsigned long long)ids[i],
                                (unsigned long long)t->m->version);
        }
        int rc = fl_table_deletions(t, a[i].fragment, &d, err);
        if (rc == FL_OK && fl_deletion_contains(d, a[i].offset))
            rc = fl_error_set(err, FL_ENOTFOUND, "table '%s': row id %llu is deleted at version %llu", t->name, (unsigned long long)ids[i],
                              (unsigned long long)t->m->version);
        if (rc != FL_OK) {
            fl_free(a);
            return rc;
        }
        a[i].index = (int64_t)i;
    }
    qsort(a, n, sizeof *a, cmp_addr);
    *out = a;
    return FL_OK;
}

/* Adds to x one deletion change per fragment for the rows at addresses a[0..n) (sorted by fragment and
 * offset), merged with the fragments' existing deletions; *total counts the rows newly deleted. */
static int add_deletions(fl_table *t, const row_addr *a, size_t n, txn *x, uint64_t *total, fl_error *err) {
    int rc = FL_OK;
    size_t i = 0;
    while (i < n && rc == FL_OK) {
        size_t j = i;
        while (j < n && a[j].fragment == a[i].fragment) j++;
        const fl_fragment *f = &t->m->fragments[a[i].fragment];
        const deletion_set *d;
        rc = fl_table_deletions(t, a[i].fragment, &d, err);
        if (rc != FL_OK) break;
        /* Merge the fragment's existing deletions with the new offsets (both sorted; new ones deduplicated). */
        uint32_t *merged = fl_malloc((d->n + (j - i)) * sizeof *merged + 4);
        if (!merged) {
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            break;
        }
        uint64_t m = 0, p = 0;
        for (size_t k = i; k < j; k++) {
            if (k > i && a[k].offset == a[k - 1].offset) continue;
            while (p < d->n && d->offsets[p] < a[k].offset) merged[m++] = d->offsets[p++];
            merged[m++] = (uint32_t)a[k].offset;
            (*total)++;
        }
        while (p < d->n) merged[m++] = d->offsets[p++];
        frag_change *grown = fl_realloc(x->changes, ((size_t)x->n_changes + 1) * sizeof *grown);
        fl_buf enc;
        if (!grown || fl_deletion_encode(merged, m, &enc) != FL_OK) {
            fl_free(merged);
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            if (grown) x->changes = grown;
            break;
        }
        fl_free(merged);
        x->changes = grown;
        frag_change *c = &x->changes[x->n_changes];
        memset(c, 0, sizeof *c);
        c->fragment_id = f->id;
        c->deleted_rows = m;
        x->n_changes++;
        if (m == f->physical_rows) {
            /* Every row gone: the fragment leaves the manifest and needs no deletion file. */
            c->drop_fragment = true;
        } else {
            c->deletion_path = new_file_name("_deletions", "del");
            char *path = c->deletion_path ? fl_table_path(t, c->deletion_path) : NULL;
            rc = path ? fl_io_put_if_absent(path, enc.data, enc.size, err) : fl_error_set(err, FL_ENOMEM, "out of memory");
            if (rc != FL_OK) {
                fl_free(c->deletion_path);
                c->deletion_path = NULL;
            }
            fl_free(path);
        }
        fl_buf_free(&enc);
        i = j;
    }
    return rc;
}

int fl_table_delete_rows(fl_table *t, const uint64_t *ids, size_t n, fl_error *err) {
    FL_RETURN_NOT_OK(fl_table_check_writable(t, "delete", err));
    if (n == 0) return FL_OK;
    row_addr *a;
    FL_RETURN_NOT_OK(resolve_rows(t, ids, n, &a, err));
    txn x = {.kind = OP_DELETE};
    uint64_t total = 0;
    int rc = add_deletions(t, a, n, &x, &total, err);
    fl_free(a);
    snprintf(x.detail, sizeof x.detail, "-%llu rows", (unsigned long long)total);
    if (rc == FL_OK) return commit_or_discard(t, &x, err);
    discard_txn_files(t, &x);
    txn_clear(&x);
    return rc;
}

/*
 * Writes, for every fragment that holds one of the batch's rows, a new data file with `fields` where the
 * batch's rows take the batch's values and all other rows keep their current values (NULL for columns
 * the fragment never had). Streams each fragment in chunks, so memory stays bounded by the chunk size
 * whatever the fragment's size. Appends one change per fragment to x.
 */
static int write_column_files(fl_table *t, const fl_batch *b, const fl_field *fields, const fl_array *const *cols, int n_fields, txn *x,
                              fl_error *err) {
    if (!b->row_ids) return fl_error_set(err, FL_EINVAL, "table '%s': the batch has no row_ids naming the rows to write", t->name);
    row_addr *a;
    FL_RETURN_NOT_OK(resolve_rows(t, b->row_ids, (size_t)b->num_rows, &a, err));
    int rc = FL_OK;
    size_t n = (size_t)b->num_rows;
    for (size_t i = 1; i < n; i++)
        if (a[i].fragment == a[i - 1].fragment && a[i].offset == a[i - 1].offset) {
            rc = fl_error_set(err, FL_EINVAL, "table '%s': row id %llu appears twice in the batch", t->name, (unsigned long long)b->row_ids[a[i].index]);
            break;
        }
    fl_array *base = fl_calloc((size_t)n_fields, sizeof *base), *fresh = fl_calloc((size_t)n_fields, sizeof *fresh);
    const fl_array **ptrs = fl_calloc((size_t)n_fields, sizeof *ptrs);
    if (!base || !fresh || !ptrs) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    for (int c = 0; rc == FL_OK && c < n_fields; c++) {
        if (fl_array_init(&base[c], &fields[c]) != FL_OK || fl_array_init(&fresh[c], &fields[c]) != FL_OK)
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        ptrs[c] = &fresh[c];
    }
    size_t i = 0;
    while (rc == FL_OK && i < n) {
        size_t j = i;
        while (j < n && a[j].fragment == a[i].fragment) j++;
        const fl_fragment *f = &t->m->fragments[a[i].fragment];
        new_file nf;
        rc = new_file_open(t, fields, n_fields, &nf, err);
        size_t k = i; /* next address of this fragment to overlay */
        for (uint64_t s0 = 0; rc == FL_OK && s0 < f->physical_rows; s0 += FL_PAGE_MAX_ROWS) {
            uint64_t s1 = f->physical_rows - s0 < FL_PAGE_MAX_ROWS ? f->physical_rows : s0 + FL_PAGE_MAX_ROWS;
            size_t k_end = k;
            while (k_end < j && a[k_end].offset < s1) k_end++;
            for (int c = 0; rc == FL_OK && c < n_fields; c++) {
                fl_array_reset(&base[c]);
                fl_array_reset(&fresh[c]);
                rc = fl_table_read_column(t, a[i].fragment, &fields[c], (int64_t)s0, (int64_t)(s1 - s0), &base[c], err);
                uint64_t pos = s0;
                for (size_t q = k; q < k_end && rc == FL_OK; q++) {
                    if (fl_array_append_range(&fresh[c], &base[c], (int64_t)(pos - s0), (int64_t)(a[q].offset - pos)) != FL_OK ||
                        fl_array_append_from(&fresh[c], cols[c], a[q].index) != FL_OK)
                        rc = fl_error_set(err, FL_ENOMEM, "out of memory");
                    pos = a[q].offset + 1;
                }
                if (rc == FL_OK && fl_array_append_range(&fresh[c], &base[c], (int64_t)(pos - s0), (int64_t)(s1 - pos)) != FL_OK)
                    rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            }
            if (rc == FL_OK) rc = fl_datafile_writer_write(nf.w, ptrs, 0, (int64_t)(s1 - s0), err);
            k = k_end;
        }
        frag_change *grown = rc == FL_OK ? fl_realloc(x->changes, ((size_t)x->n_changes + 1) * sizeof *grown) : NULL;
        if (rc == FL_OK && !grown) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        if (rc == FL_OK) {
            x->changes = grown;
            frag_change *ch = &x->changes[x->n_changes];
            memset(ch, 0, sizeof *ch);
            ch->fragment_id = f->id;
            rc = new_file_finish(&nf, fields, n_fields, &ch->file, err);
            if (rc == FL_OK) x->n_changes++;
            /* The rows whose values changed: their row versions move to the commit's version. */
            if (rc == FL_OK && !(ch->offsets = fl_malloc((j - i) * sizeof *ch->offsets))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            for (size_t q = i; rc == FL_OK && q < j; q++) ch->offsets[q - i] = (uint32_t)a[q].offset;
            if (rc == FL_OK) ch->n_offsets = j - i;
        } else if (nf.w) {
            new_file_abort(&nf);
        }
        i = j;
    }
    for (int c = 0; c < n_fields; c++) {
        if (base) fl_array_clear(&base[c]);
        if (fresh) fl_array_clear(&fresh[c]);
    }
    fl_free(base);
    fl_free(fresh);
    fl_free(ptrs);
    fl_free(a);
    if (rc == FL_OK) rc = sync_dir(t, "data", err);
    return rc;
}

int fl_table_update(fl_table *t, const fl_batch *b, fl_error *err) { return fl_table_update_described(t, b, NULL, err); }

int fl_table_update_described(fl_table *t, const fl_batch *b, const char *detail, fl_error *err) {
    return fl_table_update_as(t, b, NULL, detail, err);
}

int fl_table_update_as(fl_table *t, const fl_batch *b, const char *operation, const char *detail, fl_error *err) {
    FL_RETURN_NOT_OK(fl_table_check_writable(t, "update", err));
    fl_field *fields = fl_calloc((size_t)b->n_columns + 1, sizeof *fields);
    const fl_array **cols = fl_calloc((size_t)b->n_columns + 1, sizeof *cols);
    int n = 0, rc = FL_OK;
    txn x = {.kind = OP_UPDATE, .operation = operation};
    if (!fields || !cols) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK) rc = match_columns(t, b, t->m->schema, false, fields, cols, &n, err);
    if (rc == FL_OK && n == 0) rc = fl_error_set(err, FL_EINVAL, "table '%s': the update names no column", t->name);
    if (rc == FL_OK && b->num_rows > 0) {
        rc = write_column_files(t, b, fields, cols, n, &x, err);
        if (detail) snprintf(x.detail, sizeof x.detail, "%s", detail);
        else snprintf(x.detail, sizeof x.detail, "%lld rows x %d columns", (long long)b->num_rows, n);
        if (rc == FL_OK) rc = txn_commit(t, &x, err);
        if (rc != FL_OK) discard_txn_files(t, &x);
    }
    txn_clear(&x);
    fl_free(fields);
    fl_free(cols);
    return rc;
}

static void assign_field_ids(fl_field *f, int32_t *next) {
    f->id = (*next)++;
    for (int32_t i = 0; i < f->n_children; i++) assign_field_ids(&f->children[i], next);
}

int fl_table_add_columns(fl_table *t, const fl_schema *columns, const fl_batch *values, fl_error *err) {
    if (!columns || columns->n_fields == 0) return fl_error_set(err, FL_EINVAL, "table '%s': no columns to add", t->name);
    FL_RETURN_NOT_OK(fl_table_check_writable(t, "adding columns", err));
    for (int32_t i = 0; i < columns->n_metadata; i++)
        if (!strncmp(columns->metadata[i].key, FL_VIEW_KEY_PREFIX, strlen(FL_VIEW_KEY_PREFIX)))
            return fl_error_set(err, FL_EINVAL, "table '%s': metadata key '%s' is reserved for materialized views (framelake view)", t->name,
                                columns->metadata[i].key);
    txn x = {.kind = OP_ADD_COLUMNS};
    int rc = FL_OK;
    if (!(x.fields = fl_schema_copy(columns))) return fl_error_set(err, FL_ENOMEM, "out of memory");
    x.base_next_field_id = x.next_field_id = t->m->next_field_id;
    for (int32_t i = 0; i < x.fields->n_fields && rc == FL_OK; i++) {
        fl_field *f = &x.fields->fields[i];
        if (!fl_field_names_valid(f))
            rc = fl_error_set(err, FL_EINVAL, "table '%s': new column '%s' has an empty name, a control character or a repeated struct member",
                              t->name, f->name ? f->name : "");
        else if (fl_schema_find(t->m->schema, f->name) >= 0) rc = fl_error_set(err, FL_EEXIST, "table '%s': column '%s' already exists", t->name, f->name);
        else if (fl_schema_find(x.fields, f->name) != i) rc = fl_error_set(err, FL_EINVAL, "table '%s': column '%s' is added twice", t->name, f->name);
        f->nullable = true; /* existing rows read NULL */
        assign_field_ids(f, &x.next_field_id);
    }
    if (rc == FL_OK && x.next_field_id > FL_MAX_FIELD_ID)
        rc = fl_error_set(err, FL_EINVAL, "table '%s': more than %d fields have been created over the table's life", t->name, FL_MAX_FIELD_ID);
    if (rc == FL_OK && values && values->num_rows > 0) {
        fl_field *fields = fl_calloc((size_t)values->n_columns + 1, sizeof *fields);
        const fl_array **cols = fl_calloc((size_t)values->n_columns + 1, sizeof *cols);
        int n = 0;
        if (!fields || !cols) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        if (rc == FL_OK) rc = match_columns(t, values, x.fields, false, fields, cols, &n, err);
        if (rc == FL_OK && n > 0) rc = write_column_files(t, values, fields, cols, n, &x, err);
        fl_free(fields);
        fl_free(cols);
    }
    if (rc == FL_OK) {
        int k = snprintf(x.detail, sizeof x.detail, "+");
        for (int32_t i = 0; i < x.fields->n_fields && k < (int)sizeof x.detail; i++)
            k += snprintf(x.detail + k, sizeof x.detail - (size_t)k, "%s%s", i ? "," : "", x.fields->fields[i].name);
        return commit_or_discard(t, &x, err);
    }
    discard_txn_files(t, &x);
    txn_clear(&x);
    return rc;
}

static int names_txn(fl_table *t, op_kind kind, const char *const *names, const char *const *values, size_t n, fl_error *err) {
    txn x = {.kind = kind};
    x.names = fl_calloc(n ? n : 1, sizeof(char *));
    x.values = fl_calloc(n ? n : 1, sizeof(char *));
    x.n_names = (uint32_t)n;
    bool ok = x.names && x.values;
    for (size_t i = 0; ok && i < n; i++) {
        x.names[i] = fl_strdup(names[i]);
        if (!x.names[i] || (values && values[i] && !(x.values[i] = fl_strdup(values[i])))) ok = false;
    }
    if (!ok) {
        txn_clear(&x);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    if (kind == OP_RENAME) snprintf(x.detail, sizeof x.detail, "%s -> %s", names[0], names[1]);
    else {
        int k = 0;
        for (size_t i = 0; i < n && k < (int)sizeof x.detail; i++) k += snprintf(x.detail + k, sizeof x.detail - (size_t)k, "%s%s", i ? "," : "", names[i]);
    }
    return commit_or_discard(t, &x, err);
}

int fl_table_drop_columns(fl_table *t, const char *const *names, size_t n, fl_error *err) {
    if (n == 0) return fl_error_set(err, FL_EINVAL, "table '%s': no columns to drop", t->name);
    FL_RETURN_NOT_OK(fl_table_check_writable(t, "dropping columns", err));
    for (size_t i = 0; i < n; i++)
        if (fl_schema_find(t->m->schema, names[i]) < 0) return fl_error_set(err, FL_ENOTFOUND, "table '%s': column '%s' not found", t->name, names[i]);
    return names_txn(t, OP_DROP_COLUMNS, names, NULL, n, err);
}

int fl_table_rename_column(fl_table *t, const char *from, const char *to, fl_error *err) {
    if (!to || !to[0]) return fl_error_set(err, FL_EINVAL, "table '%s': the new column name is empty", t->name);
    FL_RETURN_NOT_OK(fl_table_check_writable(t, "renaming columns", err));
    if (fl_has_control_char(to)) return fl_error_set(err, FL_EINVAL, "table '%s': column name has a control character", t->name);
    if (fl_schema_find(t->m->schema, from) < 0) return fl_error_set(err, FL_ENOTFOUND, "table '%s': column '%s' not found", t->name, from);
    if (fl_schema_find(t->m->schema, to) >= 0) return fl_error_set(err, FL_EEXIST, "table '%s': column '%s' already exists", t->name, to);
    const char *names[2] = {from, to};
    return names_txn(t, OP_RENAME, names, NULL, 2, err);
}

int fl_table_set_metadata(fl_table *t, const char *const *keys, const char *const *values, size_t n, fl_error *err) {
    if (n == 0) return FL_OK;
    for (size_t i = 0; i < n; i++)
        if (keys[i] && !strncmp(keys[i], FL_VIEW_KEY_PREFIX, strlen(FL_VIEW_KEY_PREFIX)))
            return fl_error_set(err, FL_EINVAL, "table '%s': metadata key '%s' is reserved for materialized views (framelake view)", t->name, keys[i]);
    return names_txn(t, OP_METADATA, keys, values, n, err);
}

int fl_table_restore(fl_table *t, uint64_t version, fl_error *err) {
    txn x = {.kind = OP_RESTORE};
    FL_RETURN_NOT_OK(fl_table_load_manifest(t, version, &x.target, err));
    snprintf(x.detail, sizeof x.detail, "to version %llu", (unsigned long long)version);
    return commit_or_discard(t, &x, err);
}

/* ---- compaction ---- */

static int add_run(fl_fragment *f, uint64_t id) {
    if (f->n_runs && f->runs[f->n_runs - 1].start + f->runs[f->n_runs - 1].count == id) {
        f->runs[f->n_runs - 1].count++;
        return FL_OK;
    }
    fl_row_run *grown = fl_realloc(f->runs, ((size_t)f->n_runs + 1) * sizeof *grown);
    if (!grown) return FL_ENOMEM;
    f->runs = grown;
    f->runs[f->n_runs++] = (fl_row_run){id, 1};
    return FL_OK;
}

/* Copies the row versions of a fragment's physical rows [lo, hi) onto out's; calls come in ascending order. */
typedef struct vrun_reader {
    fl_vrun_cursor c;
    uint64_t off, count, version; /* the current run */
} vrun_reader;

static int copy_versions(vrun_reader *r, uint64_t lo, uint64_t hi, fl_fragment *out) {
    while (lo < hi) {
        while (lo >= r->off + r->count)
            if (!fl_vrun_next(&r->c, &r->off, &r->count, &r->version)) return FL_ECORRUPT;
        uint64_t stop = hi < r->off + r->count ? hi : r->off + r->count;
        FL_RETURN_NOT_OK(fl_version_runs_push(&out->vruns, &out->n_vruns, stop - lo, r->version));
        lo = stop;
    }
    return FL_OK;
}

/* Rewrites fragments [first, last] (indexes) into one new fragment holding their live rows, with their
 * row ids and row versions. */
static int compact_bin(fl_table *t, uint32_t first, uint32_t last, fl_fragment *out, fl_error *err) {
    const fl_schema *s = t->m->schema;
    int nf = s->n_fields;
    memset(out, 0, sizeof *out);
    fl_array *cols = fl_calloc((size_t)nf, sizeof *cols), *live = fl_calloc((size_t)nf, sizeof *live);
    const fl_array **ptrs = fl_calloc((size_t)nf, sizeof *ptrs);
    char *rel = new_file_name("data", "fld");
    char *path = rel ? fl_table_path(t, rel) : NULL;
    int32_t *ids = fl_calloc((size_t)nf, sizeof *ids);
    fl_datafile_writer *w = NULL;
    int rc = cols && live && ptrs && path && ids ? FL_OK : fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK) rc = fl_datafile_writer_open(path, s->fields, nf, &w, err);
    for (int c = 0; rc == FL_OK && c < nf; c++) {
        if (fl_array_init(&cols[c], &s->fields[c]) != FL_OK || fl_array_init(&live[c], &s->fields[c]) != FL_OK)
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        ptrs[c] = &live[c];
        ids[c] = s->fields[c].id;
    }
    for (uint32_t fi = first; rc == FL_OK && fi <= last; fi++) {
        const fl_fragment *f = &t->m->fragments[fi];
        const deletion_set *d;
        vrun_reader vr = {.c = {f, 0, 0}};
        fl_rid_cursor ids_at = {f, 0, 0};
        rc = fl_table_deletions(t, fi, &d, err);
        for (uint64_t start = 0; rc == FL_OK && start < f->physical_rows; start += FL_PAGE_MAX_ROWS) {
            uint64_t count = f->physical_rows - start < FL_PAGE_MAX_ROWS ? f->physical_rows - start : FL_PAGE_MAX_ROWS;
            for (int c = 0; rc == FL_OK && c < nf; c++) {
                fl_array_reset(&cols[c]);
                fl_array_reset(&live[c]);
                rc = fl_table_read_column(t, fi, &s->fields[c], (int64_t)start, (int64_t)count, &cols[c], err);
            }
            /* Copy runs of live rows; record their ids. */
            uint64_t r = 0;
            while (rc == FL_OK && r < count) {
                if (fl_deletion_contains(d, start + r)) {
                    fl_rid_next(&ids_at);
                    r++;
                    continue;
                }
                uint64_t e = r;
                while (e < count && !fl_deletion_contains(d, start + e)) e++;
                for (int c = 0; rc == FL_OK && c < nf; c++)
                    if (fl_array_append_range(&live[c], &cols[c], (int64_t)r, (int64_t)(e - r)) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
                for (uint64_t k = r; rc == FL_OK && k < e; k++)
                    if (add_run(out, fl_rid_next(&ids_at)) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
                if (rc == FL_OK && (rc = copy_versions(&vr, start + r, start + e, out)) != FL_OK)
                    rc = rc == FL_ENOMEM ? fl_error_set(err, rc, "out of memory")
                                         : fl_error_set(err, rc, "table '%s': fragment %llu: row versions do not cover its rows", t->name,
                                                        (unsigned long long)f->id);
                out->physical_rows += e - r;
                r = e;
            }
            if (rc == FL_OK && live[0].length) rc = fl_datafile_writer_write(w, ptrs, 0, live[0].length, err);
        }
    }
    fl_file_ref *ref = NULL;
    if (rc == FL_OK && !(ref = out->files = fl_calloc(1, sizeof *ref))) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc == FL_OK) {
        rc = fl_datafile_writer_finish(w, &ref->size, err);
        w = NULL;
    }
    if (rc == FL_OK) {
        out->n_files = 1;
        ref->path = rel;
        ref->field_ids = ids;
        ref->n_field_ids = (uint32_t)nf;
        rel = NULL;
        ids = NULL;
    }
    fl_datafile_writer_abort(w);
    for (int c = 0; c < nf; c++) {
        if (cols) fl_array_clear(&cols[c]);
        if (live) fl_array_clear(&live[c]);
    }
    fl_free(cols);
    fl_free(live);
    fl_free(ptrs);
    fl_free(rel);
    fl_free(path);
    fl_free(ids);
    if (rc != FL_OK) fl_fragment_clear(out);
    return rc;
}

int fl_table_compact(fl_table *t, const fl_compact_options *opts, fl_compact_stats *stats, fl_error *err) {
    int64_t target = opts && opts->target_rows_per_fragment > 0 ? opts->target_rows_per_fragment : 1048576;
    double max_deleted = opts && opts->max_deleted_fraction > 0 ? opts->max_deleted_fraction : 0.1;
    if (target > UINT32_MAX) target = UINT32_MAX;
    fl_compact_stats st = {0};
    const fl_manifest *m = t->m;
    txn x = {.kind = OP_COMPACT};
    int rc = FL_OK;
    uint32_t i = 0;
    while (rc == FL_OK && i < m->n_fragments) {
        /* A bin is a run of consecutive candidate fragments whose live rows fit the target. */
        uint32_t j = i;
        int64_t rows = 0;
        bool dirty = false;
        while (j < m->n_fragments) {
            const fl_fragment *f = &m->fragments[j];
            int64_t live = (int64_t)(f->physical_rows - f->deleted_rows);
            bool candidate = live < target || (double)f->deleted_rows > max_deleted * (double)f->physical_rows;
            if (!candidate || (j > i && rows + live > target)) break;
            dirty = dirty || f->deleted_rows > 0;
            rows += live;
            j++;
        }
        if (j == i) {
            i++;
            continue;
        }
        if (j - i == 1 && !dirty) {
            i = j;
            continue;
        }
        fl_fragment nf;
        rc = compact_bin(t, i, j - 1, &nf, err);
        if (rc != FL_OK) break;
        fl_fragment *grown = fl_realloc(x.new_frags, ((size_t)x.n_new + 1) * sizeof *grown);
        uint64_t *rem = fl_realloc(x.removed, ((size_t)x.n_removed + (j - i)) * sizeof *rem);
        if (grown) x.new_frags = grown;
        if (rem) x.removed = rem;
        if (!grown || !rem) {
            fl_fragment_clear(&nf);
            rc = fl_error_set(err, FL_ENOMEM, "out of memory");
            break;
        }
        x.new_frags[x.n_new++] = nf;
        st.fragments_added++;
        st.rows_rewritten += (int64_t)nf.physical_rows;
        for (uint32_t k = i; k < j; k++) {
            x.removed[x.n_removed++] = m->fragments[k].id;
            st.deleted_rows_dropped += (int64_t)m->fragments[k].deleted_rows;
            st.fragments_removed++;
        }
        i = j;
    }
    if (rc == FL_OK && x.n_new == 0) {
        txn_clear(&x);
        if (stats) *stats = st;
        return FL_OK;
    }
    if (rc == FL_OK) rc = sync_dir(t, "data", err);
    snprintf(x.detail, sizeof x.detail, "%lld fragments -> %lld", (long long)st.fragments_removed, (long long)st.fragments_added);
    if (rc == FL_OK) rc = commit_or_discard(t, &x, err);
    else {
        discard_txn_files(t, &x);
        txn_clear(&x);
    }
    if (rc == FL_OK && stats) *stats = st;
    return rc;
}

/* ---- materialized view refresh ---- */

struct fl_refresh {
    fl_table *t;
    txn x;
    int64_t max_rows;
    new_file nf;                /* the fragment being written (nf.w NULL: none) */
    fl_fragment cur;            /* its row id runs and row count */
    bool removed;               /* fl_refresh_remove or _remove_all was called */
};

int fl_refresh_begin(fl_table *t, int64_t max_rows_per_fragment, fl_refresh **out, fl_error *err) {
    fl_refresh *r = fl_calloc(1, sizeof *r);
    if (!r) return fl_error_set(err, FL_ENOMEM, "out of memory");
    r->t = t;
    r->x.kind = OP_REFRESH;
    r->max_rows = max_rows_per_fragment > 0 && max_rows_per_fragment <= UINT32_MAX ? max_rows_per_fragment : 1048576;
    *out = r;
    return FL_OK;
}

int fl_refresh_remove_all(fl_refresh *r, fl_error *err) {
    const fl_manifest *m = r->t->m;
    if (r->removed) return fl_error_set(err, FL_EINVAL, "table '%s': a refresh removes rows once", r->t->name);
    r->removed = true;
    if (!(r->x.removed = fl_malloc((m->n_fragments ? m->n_fragments : 1) * sizeof *r->x.removed))) return fl_error_set(err, FL_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < m->n_fragments; i++) r->x.removed[r->x.n_removed++] = m->fragments[i].id;
    return FL_OK;
}

int fl_refresh_remove(fl_refresh *r, const uint64_t *ids, size_t n, fl_error *err) {
    if (r->removed) return fl_error_set(err, FL_EINVAL, "table '%s': a refresh removes rows once", r->t->name);
    r->removed = true;
    if (n == 0) return FL_OK;
    row_addr *a;
    FL_RETURN_NOT_OK(resolve_rows(r->t, ids, n, &a, err));
    int rc = FL_OK;
    for (size_t i = 1; i < n && rc == FL_OK; i++)
        if (a[i].fragment == a[i - 1].fragment && a[i].offset == a[i - 1].offset)
            rc = fl_error_set(err, FL_EINVAL, "table '%s': row id %llu is removed twice", r->t->name, (unsigned long long)ids[a[i].index]);
    uint64_t total = 0;
    if (rc == FL_OK) rc = add_deletions(r->t, a, n, &r->x, &total, err);
    fl_free(a);
    return rc;
}

/* Closes the fragment being written and adds it to the transaction. */
static int finish_fragment(fl_refresh *r, fl_error *err) {
    if (!r->nf.w) return FL_OK;
    const fl_schema *s = r->t->m->schema;
    fl_fragment *grown = fl_realloc(r->x.new_frags, ((size_t)r->x.n_new + 1) * sizeof *grown);
    fl_file_ref *ref = fl_calloc(1, sizeof *ref);
    if (grown) r->x.new_frags = grown;
    if (!grown || !ref) {
        fl_free(ref);
        new_file_abort(&r->nf);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    int rc = new_file_finish(&r->nf, s->fields, s->n_fields, ref, err);
    if (rc != FL_OK) {
        fl_free(ref);
        return rc;
    }
    r->cur.files = ref;
    r->cur.n_files = 1;
    r->x.new_frags[r->x.n_new++] = r->cur;
    memset(&r->cur, 0, sizeof r->cur);
    return FL_OK;
}

int fl_refresh_add(fl_refresh *r, const fl_batch *b, fl_error *err) {
    const fl_schema *s = r->t->m->schema;
    if (b->n_columns != s->n_fields || !b->row_ids)
        return fl_error_set(err, FL_EINVAL, "table '%s': refreshed rows need the table's %d columns and row ids", r->t->name, s->n_fields);
    const fl_array **cols = fl_calloc((size_t)s->n_fields, sizeof *cols);
    if (!cols) return fl_error_set(err, FL_ENOMEM, "out of memory");
    int rc = FL_OK;
    for (int32_t i = 0; i < s->n_fields && rc == FL_OK; i++) {
        const fl_field *tf = &s->fields[i], *bf = &b->schema->fields[i];
        if (strcmp(tf->name, bf->name) || !fl_field_same_type(tf, bf) || b->columns[i].type != tf->type || b->columns[i].length != b->num_rows)
            rc = fl_error_set(err, FL_ETYPE, "table '%s': refreshed column %d is '%s', the table's is '%s' (or its type differs)", r->t->name, i,
                              bf->name, tf->name);
        else if (!tf->nullable && b->columns[i].null_count)
            rc = fl_error_set(err, FL_ETYPE, "table '%s': column '%s' is not nullable but the rows have %lld NULLs", r->t->name, tf->name,
                              (long long)b->columns[i].null_count);
        cols[i] = &b->columns[i];
    }
    int64_t done = 0;
    while (rc == FL_OK && done < b->num_rows) {
        if (!r->nf.w) rc = new_file_open(r->t, s->fields, s->n_fields, &r->nf, err);
        if (rc != FL_OK) break;
        int64_t room = r->max_rows - (int64_t)r->cur.physical_rows, take = b->num_rows - done < room ? b->num_rows - done : room;
        rc = fl_datafile_writer_write(r->nf.w, cols, done, take, err);
        for (int64_t i = done; rc == FL_OK && i < done + take; i++)
            if (add_run(&r->cur, b->row_ids[i]) != FL_OK) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        r->cur.physical_rows += (uint64_t)take;
        done += take;
        if (rc == FL_OK && (int64_t)r->cur.physical_rows == r->max_rows) rc = finish_fragment(r, err);
    }
    fl_free(cols);
    return rc;
}

void fl_refresh_abort(fl_refresh *r) {
    if (!r) return;
    if (r->nf.w) new_file_abort(&r->nf);
    fl_fragment_clear(&r->cur);
    discard_txn_files(r->t, &r->x);
    txn_clear(&r->x);
    fl_free(r);
}

int fl_refresh_commit(fl_refresh *r, const char *const *keys, const char *const *values, size_t n, const char *detail, fl_error *err) {
    int rc = finish_fragment(r, err);
    if (rc == FL_OK && r->x.n_new) rc = sync_dir(r->t, "data", err);
    if (rc == FL_OK && n) {
        r->x.names = fl_calloc(n, sizeof(char *));
        r->x.values = fl_calloc(n, sizeof(char *));
        r->x.n_names = (uint32_t)n;
        if (!r->x.names || !r->x.values) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        for (size_t i = 0; rc == FL_OK && i < n; i++)
            if (!(r->x.names[i] = fl_strdup(keys[i])) || (values[i] && !(r->x.values[i] = fl_strdup(values[i]))))
                rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    snprintf(r->x.detail, sizeof r->x.detail, "%s", detail ? detail : "");
    if (rc == FL_OK) rc = txn_commit(r->t, &r->x, err);
    if (rc != FL_OK) discard_txn_files(r->t, &r->x);
    txn_clear(&r->x);
    fl_fragment_clear(&r->cur);
    fl_free(r);
    return rc;
}
