/*
 * manifest.c — encoding, decoding and copying manifests; deletion files.
 *
 *   manifest := "FLM1" u32 format | u64 version | u64 read_version | i64 timestamp_ms | str operation
 *               | str detail | u64 next_row_id | u64 next_fragment_id | i32 next_field_id | i64 num_rows
 *               | schema | u32 n_fragments fragment* | u32 n_indexes index* | u32 n_touched u64*
 *               | u8 flags (bit 0 schema_changed, bit 1 restore) | u64 table_id | u64 restored_at
 *               | u64 xxh3(all preceding bytes)
 *   fragment := u64 id | u64 physical_rows | u64 created_version | u32 n_runs (varint zigzag(start - end of the
 *               previous run), varint count - 1)* | u32 n_files file* | str deletion_path (null: none)
 *               | u64 deleted_rows | u64 deletion_version | u32 n_vruns (varint count - 1, varint version)*
 * Format 1 (still read) stores runs as (u64 start, u64 count) and lacks table_id, restored_at and the row
 * versions (n_vruns 0).
 *   file     := str path | u64 size | u64 created_version | u32 n (i32 field_id)*
 *   index    := str name | str type | u32 n i32* | u32 n str* | u32 n u64* | u64 created_version | kvs
 */
#include "table.h"

#include <stdlib.h>

void fl_fragment_clear(fl_fragment *f) {
    fl_free(f->runs);
    fl_free(f->vruns);
    for (uint32_t i = 0; i < f->n_files; i++) {
        fl_free(f->files[i].path);
        fl_free(f->files[i].field_ids);
    }
    fl_free(f->files);
    fl_free(f->deletion_path);
    memset(f, 0, sizeof *f);
}

void fl_index_ref_clear(fl_index_ref *x) {
    fl_free(x->name);
    fl_free(x->type);
    fl_free(x->field_ids);
    fl_strings_free(x->files, x->n_files);
    fl_free(x->fragment_ids);
    fl_kvs_free(x->params, x->n_params);
    memset(x, 0, sizeof *x);
}

void fl_manifest_free(fl_manifest *m) {
    if (!m) return;
    fl_free(m->operation);
    fl_free(m->detail);
    fl_schema_free(m->schema);
    for (uint32_t i = 0; i < m->n_fragments; i++) fl_fragment_clear(&m->fragments[i]);
    fl_free(m->fragments);
    for (uint32_t i = 0; i < m->n_indexes; i++) fl_index_ref_clear(&m->indexes[i]);
    fl_free(m->indexes);
    fl_free(m->touched);
    fl_free(m);
}

static void *dup_array(const void *src, size_t n, size_t size, bool *ok) {
    if (!n) return NULL;
    void *p = fl_malloc(n * size);
    if (!p) *ok = false;
    else memcpy(p, src, n * size);
    return p;
}

int fl_fragment_copy_into(fl_fragment *dst, const fl_fragment *src) {
    bool ok = true;
    *dst = *src;
    dst->runs = dup_array(src->runs, src->n_runs, sizeof *src->runs, &ok);
    dst->vruns = dup_array(src->vruns, src->n_vruns, sizeof *src->vruns, &ok);
    dst->deletion_path = NULL;
    if (src->deletion_path && !(dst->deletion_path = fl_strdup(src->deletion_path))) ok = false;
    dst->files = NULL;
    dst->n_files = 0;
    if (src->n_files && ok) {
        dst->files = fl_calloc(src->n_files, sizeof *dst->files);
        if (!dst->files) ok = false;
        for (uint32_t i = 0; ok && i < src->n_files; i++) {
            dst->n_files = i + 1;
            dst->files[i] = src->files[i];
            dst->files[i].path = fl_strdup(src->files[i].path);
            dst->files[i].field_ids = dup_array(src->files[i].field_ids, src->files[i].n_field_ids, sizeof(int32_t), &ok);
            if (!dst->files[i].path) ok = false;
        }
    }
    if (!ok) {
        fl_fragment_clear(dst);
        return FL_ENOMEM;
    }
    return FL_OK;
}

int fl_index_ref_copy_into(fl_index_ref *dst, const fl_index_ref *src) {
    bool ok = true;
    memset(dst, 0, sizeof *dst);
    dst->name = fl_strdup(src->name);
    dst->type = fl_strdup(src->type);
    dst->n_field_ids = src->n_field_ids;
    dst->field_ids = dup_array(src->field_ids, src->n_field_ids, sizeof(int32_t), &ok);
    dst->n_fragment_ids = src->n_fragment_ids;
    dst->fragment_ids = dup_array(src->fragment_ids, src->n_fragment_ids, sizeof(uint64_t), &ok);
    dst->created_version = src->created_version;
    if (src->n_files) {
        dst->files = fl_calloc(src->n_files, sizeof(char *));
        if (!dst->files) ok = false;
        for (uint32_t i = 0; ok && i < src->n_files; i++) {
            dst->n_files = i + 1;
            if (!(dst->files[i] = fl_strdup(src->files[i]))) ok = false;
        }
    }
    if (src->n_params) {
        dst->params = fl_calloc((size_t)src->n_params, sizeof *dst->params);
        if (!dst->params) ok = false;
        for (int32_t i = 0; ok && i < src->n_params; i++) {
            dst->n_params = i + 1;
            dst->params[i].key = fl_strdup(src->params[i].key);
            dst->params[i].value = fl_strdup(src->params[i].value);
            if (!dst->params[i].key || !dst->params[i].value) ok = false;
        }
    }
    if (!dst->name || !dst->type || !ok) {
        fl_index_ref_clear(dst);
        return FL_ENOMEM;
    }
    return FL_OK;
}

