/*
 * udf.c — resolving a UDF spec to its kind (built-in, C plugin, external worker), and the public view of
 * the registry (fl_udf_count, fl_udf_info).
 */
#include "udf.h"

#include "../common/common.h"

#include <stdlib.h>

int fl_udf_count(void) {
    size_t n;
    fl_udf_builtins(&n);
    return (int)n;
}

bool fl_udf_info(int i, const char **name, const char **inputs, const char **output_type, int *version, const char **description) {
    size_t n;
    const fl_udf_def *const *all = fl_udf_builtins(&n);
    if (i < 0 || (size_t)i >= n) return false;
    if (name) *name = all[i]->name;
    if (inputs) *inputs = all[i]->inputs;
    if (output_type) *output_type = all[i]->output_type;
    if (version) *version = all[i]->version;
    if (description) *description = all[i]->description;
    return true;
}

/* "path.so:symbol": a ':' after a path that names a shared object (holds a '/' or ends in ".so"). */
static bool split_plugin(const char *spec, size_t *colon) {
    const char *c = strrchr(spec, ':');
    if (!c || c == spec || !c[1]) return false;
    size_t n = (size_t)(c - spec);
    bool so = n > 3 && !memcmp(c - 3, ".so", 3);
    if (!so && !memchr(spec, '/', n)) return false;
    *colon = n;
    return true;
}

int fl_udf_resolve(const char *spec, const fl_udf_context *ctx, fl_udf_def **out, fl_error *err) {
    *out = NULL;
    fl_udf_context none = {0};
    if (!ctx) ctx = &none;
    if (!spec || !*spec) return fl_error_set(err, FL_EINVAL, "udf: empty name");
    if (!strncmp(spec, "exec:", 5)) {
        const char *command = spec + 5;
        while (*command == ' ') command++;
        if (!*command) return fl_error_set(err, FL_EINVAL, "udf '%s': exec: needs a command line", spec);
        return fl_udf_exec_resolve(command, ctx, out, err);
    }
    size_t colon;
    if (split_plugin(spec, &colon)) {
        char *path = fl_strndup(spec, colon);
        if (!path) return fl_error_set(err, FL_ENOMEM, "udf: out of memory");
        int rc = fl_udf_plugin_resolve(path, spec + colon + 1, ctx, out, err);
        fl_free(path);
        return rc;
    }
    const fl_udf_def *def = fl_udf_find(spec);
    if (!def) return fl_error_set(err, FL_EINVAL, "unknown udf '%s' (see framelake udf list; plugins are path.so:symbol, workers exec:command)", spec);
    *out = (fl_udf_def *)def; /* static: fl_udf_release leaves it alone */
    return FL_OK;
}

char *fl_udf_canonical_spec(const char *spec) {
    size_t colon;
    if (!spec || strncmp(spec, "exec:", 5) == 0 || !split_plugin(spec, &colon)) return spec ? fl_strdup(spec) : NULL;
    char *path = fl_strndup(spec, colon);
    char *real = path ? realpath(path, NULL) : NULL;
    char *out = real ? fl_sprintf("%s:%s", real, spec + colon + 1) : fl_strdup(spec);
    free(real);
    fl_free(path);
    return out;
}

void fl_udf_release(fl_udf_def *def) {
    if (def && def->release) def->release(def);
}
