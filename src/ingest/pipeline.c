/*
 * pipeline.c — an ordered worker pool for ingest items (see sink.h).
 *
 * A ring of `depth` slots. The calling thread fills the slot at `tail` and submits it; workers claim
 * submitted slots in submission order (`claim` runs from head to tail) and produce them in parallel; the
 * calling thread takes the slot at `head` once it is produced. So production overlaps, but consumption
 * is strictly in order. With one thread, submit produces the item itself and there are no workers.
 *
 * Invariants:
 *  1. head <= claim <= tail, and tail - head <= depth (counters only grow; slot = counter % depth).
 *  2. A slot is touched by at most one worker, between its claim and its `done` flag; the calling thread
 *     touches it only outside that interval.
 */
#include "sink.h"

#include "../common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_THREADS 64

struct fl_pipeline {
    fl_pipeline_def def;
    fl_ingest_item *slots;
    bool *done;
    size_t depth;
    uint64_t head, claim, tail;
    int n_workers;
    pthread_t workers[MAX_THREADS];
    void *inline_state;         /* the calling thread's state when there are no workers */
    pthread_mutex_t lock;
    pthread_cond_t work, produced;
    bool stopping;
    int error;                  /* the first worker error; its message in error_err */
    fl_error error_err;
};

int fl_pipeline_threads(int threads) {
    if (threads > 0) return threads < MAX_THREADS ? threads : MAX_THREADS;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

int fl_item_fail(fl_ingest_item *item, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(item->message, sizeof item->message, fmt, ap);
    va_end(ap);
    item->outcome = FL_INGEST_FAILED;
    item->code = code;
    return FL_OK;
}

int fl_item_check_jpeg(fl_ingest_item *item) {
    fl_error e = {0};
    if (fl_jpeg_info(item->bytes, item->size, item->source ? item->source : item->image_id, &item->width, &item->height, NULL, &e) != FL_OK)
        return fl_item_fail(item, e.code, "%s", e.message);
    return FL_OK;
}

bool fl_item_reserve(fl_ingest_item *item, size_t size) {
    if (size <= item->cap) return true;
    uint8_t *grown = fl_realloc(item->bytes, size);
    if (!grown) return false;
    item->bytes = grown;
    item->cap = size;
    return true;
}

/* Clears a slot for its next task; the byte buffer is kept for reuse. */
static void item_reset(fl_ingest_item *item) {
    fl_free(item->image_id);
    fl_free(item->source);
    fl_frame_clear(&item->frame);
    uint8_t *bytes = item->bytes;
    size_t cap = item->cap;
    memset(item, 0, sizeof *item);
    item->bytes = bytes;
    item->cap = cap;
}

/* Produces one item unless the source already decided its outcome. */
static int produce(fl_pipeline *p, void *state, fl_ingest_item *item, fl_error *err) {
    if (item->outcome != 0) return FL_OK;
    return p->def.produce(p->def.ctx, state, item, err);
}

static void *worker_main(void *arg) {
    fl_pipeline *p = arg;
    void *state = NULL;
    fl_error err = {0};
    int rc = p->def.init ? p->def.init(p->def.ctx, &state, &err) : FL_OK;
    pthread_mutex_lock(&p->lock);
    while (rc == FL_OK) {
        while (!p->stopping && p->claim == p->tail) pthread_cond_wait(&p->work, &p->lock);
        if (p->stopping) break;
        uint64_t mine = p->claim++;
        fl_ingest_item *item = &p->slots[mine % p->depth];
        pthread_mutex_unlock(&p->lock);
        rc = produce(p, state, item, &err);
        pthread_mutex_lock(&p->lock);
        p->done[mine % p->depth] = true;
        pthread_cond_broadcast(&p->produced);
    }
    if (rc != FL_OK && p->error == FL_OK) {
        p->error = rc;
        p->error_err = err;
        pthread_cond_broadcast(&p->produced);
    }
    pthread_mutex_unlock(&p->lock);
    if (p->def.fini && state) p->def.fini(state);
    return NULL;
}

int fl_pipeline_start(const fl_pipeline_def *def, fl_pipeline **out, fl_error *err) {
    *out = NULL;
    fl_pipeline *p = fl_calloc(1, sizeof *p);
    if (!p) return fl_error_set(err, FL_ENOMEM, "ingest: out of memory");
    p->def = *def;
    int threads = fl_pipeline_threads(def->threads);
    p->depth = threads == 1 ? 1 : (size_t)threads * 4;
    p->slots = fl_calloc(p->depth, sizeof *p->slots);
    p->done = fl_calloc(p->depth, sizeof *p->done);
    if (!p->slots || !p->done) {
        fl_free(p->slots);
        fl_free(p->done);
        fl_free(p);
        return fl_error_set(err, FL_ENOMEM, "ingest: out of memory");
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->produced, NULL);
    *out = p;
    if (threads == 1) return def->init ? def->init(def->ctx, &p->inline_state, err) : FL_OK;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) break;
        p->n_workers++;
    }
    if (p->n_workers == 0) /* no threads to be had: produce inline */
        return def->init ? def->init(def->ctx, &p->inline_state, err) : FL_OK;
    return FL_OK;
}