fl_manifest *fl_manifest_copy(const fl_manifest *src) {
    fl_manifest *m = fl_calloc(1, sizeof *m);
    if (!m) return NULL;
    *m = *src;
    m->operation = NULL;
    m->detail = NULL;
    m->schema = NULL;
    m->fragments = NULL;
    m->n_fragments = 0;
    m->indexes = NULL;
    m->n_indexes = 0;
    m->touched = NULL;
    m->n_touched = 0;
    bool ok = true;
    if (!(m->operation = fl_strdup(src->operation)) || !(m->detail = fl_strdup(src->detail)) || !(m->schema = fl_schema_copy(src->schema)))
        ok = false;
    if (ok && src->n_fragments) {
        if (!(m->fragments = fl_calloc(src->n_fragments, sizeof *m->fragments))) ok = false;
        for (uint32_t i = 0; ok && i < src->n_fragments; i++) {
            if (fl_fragment_copy_into(&m->fragments[i], &src->fragments[i]) != FL_OK) ok = false;
            else m->n_fragments = i + 1;
        }
    }
    if (ok && src->n_indexes) {
        if (!(m->indexes = fl_calloc(src->n_indexes, sizeof *m->indexes))) ok = false;
        for (uint32_t i = 0; ok && i < src->n_indexes; i++) {
            if (fl_index_ref_copy_into(&m->indexes[i], &src->indexes[i]) != FL_OK) ok = false;
            else m->n_indexes = i + 1;
        }
    }
    if (ok && src->n_touched) {
        m->touched = dup_array(src->touched, src->n_touched, sizeof *src->touched, &ok);
        if (ok) m->n_touched = src->n_touched;
    }
    if (!ok) {
        fl_manifest_free(m);
        return NULL;
    }
    return m;
}

void fl_manifest_count_rows(fl_manifest *m) {
    int64_t n = 0;
    for (uint32_t i = 0; i < m->n_fragments; i++) n += (int64_t)(m->fragments[i].physical_rows - m->fragments[i].deleted_rows);
    m->num_rows = n;
}

int fl_manifest_encode(const fl_manifest *m, fl_buf *b, fl_error *err) {
    fl_buf_init(b);
    fl_buf_append(b, FL_MANIFEST_MAGIC, 4);
    fl_buf_put_u32(b, FL_MANIFEST_FORMAT);
    fl_buf_put_u64(b, m->version);
    fl_buf_put_u64(b, m->read_version);
    fl_buf_put_i64(b, m->timestamp_ms);
    fl_buf_put_str(b, m->operation);
    fl_buf_put_str(b, m->detail);
    fl_buf_put_u64(b, m->next_row_id);
    fl_buf_put_u64(b, m->next_fragment_id);
    fl_buf_put_i32(b, m->next_field_id);
    fl_buf_put_i64(b, m->num_rows);
    fl_schema_encode(b, m->schema);
    fl_buf_put_u32(b, m->n_fragments);
    for (uint32_t i = 0; i < m->n_fragments; i++) {
        const fl_fragment *f = &m->fragments[i];
        fl_buf_put_u64(b, f->id);
        fl_buf_put_u64(b, f->physical_rows);
        fl_buf_put_u64(b, f->created_version);
        /* Runs: start as a zigzag delta from the previous run's end, count - 1 (varints): a view's scattered
         * ids take about two bytes each. */
        fl_buf_put_u32(b, f->n_runs);
        uint64_t end = 0;
        for (uint32_t k = 0; k < f->n_runs; k++) {
            int64_t delta = (int64_t)(f->runs[k].start - end);
            fl_buf_put_varint(b, ((uint64_t)delta << 1) ^ (uint64_t)(delta >> 63));
            fl_buf_put_varint(b, f->runs[k].count - 1);
            end = f->runs[k].start + f->runs[k].count;
        }
        fl_buf_put_u32(b, f->n_files);
        for (uint32_t k = 0; k < f->n_files; k++) {
            const fl_file_ref *r = &f->files[k];
            fl_buf_put_str(b, r->path);
            fl_buf_put_u64(b, r->size);
            fl_buf_put_u64(b, r->created_version);
            fl_buf_put_u32(b, r->n_field_ids);
            for (uint32_t j = 0; j < r->n_field_ids; j++) fl_buf_put_i32(b, r->field_ids[j]);
        }
        fl_buf_put_str(b, f->deletion_path);
        fl_buf_put_u64(b, f->deleted_rows);
        fl_buf_put_u64(b, f->deletion_version);
        fl_buf_put_u32(b, f->n_vruns);
        for (uint32_t k = 0; k < f->n_vruns; k++) {
            fl_buf_put_varint(b, f->vruns[k].count - 1);
            fl_buf_put_varint(b, f->vruns[k].version);
        }
    }
    fl_buf_put_u32(b, m->n_indexes);
    for (uint32_t i = 0; i < m->n_indexes; i++) {
        const fl_index_ref *x = &m->indexes[i];
        fl_buf_put_str(b, x->name);
        fl_buf_put_str(b, x->type);
        fl_buf_put_u32(b, x->n_field_ids);
        for (uint32_t k = 0; k < x->n_field_ids; k++) fl_buf_put_i32(b, x->field_ids[k]);
        fl_buf_put_u32(b, x->n_files);
        for (uint32_t k = 0; k < x->n_files; k++) fl_buf_put_str(b, x->files[k]);
        fl_buf_put_u32(b, x->n_fragment_ids);
        for (uint32_t k = 0; k < x->n_fragment_ids; k++) fl_buf_put_u64(b, x->fragment_ids[k]);
        fl_buf_put_u64(b, x->created_version);
        fl_kvs_encode(b, x->params, x->n_params);
    }
    fl_buf_put_u32(b, m->n_touched);
    for (uint32_t i = 0; i < m->n_touched; i++) fl_buf_put_u64(b, m->touched[i]);
    fl_buf_put_u8(b, (uint8_t)((m->schema_changed ? 1 : 0) | (m->restore ? 2 : 0)));
    fl_buf_put_u64(b, m->table_id);
    fl_buf_put_u64(b, m->restored_at);
    if (!b->failed) fl_buf_put_u64(b, fl_hash64(b->data, b->size));
    if (b->failed) {
        fl_buf_free(b);
        return fl_error_set(err, FL_ENOMEM, "out of memory encoding a manifest");
    }
    return FL_OK;
}

