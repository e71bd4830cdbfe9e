/*
 * external.c — UDFs computed by worker processes in any language, over the versioned binary protocol of
 * docs/UDF_PROTOCOL.md (the Python side is python/framelake/udf.py).
 *
 * A spec "exec:COMMAND" runs `/bin/sh -c COMMAND` with the worker's stdin, stdout and stderr as three pipes.
 * What the worker writes to stderr is passed on to ours (its tracebacks reach the terminal) while the host
 * waits on it, and the last line is quoted in errors. Resolving starts one worker for the handshake that
 * declares name, version, inputs and output type, then stops it; every executor worker's init starts its
 * own process; call sends one BATCH frame and reads one RESULT or ERROR frame.
 *
 * Invariants:
 *  1. Everything read from a worker is validated before use: frame sizes are bounded, a result column must
 *     have the declared type tree, the batch's row count, monotonic in-bounds offsets and exact buffer
 *     sizes. A wrong answer is an error naming the UDF and the command, never memory corruption. Memory
 *     for a frame grows with the bytes received, not with the length a header claims.
 *  2. A worker that dies or does not answer within the timeout is killed, reaped and restarted, and the
 *     batch is sent once more; a second failure is the call's error. No zombies, no leaked descriptors:
 *     pipes are close-on-exec, the child closes every other descriptor before exec, and gets its three
 *     pipe ends as 0, 1 and 2 even when the host runs with those closed.
 *  3. A worker's death never kills the host: SIGPIPE is blocked in the writing thread for the write and a
 *     pending one is consumed, so the write just fails with EPIPE (the same for passing stderr on).
 *  4. States are independent; several run on different threads at once.
 *  5. A worker never blocks on a full stderr pipe while the host waits for it: every wait polls stderr too.
 */
#include "udf.h"

#include "../batch/batch.h"
#include "../common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROTOCOL_VERSION 1
#define MAX_FRAME ((uint32_t)1 << 30)
#define DEFAULT_TIMEOUT_MS 60000
#define BYE_WAIT_MS 2000

enum { K_HELLO = 1, K_HELLO_REPLY = 2, K_BATCH = 3, K_RESULT = 4, K_ERROR = 5, K_BYE = 6 };
#define HELLO_DECLARE_ONLY 1u /* HELLO flag: reply with the declaration without setting up (no model load) */

/* ---- processes ---- */

#define TAIL_BYTES 2048 /* how much of a worker's stderr is kept for messages */

typedef struct proc {
    pid_t pid;
    int to, from;               /* the worker's stdin (we write) and stdout (we read) */
    int err;                    /* the worker's stderr (we read, non-blocking); -1 once at its end */
    size_t tail_len;
    char tail[TAIL_BYTES];      /* the last bytes the worker wrote to stderr in the current exchange */
} proc;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* SIGPIPE stays blocked in this thread between these two calls; one raised meanwhile is consumed, so a
 * write to a closed pipe just fails with EPIPE (the process's dispositions are never touched). */
static void sigpipe_block(sigset_t *old) {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, old);
}
static void sigpipe_unblock(const sigset_t *old) {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) > 0) {}
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

static void close_pair(int fds[2]) {
    close(fds[0]);
    close(fds[1]);
}