fl_ingest_item *fl_pipeline_slot(fl_pipeline *p) {
    if (p->tail - p->head == p->depth) return NULL;
    fl_ingest_item *item = &p->slots[p->tail % p->depth];
    item_reset(item);
    return item;
}

int fl_pipeline_submit(fl_pipeline *p, fl_error *err) {
    size_t at = p->tail % p->depth;
    if (p->n_workers == 0) {
        int rc = produce(p, p->inline_state, &p->slots[at], err);
        p->done[at] = true;
        p->tail++;
        p->claim = p->tail;
        return rc;
    }
    pthread_mutex_lock(&p->lock);
    p->done[at] = false;
    p->tail++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    return FL_OK;
}

int fl_pipeline_next(fl_pipeline *p, fl_ingest_item **item, fl_error *err) {
    *item = NULL;
    if (p->head == p->tail) return FL_OK;
    size_t at = p->head % p->depth;
    int rc = FL_OK;
    if (p->n_workers > 0) {
        pthread_mutex_lock(&p->lock);
        while (!p->done[at] && p->error == FL_OK) pthread_cond_wait(&p->produced, &p->lock);
        if (!p->done[at]) {
            rc = p->error;
            if (err) *err = p->error_err;
        }
        pthread_mutex_unlock(&p->lock);
    }
    if (rc != FL_OK) return rc;
    *item = &p->slots[at];
    p->head++;
    return FL_OK;
}

void fl_pipeline_free(fl_pipeline *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n_workers; i++) pthread_join(p->workers[i], NULL);
    if (p->def.fini && p->inline_state) p->def.fini(p->inline_state);
    for (size_t i = 0; i < p->depth; i++) {
        item_reset(&p->slots[i]);
        fl_free(p->slots[i].bytes);
    }
    fl_free(p->slots);
    fl_free(p->done);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->produced);
    fl_free(p);
}

int fl_item_read_file(fl_ingest_item *item, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int e = errno;
        if (fd >= 0) close(fd);
        return fl_item_fail(item, FL_EIO, "%s: cannot read: %s", path, strerror(e));
    }
    int rc = FL_OK;
    if (!S_ISREG(st.st_mode)) rc = fl_item_fail(item, FL_EIO, "%s: not a regular file", path);
    else if (st.st_size > FL_MAX_IMAGE_BYTES)
        rc = fl_item_fail(item, FL_EINVAL, "%s: file too large (%lld bytes; the limit is %lld)", path, (long long)st.st_size,
                          (long long)FL_MAX_IMAGE_BYTES);
    else if (!fl_item_reserve(item, (size_t)st.st_size + 1))
        rc = fl_item_fail(item, FL_ENOMEM, "%s: out of memory reading %lld bytes", path, (long long)st.st_size);
    else {
        /* Read up to one byte more than stat said, so a file that grew meanwhile is read as it was at stat. */
        size_t got = 0;
        ssize_t r = 0;
        while (got < (size_t)st.st_size && (r = read(fd, item->bytes + got, (size_t)st.st_size - got)) != 0) {
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) break;
            got += (size_t)r;
        }
        if (r < 0) rc = fl_item_fail(item, FL_EIO, "%s: cannot read: %s", path, strerror(errno));
        else item->size = got;
    }
    close(fd);
    return rc == FL_OK && item->outcome ? FL_EIO : rc;
}