/* A data file path must stay inside the table directory. */
static bool safe_relative_path(const char *p) {
    if (!p[0] || p[0] == '/' || strstr(p, "..")) return false;
    for (; *p; p++)
        if ((unsigned char)*p < 0x20) return false;
    return true;
}

static bool decode_fragment(fl_reader *r, fl_fragment *f, const fl_manifest *m, uint32_t format) {
    uint32_t n;
    if (!fl_get_u64(r, &f->id, "fragment id") || !fl_get_u64(r, &f->physical_rows, "fragment rows") ||
        !fl_get_u64(r, &f->created_version, "fragment version") || !fl_get_count(r, &n, format < 2 ? 16 : 2, "row id run count"))
        return false;
    if (f->physical_rows > UINT32_MAX) return fl_reader_fail(r, "fragment %llu has %llu rows (max %u)", (unsigned long long)f->id,
                                                             (unsigned long long)f->physical_rows, UINT32_MAX);
    if (n && !(f->runs = fl_calloc(n, sizeof *f->runs))) return fl_reader_fail(r, "out of memory");
    f->n_runs = n;
    uint64_t total = 0;
    uint64_t end = 0;
    for (uint32_t k = 0; k < n; k++) {
        if (format < 2) {
            if (!fl_get_u64(r, &f->runs[k].start, "row id run start") || !fl_get_u64(r, &f->runs[k].count, "row id run length")) return false;
        } else {
            uint64_t zz, count;
            if (!fl_get_varint(r, &zz, "row id run start") || !fl_get_varint(r, &count, "row id run length")) return false;
            f->runs[k].start = end + (uint64_t)((int64_t)(zz >> 1) ^ -(int64_t)(zz & 1));
            f->runs[k].count = count + 1;
            if (count == UINT64_MAX) return fl_reader_fail(r, "fragment %llu: invalid row id run", (unsigned long long)f->id);
        }
        end = f->runs[k].start + f->runs[k].count;
        if (f->runs[k].count == 0 || f->runs[k].count > f->physical_rows || f->runs[k].start >= m->next_row_id ||
            f->runs[k].count > m->next_row_id - f->runs[k].start)
            return fl_reader_fail(r, "fragment %llu: invalid row id run", (unsigned long long)f->id);
        total += f->runs[k].count;
    }
    if (total != f->physical_rows) return fl_reader_fail(r, "fragment %llu: row id runs cover %llu rows, fragment has %llu",
                                                         (unsigned long long)f->id, (unsigned long long)total, (unsigned long long)f->physical_rows);
    if (!fl_get_count(r, &n, 24, "file count")) return false;
    if (n && !(f->files = fl_calloc(n, sizeof *f->files))) return fl_reader_fail(r, "out of memory");
    for (uint32_t k = 0; k < n; k++) {
        fl_file_ref *ref = &f->files[k];
        f->n_files = k + 1;
        uint32_t nf;
        if (!fl_get_str(r, &ref->path, 4096, false, "file path") || !fl_get_u64(r, &ref->size, "file size") ||
            !fl_get_u64(r, &ref->created_version, "file version") || !fl_get_count(r, &nf, 4, "file field count"))
            return false;
        if (!safe_relative_path(ref->path)) return fl_reader_fail(r, "unsafe file path '%s'", ref->path);
        if (nf && !(ref->field_ids = fl_calloc(nf, sizeof(int32_t)))) return fl_reader_fail(r, "out of memory");
        ref->n_field_ids = nf;
        for (uint32_t j = 0; j < nf; j++)
            if (!fl_get_i32(r, &ref->field_ids[j], "file field id")) return false;
    }
    if (!fl_get_str(r, &f->deletion_path, 4096, true, "deletion path") || !fl_get_u64(r, &f->deleted_rows, "deleted rows") ||
        !fl_get_u64(r, &f->deletion_version, "deletion version"))
        return false;
    if (f->deletion_path && !safe_relative_path(f->deletion_path)) return fl_reader_fail(r, "unsafe deletion path");
    if (f->physical_rows == 0) return fl_reader_fail(r, "fragment %llu has no rows", (unsigned long long)f->id);
    if (f->deleted_rows >= f->physical_rows) return fl_reader_fail(r, "fragment %llu: every row is deleted", (unsigned long long)f->id);
    if ((f->deletion_path == NULL) != (f->deleted_rows == 0)) return fl_reader_fail(r, "fragment %llu: deletion file and count disagree", (unsigned long long)f->id);
    if (format < 2) return true;
    if (!fl_get_count(r, &n, 2, "row version run count")) return false;
    if (n && !(f->vruns = fl_calloc(n, sizeof *f->vruns))) return fl_reader_fail(r, "out of memory");
    f->n_vruns = n;
    total = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t count;
        if (!fl_get_varint(r, &count, "row version run length") || !fl_get_varint(r, &f->vruns[k].version, "row version")) return false;
        if (count >= f->physical_rows) return fl_reader_fail(r, "fragment %llu: invalid row version run", (unsigned long long)f->id);
        f->vruns[k].count = count + 1;
        if (f->vruns[k].count == 0 || f->vruns[k].count > f->physical_rows || f->vruns[k].version == 0 || f->vruns[k].version > m->version)
            return fl_reader_fail(r, "fragment %llu: invalid row version run", (unsigned long long)f->id);
        total += f->vruns[k].count;
    }
    if (n && total != f->physical_rows)
        return fl_reader_fail(r, "fragment %llu: row versions cover %llu rows, fragment has %llu", (unsigned long long)f->id,
                              (unsigned long long)total, (unsigned long long)f->physical_rows);
    return true;
}

