/*
 * io_local.c — the POSIX backend of io.h.
 *
 * Create-if-absent is link(2): the bytes go to a uniquely named temporary file in the same directory, are
 * fsynced, and link() publishes them under the final name only if that name does not exist. link() is
 * atomic on every local POSIX file system and fails with EEXIST when another writer won.
 */
#include "io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct fl_rfile {
    int fd;
    uint64_t size;
    char *path;
};

struct fl_wfile {
    int fd;
    uint64_t offset;
    char *path;
    uint8_t *buf;               /* write-behind buffer: small writes are coalesced */
    size_t buf_used;
    uint64_t kicked;            /* bytes [0, kicked) have been handed to writeback */
};

/* Start writeback of every this many written bytes, so the device works while we produce the rest and the
 * final fdatasync finds little left to do. */
#define WRITEBACK_STEP (8u << 20)

#define WRITE_BUFFER_SIZE (1u << 20)

static fl_io_counters counters; /* statistics only: races between threads may lose counts */

void fl_io_get_counters(fl_io_counters *out) { *out = counters; }

static int os_error(fl_error *err, const char *op, const char *path) {
    int e = errno;
    int code = e == ENOENT ? FL_ENOTFOUND : e == EEXIST ? FL_EEXIST : e == ENOMEM ? FL_ENOMEM : FL_EIO;
    return fl_error_set(err, code, "%s %s: %s", op, path, strerror(e));
}

int fl_io_read_file(const char *path, uint8_t **data, size_t *size, fl_error *err) {
    *data = NULL;
    *size = 0;
    fl_rfile *f;
    FL_RETURN_NOT_OK(fl_io_open(path, &f, err));
    if (f->size > (uint64_t)SIZE_MAX / 2) {
        fl_io_close(f);
        return fl_error_set(err, FL_ECORRUPT, "%s: file too large", path);
    }
    uint8_t *p = fl_malloc((size_t)f->size + 1);
    if (!p) {
        unsigned long long n = f->size;
        fl_io_close(f);
        return fl_error_set(err, FL_ENOMEM, "%s: out of memory reading %llu bytes", path, n);
    }
    int rc = fl_io_pread(f, 0, (size_t)f->size, p, err);
    if (rc == FL_OK) {
        p[f->size] = 0;
        *data = p;
        *size = (size_t)f->size;
    } else {
        fl_free(p);
    }
    fl_io_close(f);
    return rc;
}

int fl_io_open(const char *path, fl_rfile **out, fl_error *err) {
    *out = NULL;
    counters.opens++;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return os_error(err, "open", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = os_error(err, "stat", path);
        close(fd);
        return rc;
    }
    fl_rfile *f = fl_calloc(1, sizeof *f);
    char *p = fl_strdup(path);
    if (!f || !p) {
        fl_free(f);
        fl_free(p);
        close(fd);
        return fl_error_set(err, FL_ENOMEM, "open %s: out of memory", path);
    }
    f->fd = fd;
    f->size = (uint64_t)st.st_size;
    f->path = p;
    *out = f;
    return FL_OK;
}

uint64_t fl_io_size(const fl_rfile *f) { return f->size; }
const char *fl_io_path(const fl_rfile *f) { return f->path; }

int fl_io_pread(fl_rfile *f, uint64_t offset, size_t n, void *buf, fl_error *err) {
    if (offset > f->size || n > f->size - offset)
        return fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: read of %zu bytes past end of file (size %llu)", f->path,
                            (unsigned long long)offset, n, (unsigned long long)f->size);
    counters.reads++;
    counters.bytes_read += n;
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(f->fd, (uint8_t *)buf + done, n - done, (off_t)(offset + done));
        if (r < 0) {
            if (errno == EINTR) continue;
            return os_error(err, "read", f->path);
        }
        if (r == 0)
            return fl_error_set(err, FL_ECORRUPT, "%s: byte %llu: unexpected end of file", f->path,
                                (unsigned long long)(offset + done));
        done += (size_t)r;
    }
    return FL_OK;
}

void fl_io_close(fl_rfile *f) {
    if (!f) return;
    close(f->fd);
    fl_free(f->path);
    fl_free(f);
}

static int write_all(int fd, const void *data, size_t n, const char *path, fl_error *err) {
    const uint8_t *p = data;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return os_error(err, "write", path);
        }
        p += w;
        n -= (size_t)w;
    }
    return FL_OK;
}