static int start(const char *command, proc *p, fl_error *err) {
    int in[2], out[2], errp[2];
    p->pid = -1;
    p->to = p->from = p->err = -1;
    p->tail_len = 0;
    if (pipe2(in, O_CLOEXEC) != 0) return fl_error_set(err, FL_EIO, "udf exec:%s: cannot create a pipe: %s", command, strerror(errno));
    if (pipe2(out, O_CLOEXEC) != 0) {
        close_pair(in);
        return fl_error_set(err, FL_EIO, "udf exec:%s: cannot create a pipe: %s", command, strerror(errno));
    }
    if (pipe2(errp, O_CLOEXEC) != 0) {
        close_pair(in);
        close_pair(out);
        return fl_error_set(err, FL_EIO, "udf exec:%s: cannot create a pipe: %s", command, strerror(errno));
    }
    fcntl(errp[0], F_SETFL, O_NONBLOCK); /* draining stderr never blocks the host */
    long open_max = sysconf(_SC_OPEN_MAX); /* here: sysconf is not async-signal-safe */
    int last_fd = open_max > 0 && open_max < 65536 ? (int)open_max - 1 : 65535;
    pid_t pid = fork();
    if (pid == 0) {
        /* The child: only async-signal-safe calls until exec. Its own process group, so that killing the
         * worker kills what the shell started too. The pipe ends are first copied above 2, so that a host
         * that runs with 0, 1 or 2 closed (a daemon: pipe2 returned those numbers) still hands the worker
         * the right descriptors, without close-on-exec. */
        setpgid(0, 0);
        int fin = fcntl(in[0], F_DUPFD, 3), fout = fcntl(out[1], F_DUPFD, 3), ferr = fcntl(errp[1], F_DUPFD, 3);
        if (fin < 0 || fout < 0 || ferr < 0 || dup2(fin, 0) < 0 || dup2(fout, 1) < 0 || dup2(ferr, 2) < 0) _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        if (close_range(3, ~0u, 0) != 0)
            for (int fd = 3; fd <= last_fd; fd++) close(fd);
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    if (pid < 0) {
        close(in[1]);
        close(out[0]);
        close(errp[0]);
        return fl_error_set(err, FL_EIO, "udf exec:%s: cannot start a process: %s", command, strerror(errno));
    }
    setpgid(pid, pid); /* also here, so the group exists whichever process runs first */
    p->pid = pid;
    p->to = in[1];
    p->from = out[0];
    p->err = errp[0];
    return FL_OK;
}

/* Moves what the worker has written to its stderr on to ours (so its tracebacks reach the terminal) and
 * keeps the last TAIL_BYTES of it for messages. Never blocks; at the pipe's end closes it. */
static void drain_stderr(proc *p) {
    for (int reads = 0; p->err >= 0 && reads < 64; reads++) { /* bounded: a worker that never stops writing */
        char chunk[4096];
        ssize_t n = read(p->err, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return; /* EAGAIN: nothing more for now */
        if (n == 0) {
            close(p->err);
            p->err = -1;
            return;
        }
        sigset_t old;
        sigpipe_block(&old);
        ssize_t w = write(STDERR_FILENO, chunk, (size_t)n); /* best effort: our stderr may be closed */
        (void)w;
        sigpipe_unblock(&old);
        size_t k = (size_t)n;
        if (k >= TAIL_BYTES) {
            memcpy(p->tail, chunk + k - TAIL_BYTES, TAIL_BYTES);
            p->tail_len = TAIL_BYTES;
        } else {
            size_t keep = p->tail_len + k > TAIL_BYTES ? TAIL_BYTES - k : p->tail_len;
            memmove(p->tail, p->tail + p->tail_len - keep, keep);
            memcpy(p->tail + keep, chunk, k);
            p->tail_len = keep + k;
        }
    }
}

/*
 * For a message: "; its stderr ends: LAST LINE" with the last non-empty line the worker wrote to stderr in
 * this exchange (at most 200 bytes, control characters as '?'), or "" when it wrote nothing.
 */
static const char *stderr_quote(const proc *p, char *out, size_t size) {
    size_t end = p->tail_len;
    while (end > 0 && (p->tail[end - 1] == '\n' || p->tail[end - 1] == '\r' || p->tail[end - 1] == ' ')) end--;
    size_t begin = end;
    while (begin > 0 && p->tail[begin - 1] != '\n') begin--;
    if (end - begin > 200) begin = end - 200;
    while (begin < end && ((unsigned char)p->tail[begin] & 0xC0) == 0x80) begin++; /* not half a UTF-8 character */
    out[0] = '\0';
    if (begin == end || size < 32) return out;
    int n = snprintf(out, size, "; its stderr ends: ");
    size_t at = (size_t)n;
    for (size_t i = begin; i < end && at + 1 < size; i++) {
        unsigned char c = (unsigned char)p->tail[i];
        out[at++] = c < 32 || c == 127 ? '?' : (char)c;
    }
    out[at] = '\0';
    return out;
}

/* Whether the process has ended, without reaping it (*info says how). Left unreaped, its pid cannot be
 * reused, so it still names its process group for the kill in stop. *gone: it was reaped elsewhere (the
 * program ignores SIGCHLD). */
static bool ended(pid_t pid, siginfo_t *info, bool *gone) {
    memset(info, 0, sizeof *info);
    int r;
    while ((r = waitid(P_PID, (id_t)pid, info, WEXITED | WNOHANG | WNOWAIT)) < 0 && errno == EINTR) {}
    *gone = r < 0;
    return *gone || info->si_pid == pid;
}

/* How a finished process ended, for messages. */
static void describe_end(const siginfo_t *info, char *out, size_t size) {
    if (info->si_code == CLD_EXITED) snprintf(out, size, "exited with status %d", info->si_status);
    else if (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED) snprintf(out, size, "was killed by signal %d", info->si_status);
    else snprintf(out, size, "ended");
}

/*
 * Kills (unless it already ended) the process and its group, reaps and forgets it; *how describes its end
 * if not NULL. Gently: first waits up to BYE_WAIT_MS for it to exit by itself. What it wrote to stderr is
 * drained, and p->tail is kept for the caller's message.
 */
static void stop(proc *p, bool gently, char *how, size_t how_size) {
    if (how) snprintf(how, how_size, "ended");
    if (p->to >= 0) close(p->to);
    p->to = -1;
    if (p->pid > 0) {
        siginfo_t info;
        bool gone;
        bool done = ended(p->pid, &info, &gone);
        for (double until = now_ms() + BYE_WAIT_MS; gently && !done && now_ms() < until; done = ended(p->pid, &info, &gone)) {
            struct pollfd pf = {.fd = p->err, .events = POLLIN};
            if (p->err < 0 || poll(&pf, 1, 2) <= 0) usleep(2000);
            drain_stderr(p);
        }
        if (!gone) {
            kill(-p->pid, SIGKILL); /* what the worker's shell started, too */
            if (!done) kill(p->pid, SIGKILL);
            int status;
            while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {}
        }
        if (how && !done) snprintf(how, how_size, "was killed");
        else if (how && !gone) describe_end(&info, how, how_size);
    }
    drain_stderr(p); /* the worker has ended: what it wrote is in the pipe */
    if (p->err >= 0) close(p->err);
    if (p->from >= 0) close(p->from);
    p->from = p->err = -1;
    p->pid = -1;
}

typedef enum { IO_OK, IO_EOF, IO_TIMEOUT, IO_ERROR } io_result;

/* Waits until fd is ready for `events` before the deadline, draining the worker's stderr meanwhile (a
 * worker blocked on a full stderr pipe would otherwise never answer). */
static io_result wait_ready(proc *p, int fd, short events, double deadline) {
    for (;;) {
        int left = (int)(deadline - now_ms());
        if (left <= 0) return IO_TIMEOUT;
        struct pollfd pf[2] = {{.fd = fd, .events = events}, {.fd = p->err, .events = POLLIN}};
        int k = poll(pf, p->err >= 0 ? 2 : 1, left);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return IO_ERROR;
        if (k == 0) return IO_TIMEOUT;
        if (p->err >= 0 && pf[1].revents) drain_stderr(p);
        if (pf[0].revents) return IO_OK;
    }
}

/* Writes all of data to the worker's stdin before the deadline; a dead reader gives IO_EOF, never SIGPIPE. */
static io_result write_all(proc *p, const uint8_t *data, size_t n, double deadline) {
    sigset_t old;
    sigpipe_block(&old);
    io_result r = IO_OK;
    while (n > 0 && r == IO_OK) {
        r = wait_ready(p, p->to, POLLOUT, deadline);
        if (r != IO_OK) break;
        ssize_t w = write(p->to, data, n);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w < 0) r = errno == EPIPE ? IO_EOF : IO_ERROR;
        else {
            data += w;
            n -= (size_t)w;
        }
    }
    sigpipe_unblock(&old);
    return r;
}

/* Reads exactly n bytes of the worker's stdout before the deadline. */
static io_result read_all(proc *p, uint8_t *data, size_t n, double deadline) {
    while (n > 0) {
        io_result r = wait_ready(p, p->from, POLLIN, deadline);
        if (r != IO_OK) return r;
        ssize_t got = read(p->from, data, n);
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got < 0) return IO_ERROR;
        if (got == 0) return IO_EOF;
        data += got;
        n -= (size_t)got;
    }
    return IO_OK;
}

