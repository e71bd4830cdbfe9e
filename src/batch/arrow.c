/*
 * arrow.c — export of a batch through the Arrow C Data Interface without copying buffers.
 *
 * Each exported ArrowArray owns the fl_array it was made from (moved out of the batch) and, like the
 * specification requires, releases its children when released itself; a consumer that moved a child out
 * (child->release == NULL) is respected.
 */
#include "batch.h"

#include <stdlib.h>

typedef struct array_private {
    fl_array array;             /* owned buffers (children arrays are owned by the child exports) */
    const void *buffers[3];
    struct ArrowArray **children;
    struct ArrowArray *child_storage;
} array_private;

typedef struct schema_private {
    char *format;
    char *name;
    struct ArrowSchema **children;
    struct ArrowSchema *child_storage;
} schema_private;

static void release_array(struct ArrowArray *a) {
    if (!a || !a->release) return;
    array_private *p = a->private_data;
    for (int64_t i = 0; i < a->n_children; i++)
        if (p->children[i]->release) p->children[i]->release(p->children[i]);
    fl_free(p->array.validity);
    fl_free(p->array.values);
    fl_free(p->array.offsets);
    fl_free(p->children);
    fl_free(p->child_storage);
    fl_free(p);
    a->release = NULL;
}

static void release_schema(struct ArrowSchema *s) {
    if (!s || !s->release) return;
    schema_private *p = s->private_data;
    for (int64_t i = 0; i < s->n_children; i++)
        if (p->children[i]->release) p->children[i]->release(p->children[i]);
    fl_free(p->format);
    fl_free(p->name);
    fl_free(p->children);
    fl_free(p->child_storage);
    fl_free(p);
    s->release = NULL;
}

static char *format_of(const fl_field *f) {
    switch (f->type) {
    case FL_TYPE_BOOL: return fl_strdup("b");
    case FL_TYPE_INT8: return fl_strdup("c");
    case FL_TYPE_INT16: return fl_strdup("s");
    case FL_TYPE_INT32: return fl_strdup("i");
    case FL_TYPE_INT64: return fl_strdup("l");
    case FL_TYPE_UINT8: return fl_strdup("C");
    case FL_TYPE_UINT16: return fl_strdup("S");
    case FL_TYPE_UINT32: return fl_strdup("I");
    case FL_TYPE_UINT64: return fl_strdup("L");
    case FL_TYPE_FLOAT32: return fl_strdup("f");
    case FL_TYPE_FLOAT64: return fl_strdup("g");
    case FL_TYPE_STRING: return fl_strdup("U");
    case FL_TYPE_BINARY: return fl_strdup("Z");
    case FL_TYPE_TIMESTAMP_MS: return fl_strdup("tsm:");
    case FL_TYPE_LIST: return fl_strdup("+L");
    case FL_TYPE_FIXED_SIZE_LIST: return fl_sprintf("+w:%d", f->fixed_size);
    case FL_TYPE_STRUCT: return fl_strdup("+s");
    }
    return NULL;
}

static int export_schema(const fl_field *f, const char *name, int n_children, const fl_field *children, bool nullable, const char *format,
                         struct ArrowSchema *out) {
    memset(out, 0, sizeof *out);
    schema_private *p = fl_calloc(1, sizeof *p);
    if (!p) return FL_ENOMEM;
    p->format = format ? fl_strdup(format) : format_of(f);
    p->name = fl_strdup(name ? name : "");
    if (n_children) {
        p->children = fl_calloc((size_t)n_children, sizeof *p->children);
        p->child_storage = fl_calloc((size_t)n_children, sizeof *p->child_storage);
    }
    out->private_data = p;
    out->release = release_schema;
    out->format = p->format;
    out->name = p->name;
    out->flags = nullable ? ARROW_FLAG_NULLABLE : 0;
    out->children = p->children;
    if (!p->format || !p->name || (n_children && (!p->children || !p->child_storage))) {
        release_schema(out);
        return FL_ENOMEM;
    }
    for (int i = 0; i < n_children; i++) {
        p->children[i] = &p->child_storage[i];
        const fl_field *c = &children[i];
        if (export_schema(c, c->name, c->n_children, c->children, c->nullable, NULL, p->children[i]) != FL_OK) {
            out->n_children = i;
            release_schema(out);
            return FL_ENOMEM;
        }
        out->n_children = i + 1;
    }
    return FL_OK;
}

/* Moves `a` into a new ArrowArray. On failure `a` is left cleared (its buffers freed). */
static int export_array(fl_array *a, struct ArrowArray *out) {
    memset(out, 0, sizeof *out);
    array_private *p = fl_calloc(1, sizeof *p);
    int n = a->n_children;
    if (!p || (n && (!(p->children = fl_calloc((size_t)n, sizeof *p->children)) || !(p->child_storage = fl_calloc((size_t)n, sizeof *p->child_storage))))) {
        if (p) {
            fl_free(p->children);
            fl_free(p);
        }
        fl_array_clear(a);
        return FL_ENOMEM;
    }
    p->array = *a;
    p->array.children = NULL;
    p->array.n_children = 0;
    fl_array *kids = a->children;
    memset(a, 0, sizeof *a);
    out->private_data = p;
    out->release = release_array;
    out->length = p->array.length;
    out->null_count = p->array.null_count;
    out->buffers = p->buffers;
    out->children = p->children;
    p->buffers[0] = p->array.validity;
    switch (p->array.type) {
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY:
        out->n_buffers = 3;
        p->buffers[1] = p->array.offsets;
        p->buffers[2] = p->array.values;
        break;
    case FL_TYPE_LIST:
        out->n_buffers = 2;
        p->buffers[1] = p->array.offsets;
        break;
    case FL_TYPE_FIXED_SIZE_LIST:
    case FL_TYPE_STRUCT: out->n_buffers = 1; break;
    default:
        out->n_buffers = 2;
        p->buffers[1] = p->array.values;
    }
    int rc = FL_OK;
    for (int i = 0; i < n; i++) {
        p->children[i] = &p->child_storage[i];
        if (rc == FL_OK) {
            rc = export_array(&kids[i], p->children[i]);
            if (rc == FL_OK) out->n_children = i + 1;
        } else {
            fl_array_clear(&kids[i]);
        }
    }
    fl_free(kids);
    if (rc != FL_OK) release_array(out);
    return rc;
}

int fl_batch_export_arrow(fl_batch *b, struct ArrowSchema *out_schema, struct ArrowArray *out_array, fl_error *err) {
    memset(out_schema, 0, sizeof *out_schema);
    memset(out_array, 0, sizeof *out_array);
    if (!b) return fl_error_set(err, FL_EINVAL, "no batch to export");
    if (export_schema(NULL, "", b->n_columns, b->schema->fields, false, "+s", out_schema) != FL_OK) {
        fl_batch_free(b);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    /* The top level is a struct array with the columns as children and no validity. */
    fl_array top = {.type = FL_TYPE_STRUCT, .length = b->num_rows, .n_children = b->n_columns, .children = b->columns};
    b->columns = NULL;
    b->n_columns = 0;
    fl_batch_free(b);
    if (export_array(&top, out_array) != FL_OK) {
        release_schema(out_schema);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    return FL_OK;
}