static bool decode_index(fl_reader *r, fl_index_ref *x) {
    uint32_t n;
    if (!fl_get_str(r, &x->name, 256, false, "index name") || !fl_get_str(r, &x->type, 64, false, "index type") ||
        !fl_get_count(r, &n, 4, "index field count"))
        return false;
    if (n && !(x->field_ids = fl_calloc(n, sizeof(int32_t)))) return fl_reader_fail(r, "out of memory");
    x->n_field_ids = n;
    for (uint32_t k = 0; k < n; k++)
        if (!fl_get_i32(r, &x->field_ids[k], "index field id")) return false;
    if (!fl_get_count(r, &n, 4, "index file count")) return false;
    if (n && !(x->files = fl_calloc(n, sizeof(char *)))) return fl_reader_fail(r, "out of memory");
    for (uint32_t k = 0; k < n; k++) {
        x->n_files = k + 1;
        if (!fl_get_str(r, &x->files[k], 4096, false, "index file")) return false;
        if (!safe_relative_path(x->files[k])) return fl_reader_fail(r, "unsafe index file path");
    }
    if (!fl_get_count(r, &n, 8, "index fragment count")) return false;
    if (n && !(x->fragment_ids = fl_calloc(n, sizeof(uint64_t)))) return fl_reader_fail(r, "out of memory");
    x->n_fragment_ids = n;
    for (uint32_t k = 0; k < n; k++)
        if (!fl_get_u64(r, &x->fragment_ids[k], "index fragment id")) return false;
    return fl_get_u64(r, &x->created_version, "index version") && fl_kvs_decode(r, &x->params, &x->n_params);
}