/* ---- frames ---- */

/* Starts a frame of `kind` in b (the length is patched by end_frame). */
static void begin_frame(fl_buf *b, uint8_t kind) {
    b->size = 0;
    b->failed = false;
    fl_buf_put_u32(b, 0);
    fl_buf_put_u8(b, kind);
}
static bool end_frame(fl_buf *b) {
    if (b->failed || b->size - 4 > MAX_FRAME) return false;
    fl_store_u32(b->data, (uint32_t)(b->size - 4));
    return true;
}

/* A cursor over a received payload; every read checks the remaining size. */
typedef struct rd {
    const uint8_t *p;
    size_t n;
    bool bad;
} rd;

static bool take(rd *r, void *out, size_t n) {
    if (r->bad || n > r->n) return !(r->bad = true);
    if (out) memcpy(out, r->p, n);
    r->p += n;
    r->n -= n;
    return true;
}
static uint8_t get_u8(rd *r) {
    uint8_t v = 0;
    take(r, &v, 1);
    return v;
}
static uint32_t get_u32(rd *r) {
    uint8_t x[4] = {0};
    take(r, x, 4);
    return fl_load_u32(x);
}
static uint64_t get_u64(rd *r) {
    uint8_t x[8] = {0};
    take(r, x, 8);
    return fl_load_u64(x);
}
/* A length-prefixed string as a new NUL-terminated copy (NULL when malformed). */
static char *get_str(rd *r) {
    uint32_t n = get_u32(r);
    if (r->bad || n > r->n) {
        r->bad = true;
        return NULL;
    }
    char *s = fl_strndup((const char *)r->p, n);
    r->p += n;
    r->n -= n;
    if (!s) r->bad = true;
    return s;
}

/* ---- columns (docs/UDF_PROTOCOL.md, "Columns") ---- */

static int64_t bitmap_bytes(int64_t n) { return (n + 7) / 8; }

