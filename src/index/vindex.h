/*
 * vindex.h — vector indexes in the index layer: `ivf_pq` and `ivf_flat` entries on a
 * fixed_size_list<float32, N> column, one IVF file (ivf.h, FORMAT.md §20) per build or update, with the
 * same coverage machinery as the scalar kinds (index.h). vector search (src/search/vector.c) loads the
 * files through the decoded-file cache (cache.h) and searches uncovered fragments exactly.
 *
 * Entry parameters: metric (l2|cosine|dot; l2 by default), partitions (a number or auto: √rows, at most
 * 4096), sub_vectors (ivf_pq; a divisor of N or auto: N/16 when it divides), store_vectors (ivf_pq; true by
 * default: the files keep the raw vectors too, so a refine factor re-ranks in memory).
 */
#ifndef FL_INDEX_VINDEX_H
#define FL_INDEX_VINDEX_H

#include "cache.h"
#include "ivf.h"
#include "index.h"

/* Checks an ivf entry's parameters (FL_EINVAL naming the bad one). */
int fl_vindex_check_params(bool pq, const fl_kv *params, int32_t n, fl_error *err);
/* The metric an entry's parameters name. */
int fl_vindex_metric(const fl_kv *params, int32_t n);
/* Writes the index file at `path` over fragments frags (indexes into t->m->fragments), training the model
 * unless model_rel names a file of the same index whose model to reuse. */
int fl_vindex_build(fl_table *t, const fl_field *field, bool pq, const fl_kv *params, int32_t n_params, const uint32_t *frags, uint32_t n_frags,
                    const char *model_rel, const char *path, fl_error *err);
/* The decoded file `rel` (table-relative) through the cache; release with fl_ixcache_release. */
int fl_vindex_load(fl_table *t, const char *rel, fl_ixcache_ref *out, fl_error *err);

#endif /* FL_INDEX_VINDEX_H */