/* Collects the field ids of a tree; false if one is outside [0, next). */
static bool collect_field_ids(const fl_field *f, int32_t next, int32_t **ids, size_t *n, size_t *cap) {
    if (f->id < 0 || f->id >= next) return false;
    if (!fl_reserve((void **)ids, cap, *n + 1, sizeof **ids, 64)) return false;
    (*ids)[(*n)++] = f->id;
    for (int32_t i = 0; i < f->n_children; i++)
        if (!collect_field_ids(&f->children[i], next, ids, n, cap)) return false;
    return true;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int fl_manifest_decode(const uint8_t *data, size_t size, const char *what, fl_manifest **out, fl_error *err) {
    *out = NULL;
    fl_error local;
    fl_error *e = err ? err : &local;
    fl_error_clear(e);
    if (size < 16 || memcmp(data, FL_MANIFEST_MAGIC, 4) != 0)
        return fl_error_set(err, FL_ECORRUPT, "%s: byte 0: not a framelake manifest (bad magic or %zu bytes)", what, size);
    /* The format number comes before the checksum: a newer format may checksum differently. */
    uint32_t format = fl_load_u32(data + 4);
    if (format < 1 || format > FL_MANIFEST_FORMAT)
        return fl_error_set(err, FL_EUNSUPPORTED, "%s: byte 4: manifest format %u is not supported (this build reads 1 to %d)", what, format,
                            FL_MANIFEST_FORMAT);
    uint64_t stored = fl_load_u64(data + size - 8);
    if (fl_hash64(data, size - 8) != stored)
        return fl_error_set(err, FL_ECORRUPT, "%s: byte %zu: manifest checksum mismatch (file truncated or damaged)", what, size - 8);
    fl_manifest *m = fl_calloc(1, sizeof *m);
    if (!m) return fl_error_set(err, FL_ENOMEM, "out of memory");
    fl_reader r;
    fl_reader_init(&r, data, size - 8, 0, what, e);
    r.pos = 8;
    uint32_t n;
    uint8_t flags;
    if (!fl_get_u64(&r, &m->version, "version") || !fl_get_u64(&r, &m->read_version, "read version") ||
        !fl_get_i64(&r, &m->timestamp_ms, "timestamp") || !fl_get_str(&r, &m->operation, 64, false, "operation") ||
        !fl_get_str(&r, &m->detail, 4096, false, "detail") || !fl_get_u64(&r, &m->next_row_id, "next row id") ||
        !fl_get_u64(&r, &m->next_fragment_id, "next fragment id") || !fl_get_i32(&r, &m->next_field_id, "next field id") ||
        !fl_get_i64(&r, &m->num_rows, "row count") || !fl_schema_decode(&r, &m->schema))
        goto fail;
    if (m->next_field_id < 0 || m->next_field_id > FL_MAX_FIELD_ID) {
        fl_reader_fail(&r, "next field id %d out of range", m->next_field_id);
        goto fail;
    }
    int32_t *ids = NULL;
    size_t n_ids = 0, cap_ids = 0;
    bool ids_ok = true;
    for (int32_t i = 0; i < m->schema->n_fields && ids_ok; i++) {
        for (int32_t k = 0; k < i && ids_ok; k++) ids_ok = strcmp(m->schema->fields[k].name, m->schema->fields[i].name) != 0;
        ids_ok = ids_ok && fl_field_names_valid(&m->schema->fields[i]) &&
                 collect_field_ids(&m->schema->fields[i], m->next_field_id, &ids, &n_ids, &cap_ids);
    }
    if (ids_ok && n_ids > 1) {
        qsort(ids, n_ids, sizeof *ids, cmp_i32);
        for (size_t i = 1; i < n_ids && ids_ok; i++) ids_ok = ids[i] != ids[i - 1];
    }
    fl_free(ids);
    if (!ids_ok) {
        fl_reader_fail(&r, "schema has a duplicate or invalid column name, or a field id outside [0, %d) or used twice", m->next_field_id);
        goto fail;
    }
    if (!fl_get_count(&r, &n, 48, "fragment count")) goto fail;
    if (n && !(m->fragments = fl_calloc(n, sizeof *m->fragments))) goto oom;
    for (uint32_t i = 0; i < n; i++) {
        m->n_fragments = i + 1;
        if (!decode_fragment(&r, &m->fragments[i], m, format)) goto fail;
        if (m->fragments[i].id >= m->next_fragment_id) {
            fl_reader_fail(&r, "fragment id %llu not below next fragment id", (unsigned long long)m->fragments[i].id);
            goto fail;
        }
    }
    if (m->n_fragments > 1) {
        uint64_t *ids = fl_malloc(m->n_fragments * sizeof *ids);
        if (!ids) goto oom;
        for (uint32_t i = 0; i < m->n_fragments; i++) ids[i] = m->fragments[i].id;
        qsort(ids, m->n_fragments, sizeof *ids, cmp_u64);
        bool dup = false;
        for (uint32_t i = 1; i < m->n_fragments && !dup; i++) dup = ids[i] == ids[i - 1];
        fl_free(ids);
        if (dup) {
            fl_reader_fail(&r, "two fragments share an id");
            goto fail;
        }
    }
    if (!fl_get_count(&r, &n, 32, "index count")) goto fail;
    if (n && !(m->indexes = fl_calloc(n, sizeof *m->indexes))) goto oom;
    for (uint32_t i = 0; i < n; i++) {
        m->n_indexes = i + 1;
        if (!decode_index(&r, &m->indexes[i])) goto fail;
    }
    if (!fl_get_count(&r, &n, 8, "touched count")) goto fail;
    if (n && !(m->touched = fl_calloc(n, sizeof *m->touched))) goto oom;
    m->n_touched = n;
    for (uint32_t i = 0; i < n; i++)
        if (!fl_get_u64(&r, &m->touched[i], "touched fragment")) goto fail;
    if (!fl_get_u8(&r, &flags, "flags")) goto fail;
    if (flags > 3) {
        fl_reader_fail(&r, "unknown flags %u", flags);
        goto fail;
    }
    m->schema_changed = flags & 1;
    m->restore = (flags & 2) != 0;
    if (format < 2 && m->restore) m->restored_at = m->version; /* format 1 marks only the restore itself */
    if (format >= 2) {
        if (!fl_get_u64(&r, &m->table_id, "table id") || !fl_get_u64(&r, &m->restored_at, "restore version")) goto fail;
        if (m->restored_at > m->version || (m->restore && m->restored_at != m->version)) {
            fl_reader_fail(&r, "restore version %llu does not fit version %llu", (unsigned long long)m->restored_at, (unsigned long long)m->version);
            goto fail;
        }
    }
    if (r.pos != r.size) {
        fl_reader_fail(&r, "%zu unexpected bytes before the checksum", r.size - r.pos);
        goto fail;
    }
    int64_t declared = m->num_rows;
    fl_manifest_count_rows(m);
    if (declared != m->num_rows) {
        fl_error_set(e, FL_ECORRUPT, "%s: row count %lld does not match its fragments (%lld)", what, (long long)declared, (long long)m->num_rows);
        goto fail;
    }
    *out = m;
    return FL_OK;
oom:
    fl_error_set(e, FL_ENOMEM, "%s: out of memory", what);
fail:
    fl_manifest_free(m);
    return e->code ? e->code : FL_ECORRUPT;
}

/*   deletion file := "FLX1" u32 format(1) | u64 n | u32 offset * n (strictly increasing) | u64 xxh3(all preceding) */
int fl_deletion_encode(const uint32_t *offsets, uint64_t n, fl_buf *b) {
    fl_buf_init(b);
    fl_buf_append(b, FL_DELETION_MAGIC, 4);
    fl_buf_put_u32(b, 1);
    fl_buf_put_u64(b, n);
    for (uint64_t i = 0; i < n; i++) fl_buf_put_u32(b, offsets[i]);
    if (!b->failed) fl_buf_put_u64(b, fl_hash64(b->data, b->size));
    return b->failed ? FL_ENOMEM : FL_OK;
}

int fl_deletion_decode(const uint8_t *data, size_t size, uint64_t physical_rows, const char *what, uint32_t **offsets,
                       uint64_t *n, fl_error *err) {
    *offsets = NULL;
    *n = 0;
    if (size < 24 || memcmp(data, FL_DELETION_MAGIC, 4) != 0)
        return fl_error_set(err, FL_ECORRUPT, "%s: byte 0: not a framelake deletion file", what);
    if (fl_load_u32(data + 4) != 1)
        return fl_error_set(err, FL_EUNSUPPORTED, "%s: byte 4: deletion file format %u is not supported (this build reads 1)", what,
                            fl_load_u32(data + 4));
    if (fl_hash64(data, size - 8) != fl_load_u64(data + size - 8))
        return fl_error_set(err, FL_ECORRUPT, "%s: byte %zu: deletion file checksum mismatch", what, size - 8);
    uint64_t count = fl_load_u64(data + 8);
    if (count > (size - 24) / 4 || 24 + count * 4 != size)
        return fl_error_set(err, FL_ECORRUPT, "%s: byte 8: count %llu does not match the file size", what, (unsigned long long)count);
    uint32_t *list = fl_malloc(count ? count * 4 : 4);
    if (!list) return fl_error_set(err, FL_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < count; i++) {
        list[i] = fl_load_u32(data + 16 + 4 * i);
        if (list[i] >= physical_rows || (i && list[i] <= list[i - 1])) {
            fl_free(list);
            return fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: offsets not increasing or beyond the fragment's %llu rows", what,
                                (unsigned long long)(16 + 4 * i), (unsigned long long)physical_rows);
        }
    }
    *offsets = list;
    *n = count;
    return FL_OK;
}