static void put_column(fl_buf *b, const fl_array *a) {
    fl_buf_put_u8(b, (uint8_t)a->type);
    fl_buf_put_u32(b, (uint32_t)a->fixed_size);
    fl_buf_put_u64(b, (uint64_t)a->length);
    bool nulls = a->validity && a->null_count > 0;
    fl_buf_put_u8(b, nulls);
    if (nulls) fl_buf_append(b, a->validity, (size_t)bitmap_bytes(a->length));
    int width = fl_type_width(a->type);
    switch (a->type) {
    case FL_TYPE_BOOL: fl_buf_append(b, a->values, (size_t)bitmap_bytes(a->length)); break;
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY:
        fl_buf_append(b, a->offsets, (size_t)(a->length + 1) * 8);
        fl_buf_append(b, a->values, (size_t)a->offsets[a->length]);
        break;
    case FL_TYPE_LIST:
        fl_buf_append(b, a->offsets, (size_t)(a->length + 1) * 8);
        put_column(b, &a->children[0]);
        break;
    case FL_TYPE_FIXED_SIZE_LIST: put_column(b, &a->children[0]); break;
    case FL_TYPE_STRUCT:
        fl_buf_put_u32(b, (uint32_t)a->n_children);
        for (int32_t i = 0; i < a->n_children; i++) put_column(b, &a->children[i]);
        break;
    default: fl_buf_append(b, a->values, (size_t)(a->length * width)); break;
    }
}

/*
 * Reads a column of type `field` into `dst` (an empty array of that type), checking everything: type
 * tree, counts, offsets, sizes. `depth` bounds nesting. Returns false on any mismatch (*why says which).
 */