int fl_io_writer_open(const char *path, fl_wfile **out, fl_error *err) {
    *out = NULL;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return os_error(err, "create", path);
    fl_wfile *w = fl_calloc(1, sizeof *w);
    char *p = fl_strdup(path);
    uint8_t *buf = fl_malloc(WRITE_BUFFER_SIZE);
    if (!w || !p || !buf) {
        fl_free(w);
        fl_free(p);
        fl_free(buf);
        close(fd);
        unlink(path);
        return fl_error_set(err, FL_ENOMEM, "create %s: out of memory", path);
    }
    w->fd = fd;
    w->path = p;
    w->buf = buf;
    *out = w;
    return FL_OK;
}

static int writer_flush(fl_wfile *w, fl_error *err) {
    if (!w->buf_used) return FL_OK;
    int rc = write_all(w->fd, w->buf, w->buf_used, w->path, err);
    w->buf_used = 0;
    return rc;
}

/* Asks the kernel to start writing back what has reached it (no waiting; a hint, errors ignored: the final
 * fdatasync reports any). */
static void writer_kick(fl_wfile *w) {
    uint64_t written = w->offset - w->buf_used;
    if (written - w->kicked < WRITEBACK_STEP) return;
    sync_file_range(w->fd, (off_t)w->kicked, (off_t)(written - w->kicked), SYNC_FILE_RANGE_WRITE);
    w->kicked = written;
}

int fl_io_writer_write(fl_wfile *w, const void *data, size_t n, fl_error *err) {
    if (n == 0) return FL_OK;
    if (n >= WRITE_BUFFER_SIZE) {
        /* Large payloads (blobs) go straight to the kernel: copying them through the buffer costs more
         * than the extra system call. */
        FL_RETURN_NOT_OK(writer_flush(w, err));
        FL_RETURN_NOT_OK(write_all(w->fd, data, n, w->path, err));
    } else {
        if (w->buf_used + n > WRITE_BUFFER_SIZE) FL_RETURN_NOT_OK(writer_flush(w, err));
        memcpy(w->buf + w->buf_used, data, n);
        w->buf_used += n;
    }
    w->offset += n;
    writer_kick(w);
    return FL_OK;
}

uint64_t fl_io_writer_offset(const fl_wfile *w) { return w->offset; }

static void writer_free(fl_wfile *w) {
    fl_free(w->path);
    fl_free(w->buf);
    fl_free(w);
}

int fl_io_writer_finish(fl_wfile *w, fl_error *err) {
    int rc = writer_flush(w, err);
    if (rc == FL_OK && fdatasync(w->fd) != 0) rc = os_error(err, "fsync", w->path);
    if (close(w->fd) != 0 && rc == FL_OK) rc = os_error(err, "close", w->path);
    if (rc != FL_OK) unlink(w->path);
    writer_free(w);
    return rc;
}

void fl_io_writer_abort(fl_wfile *w) {
    if (!w) return;
    close(w->fd);
    unlink(w->path);
    writer_free(w);
}

/* Directory part of a path ("." when none), into buf. */
static void dir_of(const char *path, char *buf, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(buf, cap, ".");
        return;
    }
    size_t n = (size_t)(slash - path);
    if (n == 0) n = 1;
    if (n >= cap) n = cap - 1;
    memcpy(buf, path, n);
    buf[n] = 0;
}