/* ---- index coverage ---- */

uint64_t fl_fragment_base_version(const fl_fragment *f) {
    uint64_t v = f->created_version;
    for (uint32_t i = 0; i < f->n_files; i++)
        if (f->files[i].created_version > v) v = f->files[i].created_version;
    return v;
}

int fl_version_runs_push(fl_version_run **runs, uint32_t *n, uint64_t count, uint64_t version) {
    if (!count) return FL_OK;
    if (*n && (*runs)[*n - 1].version == version) {
        (*runs)[*n - 1].count += count;
        return FL_OK;
    }
    /* Grows by doubling: capacity is the next power of two of n (never stored). */
    if ((*n & (*n - 1)) == 0) {
        size_t cap = *n ? (size_t)*n * 2 : 4;
        fl_version_run *grown = fl_realloc(*runs, cap * sizeof *grown);
        if (!grown) return FL_ENOMEM;
        *runs = grown;
    }
    (*runs)[(*n)++] = (fl_version_run){count, version};
    return FL_OK;
}

bool fl_vrun_next(fl_vrun_cursor *c, uint64_t *offset, uint64_t *count, uint64_t *version) {
    const fl_fragment *f = c->f;
    if (!f->n_vruns) {
        if (c->run > 0) return false;
        c->run = 1;
        *offset = 0;
        *count = f->physical_rows;
        *version = fl_fragment_base_version(f);
        return true;
    }
    if (c->run >= f->n_vruns) return false;
    *offset = c->offset;
    *count = f->vruns[c->run].count;
    *version = f->vruns[c->run].version;
    c->offset += *count;
    c->run++;
    return true;
}

