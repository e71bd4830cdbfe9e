/*
 * txn.h — the description of one write, applied to a base manifest by txn_commit (table.c) and built by
 * the operations in ops.c.
 */
#ifndef FL_TXN_H
#define FL_TXN_H

#include "table.h"

typedef enum op_kind {
    OP_CREATE,
    OP_APPEND,
    OP_DELETE,
    OP_UPDATE,
    OP_ADD_COLUMNS,
    OP_DROP_COLUMNS,
    OP_RENAME,
    OP_METADATA,
    OP_COMPACT,
    OP_RESTORE,
    OP_INDEX,                   /* create, extend or drop scalar indexes (src/index) */
    OP_REFRESH                  /* a materialized view's refresh: remove fragments or rows, add rows with
                                   given ids, set metadata (src/view) */
} op_kind;

/* INDEX: one index entry to create, replace or drop. */
typedef struct index_change {
    char *name;
    fl_index_ref *before;       /* the entry as the writer read it, which must still be current; NULL: the
                                   name must be free (create) */
    fl_index_ref *after;        /* the entry to install; NULL: drop */
} index_change;

/* A change to one existing fragment: a new data file, a new deletion file, or both. */
typedef struct frag_change {
    uint64_t fragment_id;
    fl_file_ref file;           /* path NULL: no new data file */
    char *deletion_path;        /* NULL: deletions unchanged */
    bool drop_fragment;         /* every row is deleted: the fragment leaves the manifest */
    uint64_t deleted_rows;      /* total deleted rows after the change */
    uint32_t *offsets;          /* with file: the rows whose values it changes (sorted; NULL: all rows), whose
                                   row versions become the commit's version */
    uint64_t n_offsets;
} frag_change;

typedef struct txn {
    op_kind kind;
    const char *operation;      /* the manifest's operation name when not op_name(kind) (a static string:
                                   "backfill" for an update a backfill commits) */
    char detail[128];
    fl_fragment *new_frags;     /* APPEND (ids and row ids assigned at apply), COMPACT and REFRESH (row id runs
                                   set; COMPACT also row versions) */
    uint32_t n_new;
    uint64_t *removed;          /* COMPACT, REFRESH: fragment ids replaced or removed */
    uint32_t n_removed;
    frag_change *changes;       /* DELETE, UPDATE, ADD_COLUMNS, REFRESH (deletions) */
    uint32_t n_changes;
    fl_schema *fields;          /* ADD_COLUMNS: new fields with ids */
    int32_t base_next_field_id; /* ADD_COLUMNS: next_field_id the ids were taken from */
    int32_t next_field_id;      /* ADD_COLUMNS: next_field_id after them */
    char **names;               /* DROP: columns; RENAME: {from, to}; METADATA, REFRESH: keys */
    char **values;              /* METADATA, REFRESH: values (NULL entry: remove) */
    uint32_t n_names;
    fl_manifest *target;        /* RESTORE: the manifest to reinstate */
    index_change *index_changes; /* INDEX */
    uint32_t n_index_changes;
    char **index_files;         /* INDEX: table-relative paths of the index files this txn wrote */
    uint32_t n_index_files;
} txn;

void txn_clear(txn *x);
/* Commits x on top of the handle's version (rebasing as table.c describes). */
int txn_commit(fl_table *t, txn *x, fl_error *err);
const char *op_name(op_kind kind);

#endif /* FL_TXN_H */
