/*
 * plugin.c — C plugin UDFs: a shared object exporting an fl_udf_plugin descriptor (include/framelake_udf.h),
 * loaded with dlopen and wrapped into the one UDF descriptor of udf.h.
 *
 * Invariants:
 *  1. A descriptor is used only after its ABI version, size, required members and declared types have
 *     been checked; its strings live in the loaded object, which stays loaded until release.
 *  2. Plugin messages are copied out of a bounded buffer that is always NUL-terminated.
 */
#include "udf.h"

#include "framelake_udf.h"

#include "../common/common.h"

#include <dlfcn.h>

#define PLUGIN_ERROR_SIZE 512

static const fl_udf_host HOST = {
    .abi_version = FL_UDF_PLUGIN_ABI,
    .struct_size = sizeof(fl_udf_host),
    .append_null = fl_array_append_null,
    .append_bool = fl_array_append_bool,
    .append_int = fl_array_append_int,
    .append_uint = fl_array_append_uint,
    .append_float = fl_array_append_float,
    .append_bytes = fl_array_append_bytes,
    .end_list = fl_array_end_list,
    .end_struct = fl_array_end_struct,
    .is_null = fl_array_is_null,
    .get_bool = fl_array_get_bool,
    .get_int = fl_array_get_int,
    .get_uint = fl_array_get_uint,
    .get_float = fl_array_get_float,
    .get_bytes = fl_array_get_bytes,
    .get_list = fl_array_get_list,
};

typedef struct plugin {
    fl_udf_def def;
    void *handle;
    const fl_udf_plugin *p;
} plugin;

typedef struct plugin_state {
    const fl_udf_plugin *p;
    void *state;
} plugin_state;

static int plugin_init(const fl_udf_def *def, const fl_udf_context *ctx, void **state, fl_error *err) {
    const plugin *pl = def->impl;
    plugin_state *s = fl_calloc(1, sizeof *s);
    if (!s) return fl_error_set(err, FL_ENOMEM, "udf %s: out of memory", def->name);
    s->p = pl->p;
    if (pl->p->init) {
        char message[PLUGIN_ERROR_SIZE] = "";
        int rc = pl->p->init(&HOST, ctx ? ctx->param_keys : NULL, ctx ? ctx->param_values : NULL, ctx ? ctx->n_params : 0, &s->state, message,
                             sizeof message);
        message[sizeof message - 1] = '\0';
        if (rc != 0) {
            fl_free(s);
            return fl_error_set(err, FL_EINVAL, "udf %s: init failed: %s", def->name, message[0] ? message : "(no message)");
        }
    }
    *state = s;
    return FL_OK;
}

static int plugin_call(void *state, const fl_batch *inputs, fl_array *out, fl_error *err) {
    plugin_state *s = state;
    char message[PLUGIN_ERROR_SIZE] = "";
    int rc = s->p->call(s->state, &HOST, inputs, out, message, sizeof message);
    message[sizeof message - 1] = '\0';
    if (rc != 0) return fl_error_set(err, FL_EINVAL, "%s", message[0] ? message : "failed (no message)");
    return FL_OK;
}

static void plugin_fini(void *state) {
    plugin_state *s = state;
    if (s->p->finalize) s->p->finalize(s->state);
    fl_free(s);
}

static void plugin_release(fl_udf_def *def) {
    plugin *pl = def->impl;
    dlclose(pl->handle);
    fl_free(pl);
}

/* Checks a descriptor before any of its members is used. */
static int check_descriptor(const char *path, const char *symbol, const fl_udf_plugin *p, fl_error *err) {
    if (p->abi_version != FL_UDF_PLUGIN_ABI)
        return fl_error_set(err, FL_EUNSUPPORTED, "udf %s:%s: plugin ABI version %u, this framelake speaks %d", path, symbol, p->abi_version,
                            FL_UDF_PLUGIN_ABI);
    if (p->struct_size < sizeof(fl_udf_plugin))
        return fl_error_set(err, FL_EINVAL, "udf %s:%s: descriptor of %u bytes, smaller than the %zu of ABI %d", path, symbol, p->struct_size,
                            sizeof(fl_udf_plugin), FL_UDF_PLUGIN_ABI);
    if (!p->name || !p->name[0] || !p->inputs || !p->output_type || !p->call)
        return fl_error_set(err, FL_EINVAL, "udf %s:%s: the descriptor lacks a name, inputs, output_type or call", path, symbol);
    if (p->version < 0) return fl_error_set(err, FL_EINVAL, "udf %s:%s: negative version %d", path, symbol, p->version);
    fl_schema *s = NULL;
    fl_error why = {0};
    if (fl_schema_parse(p->inputs, &s, &why) != FL_OK)
        return fl_error_set(err, FL_EINVAL, "udf %s:%s: inputs '%s' do not parse: %s", path, symbol, p->inputs, why.message);
    fl_schema_free(s);
    char *text = fl_sprintf("x %s", p->output_type);
    int rc = text ? fl_schema_parse(text, &s, &why) : FL_ENOMEM;
    fl_free(text);
    if (rc == FL_ENOMEM) return fl_error_set(err, rc, "out of memory");
    if (rc != FL_OK) return fl_error_set(err, FL_EINVAL, "udf %s:%s: output type '%s' does not parse: %s", path, symbol, p->output_type, why.message);
    fl_schema_free(s);
    return FL_OK;
}

int fl_udf_plugin_resolve(const char *path, const char *symbol, const fl_udf_context *ctx, fl_udf_def **out, fl_error *err) {
    (void)ctx;
    *out = NULL;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        return fl_error_set(err, FL_ENOTFOUND, "udf %s:%s: cannot load the plugin: %s", path, symbol, why ? why : "unknown error");
    }
    dlerror();
    const fl_udf_plugin *p = dlsym(handle, symbol);
    const char *why = dlerror();
    int rc = FL_OK;
    if (why || !p) rc = fl_error_set(err, FL_ENOTFOUND, "udf %s:%s: no such symbol in the plugin: %s", path, symbol, why ? why : "NULL");
    else rc = check_descriptor(path, symbol, p, err);
    plugin *pl = rc == FL_OK ? fl_calloc(1, sizeof *pl) : NULL;
    if (rc == FL_OK && !pl) rc = fl_error_set(err, FL_ENOMEM, "out of memory");
    if (rc != FL_OK) {
        dlclose(handle);
        return rc;
    }
    pl->handle = handle;
    pl->p = p;
    pl->def = (fl_udf_def){.name = p->name,
                           .version = p->version,
                           .inputs = p->inputs,
                           .output_type = p->output_type,
                           .description = p->description ? p->description : "",
                           .init = plugin_init,
                           .call = plugin_call,
                           .fini = plugin_fini,
                           .release = plugin_release,
                           .impl = pl};
    *out = &pl->def;
    return FL_OK;
}