/* Writes the bytes to a fresh temporary file beside `path` (fsynced if durable); returns its name in tmp. */
static int write_temp(const char *path, const void *data, size_t n, bool durable, char *tmp, size_t cap, fl_error *err) {
    char dir[4096], rnd[17];
    dir_of(path, dir, sizeof dir);
    fl_random_hex(rnd);
    if ((size_t)snprintf(tmp, cap, "%s/.tmp-%s", dir, rnd) >= cap) return fl_error_set(err, FL_EINVAL, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return os_error(err, "create", tmp);
    int rc = write_all(fd, data, n, tmp, err);
    if (rc == FL_OK && durable && fdatasync(fd) != 0) rc = os_error(err, "fsync", tmp);
    if (close(fd) != 0 && rc == FL_OK) rc = os_error(err, "close", tmp);
    if (rc != FL_OK) unlink(tmp);
    return rc;
}

int fl_io_put_if_absent(const char *path, const void *data, size_t n, fl_error *err) {
    char tmp[4200], dir[4096];
    FL_RETURN_NOT_OK(write_temp(path, data, n, true, tmp, sizeof tmp, err));
    int rc = FL_OK;
    if (link(tmp, path) != 0) rc = errno == EEXIST ? fl_error_set(err, FL_EEXIST, "%s already exists", path) : os_error(err, "link", path);
    unlink(tmp);
    if (rc != FL_OK) return rc;
    dir_of(path, dir, sizeof dir);
    return fl_io_sync_dir(dir, err);
}

int fl_io_put_replace(const char *path, const void *data, size_t n, bool durable, fl_error *err) {
    char tmp[4200], dir[4096];
    FL_RETURN_NOT_OK(write_temp(path, data, n, durable, tmp, sizeof tmp, err));
    if (rename(tmp, path) != 0) {
        int rc = os_error(err, "rename", path);
        unlink(tmp);
        return rc;
    }
    if (!durable) return FL_OK;
    dir_of(path, dir, sizeof dir);
    return fl_io_sync_dir(dir, err);
}

bool fl_io_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int fl_io_delete(const char *path, fl_error *err) {
    if (unlink(path) != 0 && errno != ENOENT) return os_error(err, "delete", path);
    return FL_OK;
}

int fl_io_mkdirs(const char *path, fl_error *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) return fl_error_set(err, FL_EINVAL, "path too long: %s", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == 0) {
            char c = buf[i];
            buf[i] = 0;
            if (mkdir(buf, 0755) == 0) {
                /* A new directory entry is durable only once its parent is synced. */
                char parent[4096];
                dir_of(buf, parent, sizeof parent);
                FL_RETURN_NOT_OK(fl_io_sync_dir(parent, err));
            } else if (errno != EEXIST) {
                return os_error(err, "mkdir", buf);
            }
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return fl_error_set(err, FL_EIO, "%s is not a directory", path);
    return FL_OK;
}

int fl_io_sync_dir(const char *path, fl_error *err) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return os_error(err, "open directory", path);
    int rc = FL_OK;
    if (fsync(fd) != 0) rc = os_error(err, "fsync directory", path);
    close(fd);
    return rc;
}

int fl_io_list(const char *dir, char ***names, size_t *n, fl_error *err) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return os_error(err, "cannot read directory", dir);
    size_t cap = 0, count = 0;
    char **list = NULL;
    struct dirent *e;
    int rc = FL_OK;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!fl_reserve((void **)&list, &cap, count + 1, sizeof *list, 16)) {
            rc = fl_error_set(err, FL_ENOMEM, "list %s: out of memory", dir);
            break;
        }
        if (!(list[count] = fl_strdup(e->d_name))) {
            rc = fl_error_set(err, FL_ENOMEM, "list %s: out of memory", dir);
            break;
        }
        count++;
    }
    closedir(d);
    if (rc != FL_OK) {
        fl_strings_free(list, count);
        return rc;
    }
    *names = list;
    *n = count;
    return FL_OK;
}

void fl_strings_free(char **strings, size_t n) {
    if (!strings) return;
    for (size_t i = 0; i < n; i++) fl_free(strings[i]);
    fl_free(strings);
}

int fl_io_stat(const char *path, int64_t *mtime_ms, uint64_t *size, fl_error *err) {
    struct stat st;
    if (stat(path, &st) != 0) return os_error(err, "stat", path);
    if (mtime_ms) *mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    if (size) *size = (uint64_t)st.st_size;
    return FL_OK;
}

int fl_io_remove_tree(const char *path, fl_error *err) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? FL_OK : os_error(err, "stat", path);
    if (!S_ISDIR(st.st_mode)) return fl_io_delete(path, err);
    char **names;
    size_t n;
    FL_RETURN_NOT_OK(fl_io_list(path, &names, &n, err));
    int rc = FL_OK;
    for (size_t i = 0; i < n && rc == FL_OK; i++) {
        char *child = fl_sprintf("%s/%s", path, names[i]);
        if (!child) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
        else rc = fl_io_remove_tree(child, err);
        fl_free(child);
    }
    fl_strings_free(names, n);
    if (rc == FL_OK && rmdir(path) != 0) rc = os_error(err, "rmdir", path);
    return rc;
}