static bool get_column(rd *r, const fl_field *field, fl_array *dst, int depth, const char **why) {
    uint8_t type = get_u8(r);
    uint32_t fixed = get_u32(r);
    uint64_t length = get_u64(r);
    uint8_t nulls = get_u8(r);
    if (r->bad) return !(*why = "truncated column header");
    if (depth > FL_MAX_DEPTH) return !(*why = "columns nested too deeply");
    if (type != (uint8_t)field->type || (field->type == FL_TYPE_FIXED_SIZE_LIST && (int32_t)fixed != field->fixed_size))
        return !(*why = "a column of another type than declared");
    if (length > r->n * 8 + 8 || nulls > 1) return !(*why = "a column longer than its frame");
    const uint8_t *validity = NULL;
    if (nulls) {
        validity = r->p;
        if (!take(r, NULL, (size_t)bitmap_bytes((int64_t)length))) return !(*why = "truncated validity bitmap");
    }
    int64_t n = (int64_t)length;
#define VALID(i) (!validity || fl_bit_get(validity, (i)))
    int width = fl_type_width(field->type);
    switch (field->type) {
    case FL_TYPE_BOOL: {
        const uint8_t *bits = r->p;
        if (!take(r, NULL, (size_t)bitmap_bytes(n))) return !(*why = "truncated bool values");
        for (int64_t i = 0; i < n; i++)
            if ((VALID(i) ? fl_array_append_bool(dst, fl_bit_get(bits, i)) : fl_array_append_null(dst)) != FL_OK) return !(*why = "out of memory");
        return true;
    }
    case FL_TYPE_STRING:
    case FL_TYPE_BINARY:
    case FL_TYPE_LIST: {
        if ((uint64_t)(n + 1) > r->n / 8) return !(*why = "truncated offsets");
        int64_t *off = fl_malloc((size_t)(n + 1) * sizeof *off);
        if (!off) return !(*why = "out of memory");
        for (int64_t i = 0; i <= n; i++) off[i] = (int64_t)get_u64(r);
        bool ok = off[0] == 0;
        for (int64_t i = 0; i < n && ok; i++) ok = off[i + 1] >= off[i];
        if (!ok) {
            fl_free(off);
            return !(*why = "offsets that do not start at 0 or decrease");
        }
        if (field->type == FL_TYPE_LIST) {
            fl_array child;
            if (fl_array_init(&child, &field->children[0]) != FL_OK) {
                fl_free(off);
                return !(*why = "out of memory");
            }
            ok = get_column(r, &field->children[0], &child, depth + 1, why);
            if (ok && child.length != off[n]) ok = !(*why = "a list child whose length is not the last offset");
            for (int64_t i = 0; i < n && ok; i++) {
                if (!VALID(i)) ok = fl_array_append_null(dst) == FL_OK;
                else {
                    ok = fl_array_append_range(&dst->children[0], &child, off[i], off[i + 1] - off[i]) == FL_OK && fl_array_end_list(dst) == FL_OK;
                }
                if (!ok && !*why) *why = "out of memory";
            }
            fl_array_clear(&child);
        } else {
            const uint8_t *data = r->p;
            if ((uint64_t)off[n] > r->n || !take(r, NULL, (size_t)off[n])) ok = !(*why = "truncated string bytes");
            for (int64_t i = 0; i < n && ok; i++) {
                ok = (VALID(i) ? fl_array_append_bytes(dst, data + off[i], (size_t)(off[i + 1] - off[i])) : fl_array_append_null(dst)) == FL_OK;
                if (!ok) *why = "out of memory";
            }
        }
        fl_free(off);
        return ok;
    }
    case FL_TYPE_FIXED_SIZE_LIST: {
        fl_array child;
        if (fl_array_init(&child, &field->children[0]) != FL_OK) return !(*why = "out of memory");
        bool ok = get_column(r, &field->children[0], &child, depth + 1, why);
        if (ok && child.length != n * field->fixed_size) ok = !(*why = "a fixed-size list child of the wrong length");
        for (int64_t i = 0; i < n && ok; i++) {
            if (!VALID(i)) ok = fl_array_append_null(dst) == FL_OK;
            else ok = fl_array_append_range(&dst->children[0], &child, i * field->fixed_size, field->fixed_size) == FL_OK && fl_array_end_list(dst) == FL_OK;
            if (!ok) *why = "out of memory";
        }
        fl_array_clear(&child);
        return ok;
    }
    case FL_TYPE_STRUCT: {
        uint32_t k = get_u32(r);
        if (r->bad || (int32_t)k != field->n_children) return !(*why = "a struct with another number of members");
        fl_array *kids = fl_calloc((size_t)k + 1, sizeof *kids);
        bool ok = kids != NULL;
        for (uint32_t c = 0; c < k && ok; c++) {
            ok = fl_array_init(&kids[c], &field->children[c]) == FL_OK && get_column(r, &field->children[c], &kids[c], depth + 1, why);
            if (ok && kids[c].length != n) ok = !(*why = "struct members of different lengths");
        }
        for (int64_t i = 0; i < n && ok; i++) {
            if (!VALID(i)) ok = fl_array_append_null(dst) == FL_OK;
            else {
                for (uint32_t c = 0; c < k && ok; c++) ok = fl_array_append_from(&dst->children[c], &kids[c], i) == FL_OK;
                ok = ok && fl_array_end_struct(dst) == FL_OK;
            }
        }
        for (uint32_t c = 0; kids && c < k; c++) fl_array_clear(&kids[c]);
        fl_free(kids);
        if (!ok && !*why) *why = "out of memory";
        return ok;
    }
    default: {
        const uint8_t *vals = r->p;
        if ((uint64_t)n > r->n / (uint64_t)width || !take(r, NULL, (size_t)(n * width))) return !(*why = "truncated values");
        for (int64_t i = 0; i < n; i++) {
            if (!VALID(i)) {
                if (fl_array_append_null(dst) != FL_OK) return !(*why = "out of memory");
                continue;
            }
            int rc;
            const uint8_t *v = vals + i * width;
            if (field->type == FL_TYPE_FLOAT32) {
                float f;
                memcpy(&f, v, 4);
                rc = fl_array_append_float(dst, f);
            } else if (field->type == FL_TYPE_FLOAT64) {
                double d;
                memcpy(&d, v, 8);
                rc = fl_array_append_float(dst, d);
            } else {
                uint64_t u = 0;
                for (int b = width - 1; b >= 0; b--) u = u << 8 | v[b];
                if (fl_type_is_signed(field->type) || field->type == FL_TYPE_TIMESTAMP_MS) {
                    int shift = 64 - 8 * width; /* sign-extend */
                    int64_t s = (int64_t)(u << shift) >> shift;
                    rc = fl_array_append_int(dst, s);
                } else {
                    rc = fl_array_append_uint(dst, u);
                }
            }
            if (rc != FL_OK) return !(*why = "a value out of the declared type's range");
        }
        return true;
    }
    }
#undef VALID
}

/* Decodes a whole column payload (used by the fuzz target too): the column must fill the payload. */
int fl_udf_protocol_read_column(const uint8_t *data, size_t size, const fl_field *field, fl_array *dst, fl_error *err) {
    rd r = {data, size, false};
    const char *why = NULL;
    if (!get_column(&r, field, dst, 0, &why)) return fl_error_set(err, FL_ECORRUPT, "%s", why ? why : "malformed column");
    if (r.n != 0) return fl_error_set(err, FL_ECORRUPT, "%zu bytes after the column", r.n);
    return FL_OK;
}

/* ---- the UDF ---- */

typedef struct exec_udf {
    fl_udf_def def;             /* name, version, inputs, output_type: owned copies from the handshake */
    char *command;
    char *name, *inputs, *output_type, *description;
    fl_schema *out_schema;      /* "out <output_type>" */
    int timeout_ms;             /* the resolving context's (a state's own context may set another) */
} exec_udf;