int fl_fragment_mark_rows(fl_fragment *f, const uint32_t *offsets, uint64_t n, uint64_t version) {
    fl_version_run *runs = NULL;
    uint32_t nr = 0;
    int rc = FL_OK;
    if (!offsets) {
        rc = fl_version_runs_push(&runs, &nr, f->physical_rows, version);
    } else {
        /* Merge the old runs with the marked offsets (sorted): each marked row becomes `version`. */
        fl_vrun_cursor c = {f, 0, 0};
        uint64_t off, count, v, k = 0;
        while (rc == FL_OK && fl_vrun_next(&c, &off, &count, &v)) {
            uint64_t pos = off, end = off + count;
            while (rc == FL_OK && pos < end) {
                if (k < n && offsets[k] == pos) {
                    rc = fl_version_runs_push(&runs, &nr, 1, version);
                    pos++;
                    k++;
                    continue;
                }
                uint64_t stop = k < n && offsets[k] < end ? offsets[k] : end;
                rc = fl_version_runs_push(&runs, &nr, stop - pos, v);
                pos = stop;
            }
        }
    }
    if (rc != FL_OK) {
        fl_free(runs);
        return rc;
    }
    fl_free(f->vruns);
    f->vruns = runs;
    f->n_vruns = nr;
    return FL_OK;
}

uint64_t fl_fragment_column_version(const fl_fragment *f, int32_t field_id) {
    const fl_file_ref *ref = fl_fragment_file_for(f, field_id);
    return ref ? ref->created_version : 0;
}

uint64_t fl_index_fragment_version(const fl_fragment *f, const fl_index_ref *x) {
    uint64_t v = 0;
    for (uint32_t i = 0; i < x->n_field_ids; i++) {
        uint64_t c = fl_fragment_column_version(f, x->field_ids[i]);
        if (c > v) v = c;
    }
    return v;
}

static const char *param_get(const fl_index_ref *x, const char *key) {
    for (int32_t i = 0; i < x->n_params; i++)
        if (!strcmp(x->params[i].key, key)) return x->params[i].value;
    return NULL;
}

int fl_index_coverage_get(const fl_index_ref *x, uint32_t *file, uint64_t *version, fl_error *err) {
    const char *s = param_get(x, FL_INDEX_COVERAGE_KEY);
    if (!s) {
        if (x->n_fragment_ids == 0) return FL_OK;
        return fl_error_set(err, FL_ECORRUPT, "index '%s': the manifest entry has no coverage parameter", x->name);
    }
    for (uint32_t i = 0; i < x->n_fragment_ids; i++) {
        char *end;
        if (i && *s++ != ',') goto bad;
        if (*s < '0' || *s > '9') goto bad;
        unsigned long long f = strtoull(s, &end, 10);
        if (*end != ':' || f >= x->n_files) goto bad;
        s = end + 1;
        if (*s < '0' || *s > '9') goto bad;
        unsigned long long v = strtoull(s, &end, 10);
        s = end;
        file[i] = (uint32_t)f;
        version[i] = v;
    }
    if (*s == '\0') return FL_OK;
bad:
    return fl_error_set(err, FL_ECORRUPT, "index '%s': malformed coverage parameter (%u fragments, %u files)", x->name, x->n_fragment_ids,
                        x->n_files);
}

int fl_index_coverage_set(fl_index_ref *x, const uint32_t *file, const uint64_t *version) {
    fl_buf b;
    fl_buf_init(&b);
    for (uint32_t i = 0; i < x->n_fragment_ids; i++)
        fl_buf_printf(&b, "%s%u:%llu", i ? "," : "", file[i], (unsigned long long)version[i]);
    char *value = fl_buf_take_string(&b);
    if (!value) return FL_ENOMEM;
    for (int32_t i = 0; i < x->n_params; i++)
        if (!strcmp(x->params[i].key, FL_INDEX_COVERAGE_KEY)) {
            fl_free(x->params[i].value);
            x->params[i].value = value;
            return FL_OK;
        }
    char *key = fl_strdup(FL_INDEX_COVERAGE_KEY);
    fl_kv *grown = key ? fl_realloc(x->params, ((size_t)x->n_params + 1) * sizeof *grown) : NULL;
    if (!grown) {
        fl_free(key);
        fl_free(value);
        return FL_ENOMEM;
    }
    x->params = grown;
    x->params[x->n_params++] = (fl_kv){key, value};
    return FL_OK;
}

