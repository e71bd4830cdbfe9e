/*
 * host_plugins.c — well-behaved test plugins that exercise the plugin ABI's edges (tests/test_plugin.c):
 * every function of the fl_udf_host table on nested types (lengths: list in, list out; mix: three inputs
 * of three types, struct out), parameters in order (params), the error buffer framelake lends (probe,
 * long_message, silent_init) and a descriptor larger than ABI 1's (bigger: accepted, for members a later
 * header may append).
 */
#include "framelake_udf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lengths: list<string> -> list<int32>, the byte length of each string; NULL lists and elements stay NULL. */
static int lengths_call(void *state, const fl_udf_host *host, const fl_batch *in, fl_array *out, char *error, size_t error_size) {
    (void)state, (void)error, (void)error_size;
    const fl_array *tags = &in->columns[0];
    for (int64_t i = 0; i < in->num_rows; i++) {
        if (host->is_null(tags, i)) {
            if (host->append_null(out) != 0) return 1;
            continue;
        }
        int64_t start, end;
        host->get_list(tags, i, &start, &end);
        for (int64_t e = start; e < end; e++) {
            size_t size = 0;
            int rc = host->is_null(&tags->children[0], e) ? host->append_null(&out->children[0])
                                                           : (host->get_bytes(&tags->children[0], e, &size),
                                                              host->append_int(&out->children[0], (int64_t)size));
            if (rc != 0) return 1;
        }
        if (host->end_list(out) != 0) return 1;
    }
    return 0;
}

/* mix: (a uint16, f float64, b bool) -> struct<sum: float64, twice: uint64, not_b: bool>; NULL when any
 * input is NULL. */
static int mix_call(void *state, const fl_udf_host *host, const fl_batch *in, fl_array *out, char *error, size_t error_size) {
    (void)state, (void)error, (void)error_size;
    const fl_array *a = &in->columns[0], *f = &in->columns[1], *b = &in->columns[2];
    for (int64_t i = 0; i < in->num_rows; i++) {
        if (host->is_null(a, i) || host->is_null(f, i) || host->is_null(b, i)) {
            if (host->append_null(out) != 0) return 1;
            continue;
        }
        uint64_t av = host->get_uint(a, i);
        if (host->append_float(&out->children[0], (double)av + host->get_float(f, i)) != 0 || host->append_uint(&out->children[1], 2 * av) != 0 ||
            host->append_bool(&out->children[2], !host->get_bool(b, i)) != 0 || host->end_struct(out) != 0)
            return 1;
    }
    return 0;
}

/* params: init joins its parameters as "k=v;" in the order given; call gives that text for every row. */
static int params_init(const fl_udf_host *host, const char *const *keys, const char *const *values, size_t n, void **state, char *error,
                       size_t error_size) {
    if (host->abi_version != FL_UDF_PLUGIN_ABI || host->struct_size < sizeof *host) {
        snprintf(error, error_size, "host ABI %u of %u bytes", host->abi_version, host->struct_size);
        return 1;
    }
    size_t need = 1;
    for (size_t i = 0; i < n; i++) need += strlen(keys[i]) + strlen(values[i]) + 2;
    char *text = malloc(need), *at = text;
    if (!text) {
        snprintf(error, error_size, "out of memory");
        return 1;
    }
    *at = '\0';
    for (size_t i = 0; i < n; i++) at += sprintf(at, "%s=%s;", keys[i], values[i]);
    *state = text;
    return 0;
}
static int params_call(void *state, const fl_udf_host *host, const fl_batch *in, fl_array *out, char *error, size_t error_size) {
    (void)error, (void)error_size;
    for (int64_t i = 0; i < in->num_rows; i++)
        if (host->append_bytes(out, state, strlen(state)) != 0) return 1;
    return 0;
}
static void params_finalize(void *state) { free(state); }

/* probe: fails, telling what error buffer it was given. */
static int probe_call(void *state, const fl_udf_host *host, const fl_batch *in, fl_array *out, char *error, size_t error_size) {
    (void)state, (void)host, (void)in, (void)out;
    char seen[64];
    snprintf(seen, sizeof seen, "%s", error);
    snprintf(error, error_size, "error_size %zu, error '%s'", error_size, seen);
    return 1;
}

/* long_message: fills the whole buffer without a terminating NUL. */
static int long_message_call(void *state, const fl_udf_host *host, const fl_batch *in, fl_array *out, char *error, size_t error_size) {
    (void)state, (void)host, (void)in, (void)out;
    memset(error, 'x', error_size);
    return 1;
}

/* silent_init: fails without a message. */
static int silent_init(const fl_udf_host *host, const char *const *k, const char *const *v, size_t n, void **state, char *error, size_t size) {
    (void)host, (void)k, (void)v, (void)n, (void)state, (void)error, (void)size;
    return -1;
}

#define BASE .abi_version = FL_UDF_PLUGIN_ABI, .struct_size = sizeof(fl_udf_plugin), .version = 3
const fl_udf_plugin lengths = {BASE, .name = "lengths", .inputs = "tags list<string>", .output_type = "list<int32>", .call = lengths_call};
const fl_udf_plugin mix = {BASE,
                           .name = "mix",
                           .inputs = "a uint16, f float64, b bool",
                           .output_type = "struct<sum: float64, twice: uint64, not_b: bool>",
                           .call = mix_call};
const fl_udf_plugin params = {BASE,
                              .name = "params",
                              .inputs = "x int32",
                              .output_type = "string",
                              .init = params_init,
                              .call = params_call,
                              .finalize = params_finalize};
const fl_udf_plugin probe = {BASE, .name = "probe", .inputs = "x int32", .output_type = "int64", .call = probe_call};
const fl_udf_plugin long_message = {BASE, .name = "long_message", .inputs = "x int32", .output_type = "int64", .call = long_message_call};
const fl_udf_plugin silent = {BASE, .name = "silent", .inputs = "x int32", .output_type = "int64", .init = silent_init, .call = probe_call};

/* A descriptor as a later header might lay it out: ABI 1's members, then one more. */
const struct {
    fl_udf_plugin v1;
    void *appended;
} bigger = {{.abi_version = FL_UDF_PLUGIN_ABI,
             .struct_size = sizeof bigger,
             .version = 1,
             .name = "bigger",
             .inputs = "x int32",
             .output_type = "int64",
             .call = probe_call},
            NULL};