typedef struct exec_state {
    exec_udf *u;
    proc p;
    fl_udf_context ctx;         /* params (borrowed from the backfill, which outlives the state) */
    int timeout_ms;             /* per handshake and per batch: ctx's, else the resolving context's */
    uint64_t seq;
    fl_buf buf;
    uint8_t *frame;             /* the last received payload */
    size_t frame_cap;
} exec_state;

typedef enum { RT_OK, RT_WORKER_FAILED, RT_UDF_ERROR, RT_BAD_ANSWER } rt_kind;

/*
 * Reads one frame's kind and payload into *payload (capacity *cap, grown as needed); IO failures come back
 * as io_result, a bad length as IO_ERROR with *why. The buffer grows with the bytes that actually arrive,
 * so a length claimed in a header costs no memory before the worker sends it.
 */
static io_result read_frame(proc *p, double deadline, uint8_t *kind, uint8_t **payload, size_t *size, size_t *cap, const char **why) {
    uint8_t head[5];
    io_result r = read_all(p, head, 5, deadline);
    if (r != IO_OK) return r;
    uint32_t n = fl_load_u32(head);
    if (n < 1 || n > MAX_FRAME) {
        *why = "a frame length out of range";
        return IO_ERROR;
    }
    *kind = head[4];
    size_t body = n - 1, got = 0;
    while (got < body) {
        if (got == *cap) {
            size_t want = *cap < 65536 ? 65536 : *cap * 2;
            if (want > body) want = body;
            uint8_t *grown = fl_realloc(*payload, want);
            if (!grown) {
                *why = "out of memory";
                return IO_ERROR;
            }
            *payload = grown;
            *cap = want;
        }
        size_t piece = (body < *cap ? body : *cap) - got;
        r = read_all(p, *payload + got, piece, deadline);
        if (r != IO_OK) return r;
        got += piece;
    }
    *size = body;
    return IO_OK;
}

static const char *io_words(io_result r) {
    return r == IO_EOF ? "closed its pipe" : r == IO_TIMEOUT ? "did not answer in time" : "failed a read or write";
}

/* The handshake on a started process: HELLO with the params, the worker's declaration back. */
static int handshake(const char *command, proc *p, const fl_udf_context *ctx, bool declare_only, int timeout_ms, char **name, int *version,
                     char **inputs, char **output_type, char **description, fl_error *err) {
    fl_buf b;
    fl_buf_init(&b);
    begin_frame(&b, K_HELLO);
    fl_buf_put_u32(&b, PROTOCOL_VERSION);
    fl_buf_put_u32(&b, declare_only ? HELLO_DECLARE_ONLY : 0);
    fl_buf_put_u32(&b, (uint32_t)(ctx ? ctx->n_params : 0));
    for (size_t i = 0; ctx && i < ctx->n_params; i++) {
        fl_buf_put_str(&b, ctx->param_keys[i]);
        fl_buf_put_str(&b, ctx->param_values[i]);
    }
    double deadline = now_ms() + timeout_ms;
    int rc = FL_OK;
    p->tail_len = 0;
    io_result io = end_frame(&b) ? write_all(p, b.data, b.size, deadline) : IO_ERROR;
    uint8_t kind = 0, *payload = NULL;
    size_t size = 0, cap = 0;
    const char *why = NULL;
    if (io == IO_OK) io = read_frame(p, deadline, &kind, &payload, &size, &cap, &why);
    if (io != IO_OK) {
        char how[64], quote[256];
        stop(p, io == IO_EOF, how, sizeof how); /* at EOF the worker is exiting: collect its status */
        rc = fl_error_set(err, FL_EIO, "udf exec:%s: the worker %s during the handshake (it %s)%s", command, why ? why : io_words(io), how,
                          stderr_quote(p, quote, sizeof quote));
    } else {
        rd r = {payload, size, false};
        if (kind == K_ERROR) {
            get_u64(&r);
            char *m = get_str(&r);
            rc = fl_error_set(err, FL_EINVAL, "udf exec:%s: the worker refused to start: %s", command, m ? m : "(unreadable message)");
            fl_free(m);
        } else if (kind != K_HELLO_REPLY) {
            rc = fl_error_set(err, FL_ECORRUPT, "udf exec:%s: the worker answered the handshake with frame kind %u", command, kind);
        } else {
            uint32_t pv = get_u32(&r);
            *name = get_str(&r);
            *version = (int)get_u32(&r);
            *inputs = get_str(&r);
            *output_type = get_str(&r);
            *description = r.n ? get_str(&r) : fl_strdup("");
            if (r.bad || !*name || !*inputs || !*output_type || !*description)
                rc = fl_error_set(err, FL_ECORRUPT, "udf exec:%s: malformed handshake reply", command);
            else if (pv != PROTOCOL_VERSION)
                rc = fl_error_set(err, FL_EUNSUPPORTED, "udf exec:%s: the worker speaks protocol %u, this framelake %d", command, pv, PROTOCOL_VERSION);
            else if (!(*name)[0])
                rc = fl_error_set(err, FL_EINVAL, "udf exec:%s: the worker declared an empty name", command);
        }
    }
    fl_free(payload);
    fl_buf_free(&b);
    return rc;
}