static bool schema_has_id(const fl_schema *s, int32_t id) {
    for (int32_t i = 0; i < s->n_fields; i++)
        if (s->fields[i].id == id) return true;
    return false;
}

typedef struct id_slot {
    uint64_t id;
    uint32_t index;
} id_slot;

static int cmp_slot(const void *a, const void *b) {
    uint64_t x = ((const id_slot *)a)->id, y = ((const id_slot *)b)->id;
    return x < y ? -1 : x > y;
}

int fl_fragment_lookup_init(const fl_manifest *m, fl_fragment_lookup *out) {
    out->n = m->n_fragments;
    out->slots = fl_malloc(((size_t)m->n_fragments + 1) * sizeof *out->slots);
    if (!out->slots) return FL_ENOMEM;
    for (uint32_t i = 0; i < m->n_fragments; i++) out->slots[i] = (id_slot){m->fragments[i].id, i};
    qsort(out->slots, out->n, sizeof *out->slots, cmp_slot);
    return FL_OK;
}

int fl_fragment_lookup_find(const fl_fragment_lookup *l, uint64_t id) {
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (l->slots[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < l->n && l->slots[lo].id == id ? (int)l->slots[lo].index : -1;
}

void fl_fragment_lookup_free(fl_fragment_lookup *l) {
    fl_free(l->slots);
    memset(l, 0, sizeof *l);
}

/* Keeps the coverage entries of x whose fragment still exists in m with the indexed column unchanged, and
 * the files those entries use (renumbered). *keep false when x must go (its column is gone). */
static int prune_index(fl_index_ref *x, const fl_manifest *m, const fl_fragment_lookup *frags, bool *keep) {
    *keep = true;
    /* Entries that do not describe their coverage this way (other kinds of index) are left alone. */
    if (!param_get(x, FL_INDEX_COVERAGE_KEY)) return FL_OK;
    for (uint32_t i = 0; i < x->n_field_ids; i++)
        if (!schema_has_id(m->schema, x->field_ids[i])) {
            *keep = false;
            return FL_OK;
        }
    uint32_t n = x->n_fragment_ids;
    uint32_t *file = fl_calloc(n + 1, sizeof *file), *renum = fl_calloc((size_t)x->n_files + 1, sizeof *renum);
    uint64_t *version = fl_calloc(n + 1, sizeof *version);
    int rc = file && renum && version ? FL_OK : FL_ENOMEM;
    if (rc == FL_OK && fl_index_coverage_get(x, file, version, NULL) != FL_OK) {
        /* Unreadable coverage: the entry can serve nothing, so it covers nothing. */
        n = 0;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; rc == FL_OK && i < n; i++) {
        int fi = fl_fragment_lookup_find(frags, x->fragment_ids[i]);
        const fl_fragment *f = fi >= 0 ? &m->fragments[fi] : NULL;
        if (!f || x->n_field_ids == 0 || fl_index_fragment_version(f, x) != version[i]) continue;
        x->fragment_ids[kept] = x->fragment_ids[i];
        file[kept] = file[i];
        version[kept] = version[i];
        renum[file[i]] = 1;
        kept++;
    }
    if (rc == FL_OK && (kept != x->n_fragment_ids || n != x->n_fragment_ids)) {
        uint32_t nf = 0;
        for (uint32_t k = 0; k < x->n_files; k++) {
            if (!renum[k]) {
                fl_free(x->files[k]);
                continue;
            }
            x->files[nf] = x->files[k];
            renum[k] = nf++;
        }
        x->n_files = nf;
        for (uint32_t i = 0; i < kept; i++) file[i] = renum[file[i]];
        x->n_fragment_ids = kept;
        rc = fl_index_coverage_set(x, file, version);
    }
    fl_free(file);
    fl_free(renum);
    fl_free(version);
    return rc;
}

int fl_manifest_prune_indexes(fl_manifest *m) {
    if (m->n_indexes == 0) return FL_OK;
    fl_fragment_lookup frags;
    FL_RETURN_NOT_OK(fl_fragment_lookup_init(m, &frags));
    uint32_t kept = 0;
    for (uint32_t i = 0; i < m->n_indexes; i++) {
        bool keep;
        int rc = prune_index(&m->indexes[i], m, &frags, &keep);
        if (rc != FL_OK) {
            fl_fragment_lookup_free(&frags);
            return rc;
        }
        if (!keep) {
            fl_index_ref_clear(&m->indexes[i]);
            continue;
        }
        if (kept != i) m->indexes[kept] = m->indexes[i];
        kept++;
    }
    m->n_indexes = kept;
    fl_fragment_lookup_free(&frags);
    return FL_OK;
}
