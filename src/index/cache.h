/*
 * cache.h — a process-wide cache of decoded index files (vector indexes), shared by every table handle.
 *
 * Index files are immutable once written and their names are never reused, so a decoded file stays
 * valid for as long as the file exists; the key is the path with the file's size and modification time
 * (a table dropped and recreated under the same path cannot alias an entry).
 *
 * Invariants:
 *  1. An entry in use (a reference not yet released) is never freed; unreferenced entries are evicted
 *     least recently used first once the decoded bytes exceed the budget (1 GiB by default) or there are
 *     more than 256 entries (an fts entry keeps its file open).
 *  2. Thread-safe: one mutex guards the list; decoding happens outside it.
 */
#ifndef FL_INDEX_CACHE_H
#define FL_INDEX_CACHE_H

#include "../common/common.h"
#include "../io/io.h"

typedef struct fl_ixcache_ref {
    void *obj;                  /* the decoded file */
    void *handle;
} fl_ixcache_ref;

/* Decodes the file at path into *obj (its size in memory in *bytes, its destructor in *free_fn). */
typedef int (*fl_ixcache_load_fn)(void *ctx, const char *path, void **obj, size_t *bytes, void (**free_fn)(void *), fl_error *err);

/* The decoded file at path, from the cache or loaded now; release it with fl_ixcache_release. */
int fl_ixcache_get(const char *path, fl_ixcache_load_fn load, void *ctx, fl_ixcache_ref *out, fl_error *err);
void fl_ixcache_release(fl_ixcache_ref *ref);
void fl_ixcache_set_budget(size_t bytes);
/* Frees every unreferenced entry (tests). */
void fl_ixcache_clear(void);

#endif /* FL_INDEX_CACHE_H */