/* Starts a worker and checks it declares what the resolved UDF said. */
static int start_worker(exec_state *s, fl_error *err) {
    exec_udf *u = s->u;
    FL_RETURN_NOT_OK(start(u->command, &s->p, err));
    char *name = NULL, *inputs = NULL, *output = NULL, *desc = NULL;
    int version = 0;
    int rc = handshake(u->command, &s->p, &s->ctx, false, s->timeout_ms, &name, &version, &inputs, &output, &desc, err);
    if (rc == FL_OK && (strcmp(name, u->name) || version != u->def.version || strcmp(inputs, u->inputs) || strcmp(output, u->output_type)))
        rc = fl_error_set(err, FL_EINVAL, "udf exec:%s: a new worker declared %s v%d (%s) -> %s, not what the first one declared", u->command, name,
                          version, inputs, output);
    if (rc != FL_OK) stop(&s->p, false, NULL, 0);
    fl_free(name);
    fl_free(inputs);
    fl_free(output);
    fl_free(desc);
    return rc;
}

/* One BATCH → RESULT exchange. On RT_OK *out holds the decoded column. */
static rt_kind roundtrip(exec_state *s, const fl_batch *in, fl_array *out, fl_error *err) {
    exec_udf *u = s->u;
    fl_buf *b = &s->buf;
    uint64_t seq = ++s->seq;
    begin_frame(b, K_BATCH);
    fl_buf_put_u64(b, seq);
    fl_buf_put_u64(b, (uint64_t)in->num_rows);
    for (int64_t i = 0; i < in->num_rows; i++) fl_buf_put_u64(b, in->row_ids ? in->row_ids[i] : (uint64_t)i);
    fl_buf_put_u32(b, (uint32_t)in->n_columns);
    for (int32_t c = 0; c < in->n_columns; c++) put_column(b, &in->columns[c]);
    if (!end_frame(b)) {
        fl_error_set(err, FL_ENOMEM, "a batch too large for one frame, or out of memory");
        return RT_BAD_ANSWER;
    }
    double deadline = now_ms() + s->timeout_ms;
    s->p.tail_len = 0;
    io_result io = write_all(&s->p, b->data, b->size, deadline);
    uint8_t kind = 0;
    size_t size = 0;
    const char *why = NULL;
    if (io == IO_OK) io = read_frame(&s->p, deadline, &kind, &s->frame, &size, &s->frame_cap, &why);
    if (io != IO_OK) {
        char how[64], quote[256];
        stop(&s->p, io == IO_EOF, how, sizeof how);
        stderr_quote(&s->p, quote, sizeof quote);
        if (why) fl_error_set(err, FL_ECORRUPT, "worker exec:%s sent %s%s", u->command, why, quote);
        else if (io == IO_TIMEOUT) fl_error_set(err, FL_EIO, "worker exec:%s did not answer within %d ms (killed)%s", u->command, s->timeout_ms, quote);
        else fl_error_set(err, FL_EIO, "worker exec:%s %s (it %s)%s", u->command, io_words(io), how, quote);
        return RT_WORKER_FAILED;
    }
    rd r = {s->frame, size, false};
    if (kind == K_ERROR) {
        int64_t row = (int64_t)get_u64(&r);
        char *m = get_str(&r);
        if (row >= 0 && row < in->num_rows && in->num_rows > 1) fl_error_set(err, FL_EINVAL, "row %lld: %s", (long long)row, m ? m : "(unreadable message)");
        else fl_error_set(err, FL_EINVAL, "%s", m ? m : "(unreadable message)");
        fl_free(m);
        return RT_UDF_ERROR;
    }
    if (kind != K_RESULT || get_u64(&r) != seq || r.bad) {
        stop(&s->p, false, NULL, 0); /* out of step: never trust this stream again */
        fl_error_set(err, FL_ECORRUPT, "worker exec:%s: expected the result of batch %llu, got frame kind %u", u->command, (unsigned long long)seq,
                     kind);
        return RT_BAD_ANSWER;
    }
    const char *bad = NULL;
    if (!get_column(&r, &u->out_schema->fields[0], out, 0, &bad) || r.n != 0) {
        fl_error_set(err, FL_ETYPE, "worker exec:%s: the result is not a %s column: %s", u->command, u->output_type,
                     bad ? bad : "bytes after the column");
        return RT_BAD_ANSWER;
    }
    if (out->length != in->num_rows) {
        fl_error_set(err, FL_ETYPE, "worker exec:%s returned %lld values for %lld rows", u->command, (long long)out->length, (long long)in->num_rows);
        return RT_BAD_ANSWER;
    }
    return RT_OK;
}

