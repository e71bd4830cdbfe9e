/*
 * cache.c — the process-wide cache of decoded index files (cache.h).
 */
#include "cache.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct entry {
    char *path;
    uint64_t size;
    int64_t mtime_ms;
    void *obj;
    size_t bytes;
    void (*free_fn)(void *);
    int refs;
    uint64_t used;              /* clock of the last use */
    struct entry *next;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *entries;
static size_t total_bytes, n_entries;
#define MAX_ENTRIES 256 /* entries may hold an open file */
static uint64_t clock_now;
static size_t budget = (size_t)1 << 30;

void fl_ixcache_set_budget(size_t bytes) {
    pthread_mutex_lock(&lock);
    budget = bytes;
    pthread_mutex_unlock(&lock);
}

/* Drops unreferenced entries, least recently used first, until the total fits the budget and the entry
 * count its limit. Locked. */
static void evict(void) {
    while (total_bytes > budget || n_entries > MAX_ENTRIES) {
        entry **victim = NULL;
        for (entry **e = &entries; *e; e = &(*e)->next)
            if ((*e)->refs == 0 && (!victim || (*e)->used < (*victim)->used)) victim = e;
        if (!victim) return;
        entry *v = *victim;
        *victim = v->next;
        total_bytes -= v->bytes;
        n_entries--;
        v->free_fn(v->obj);
        fl_free(v->path);
        fl_free(v);
    }
}

int fl_ixcache_get(const char *path, fl_ixcache_load_fn load, void *ctx, fl_ixcache_ref *out, fl_error *err) {
    memset(out, 0, sizeof *out);
    int64_t mtime;
    uint64_t size;
    FL_RETURN_NOT_OK(fl_io_stat(path, &mtime, &size, err));
    pthread_mutex_lock(&lock);
    for (entry *e = entries; e; e = e->next)
        if (!strcmp(e->path, path) && e->size == size && e->mtime_ms == mtime) {
            e->refs++;
            e->used = ++clock_now;
            out->obj = e->obj;
            out->handle = e;
            pthread_mutex_unlock(&lock);
            return FL_OK;
        }
    pthread_mutex_unlock(&lock);
    /* Decoded outside the lock; two threads may decode the same file, the second copy is dropped. */
    void *obj = NULL;
    size_t bytes = 0;
    void (*free_fn)(void *) = NULL;
    FL_RETURN_NOT_OK(load(ctx, path, &obj, &bytes, &free_fn, err));
    entry *e = fl_calloc(1, sizeof *e);
    if (!e || !(e->path = fl_strdup(path))) {
        fl_free(e);
        free_fn(obj);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    e->size = size;
    e->mtime_ms = mtime;
    e->obj = obj;
    e->bytes = bytes;
    e->free_fn = free_fn;
    e->refs = 1;
    pthread_mutex_lock(&lock);
    e->used = ++clock_now;
    e->next = entries;
    entries = e;
    total_bytes += bytes;
    n_entries++;
    evict();
    pthread_mutex_unlock(&lock);
    out->obj = obj;
    out->handle = e;
    return FL_OK;
}

void fl_ixcache_release(fl_ixcache_ref *ref) {
    if (!ref->handle) return;
    pthread_mutex_lock(&lock);
    ((entry *)ref->handle)->refs--;
    evict();
    pthread_mutex_unlock(&lock);
    memset(ref, 0, sizeof *ref);
}

void fl_ixcache_clear(void) {
    pthread_mutex_lock(&lock);
    size_t saved = budget;
    budget = 0;
    evict();
    budget = saved;
    pthread_mutex_unlock(&lock);
}