static int exec_call(void *state, const fl_batch *in, fl_array *out, fl_error *err) {
    exec_state *s = state;
    for (int attempt = 0;; attempt++) {
        if (s->p.pid <= 0) FL_RETURN_NOT_OK(start_worker(s, err));
        fl_array_reset(out);
        rt_kind k = roundtrip(s, in, out, err);
        if (k == RT_OK) return FL_OK;
        if (k == RT_UDF_ERROR) return FL_EINVAL;
        if (k == RT_BAD_ANSWER) {
            fl_array_reset(out);
            return err->code ? err->code : FL_ECORRUPT;
        }
        /* the worker died or hung: restarted, the batch sent once more */
        if (attempt == 1) {
            fl_error inner = *err;
            return fl_error_set(err, inner.code, "%s; failed again after a restart", inner.message);
        }
    }
}

static int exec_init(const fl_udf_def *def, const fl_udf_context *ctx, void **state, fl_error *err) {
    exec_state *s = fl_calloc(1, sizeof *s);
    if (!s) return fl_error_set(err, FL_ENOMEM, "out of memory");
    s->u = def->impl;
    s->p = (proc){.pid = -1, .to = -1, .from = -1, .err = -1};
    if (ctx) s->ctx = *ctx;
    s->timeout_ms = ctx && ctx->timeout_ms > 0 ? ctx->timeout_ms : s->u->timeout_ms;
    fl_buf_init(&s->buf);
    int rc = start_worker(s, err);
    if (rc != FL_OK) {
        fl_buf_free(&s->buf);
        fl_free(s);
        return rc;
    }
    *state = s;
    return FL_OK;
}

static void exec_fini(void *state) {
    exec_state *s = state;
    if (s->p.pid > 0) {
        fl_buf *b = &s->buf;
        begin_frame(b, K_BYE);
        if (end_frame(b)) write_all(&s->p, b->data, b->size, now_ms() + 200);
        stop(&s->p, true, NULL, 0);
    }
    fl_buf_free(&s->buf);
    fl_free(s->frame);
    fl_free(s);
}

static void exec_release(fl_udf_def *def) {
    exec_udf *u = def->impl;
    fl_free(u->command);
    fl_free(u->name);
    fl_free(u->inputs);
    fl_free(u->output_type);
    fl_free(u->description);
    fl_schema_free(u->out_schema);
    fl_free(u);
}

int fl_udf_exec_resolve(const char *command, const fl_udf_context *ctx, fl_udf_def **out, fl_error *err) {
    *out = NULL;
    exec_udf *u = fl_calloc(1, sizeof *u);
    if (!u || !(u->command = fl_strdup(command))) {
        fl_free(u);
        return fl_error_set(err, FL_ENOMEM, "out of memory");
    }
    u->timeout_ms = ctx && ctx->timeout_ms > 0 ? ctx->timeout_ms : DEFAULT_TIMEOUT_MS;
    proc p;
    int rc = start(command, &p, err);
    int version = 0;
    if (rc == FL_OK) {
        rc = handshake(command, &p, ctx, ctx && ctx->declare_only, u->timeout_ms, &u->name, &version, &u->inputs, &u->output_type, &u->description,
                       err);
        if (p.pid > 0) {
            fl_buf b;
            fl_buf_init(&b);
            begin_frame(&b, K_BYE);
            if (end_frame(&b)) write_all(&p, b.data, b.size, now_ms() + 200);
            fl_buf_free(&b);
            stop(&p, true, NULL, 0);
        }
    }
    fl_error why = {0};
    if (rc == FL_OK) {
        fl_schema *in = NULL;
        if (fl_schema_parse(u->inputs, &in, &why) != FL_OK)
            rc = fl_error_set(err, FL_EINVAL, "udf exec:%s: declared inputs '%s' do not parse: %s", command, u->inputs, why.message);
        fl_schema_free(in);
    }
    if (rc == FL_OK) {
        char *text = fl_sprintf("out %s", u->output_type);
        rc = text ? fl_schema_parse(text, &u->out_schema, &why) : FL_ENOMEM;
        fl_free(text);
        if (rc == FL_ENOMEM) fl_error_set(err, rc, "out of memory");
        else if (rc != FL_OK)
            rc = fl_error_set(err, FL_EINVAL, "udf exec:%s: declared output type '%s' does not parse: %s", command, u->output_type, why.message);
    }
    u->def = (fl_udf_def){.name = u->name,
                          .version = version,
                          .inputs = u->inputs,
                          .output_type = u->output_type,
                          .description = u->description,
                          .init = exec_init,
                          .call = exec_call,
                          .fini = exec_fini,
                          .release = exec_release,
                          .impl = u};
    if (rc != FL_OK) {
        exec_release(&u->def);
        return rc;
    }
    *out = &u->def;
    return FL_OK;
}
