/*
 * bad_plugins.c — descriptors that break the plugin rules one way each (tests/test_plugin.c loads them):
 * a foreign ABI version, types that do not parse, a missing call, a call that returns too few values,
 * one that returns a value of the wrong type, one that fails with a message, an init that fails, and a
 * well-behaved one that echoes its parameter (to see parameters arrive).
 */
#include "framelake_udf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int one_value(void *state, const fl_udf_host *host, const fl_batch *in, fl_array *out, char *error, size_t error_size) {
    (void)state, (void)in, (void)error, (void)error_size;
    return host->append_int(out, 1);
}

static int wrong_type(void *state, const fl_udf_host *host, const fl_batch *in, fl_array *out, char *error, size_t error_size) {
    (void)state, (void)error, (void)error_size;
    for (int64_t i = 0; i < in->num_rows; i++)
        if (host->append_bytes(out, "x", 1) != 0) return 1; /* bytes into an int64 array */
    return 0;
}

static int refuses(void *state, const fl_udf_host *host, const fl_batch *in, fl_array *out, char *error, size_t error_size) {
    (void)state, (void)host, (void)in, (void)out;
    snprintf(error, error_size, "no good: %s", "this plugin refuses every batch");
    return 7;
}

static int bad_init(const fl_udf_host *host, const char *const *k, const char *const *v, size_t n, void **state, char *error, size_t size) {
    (void)host, (void)k, (void)v, (void)n, (void)state;
    snprintf(error, size, "the model file is missing");
    return 1;
}

/* echo: init keeps the value of --param add (default 0); call gives x + add. */
static int echo_init(const fl_udf_host *host, const char *const *k, const char *const *v, size_t n, void **state, char *error, size_t size) {
    (void)host;
    long long *add = malloc(sizeof *add);
    if (!add) return snprintf(error, size, "out of memory"), 1;
    *add = 0;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k[i], "add")) *add = atoll(v[i]);
    *state = add;
    return 0;
}
static int echo_call(void *state, const fl_udf_host *host, const fl_batch *in, fl_array *out, char *error, size_t error_size) {
    (void)error, (void)error_size;
    for (int64_t i = 0; i < in->num_rows; i++) {
        int rc = host->is_null(&in->columns[0], i) ? host->append_null(out)
                                                   : host->append_int(out, host->get_int(&in->columns[0], i) + *(long long *)state);
        if (rc != 0) return 1;
    }
    return 0;
}
static void echo_finalize(void *state) { free(state); }

#define HEADER .abi_version = FL_UDF_PLUGIN_ABI, .struct_size = sizeof(fl_udf_plugin), .version = 1
#define BASE HEADER, .inputs = "x int32"
const fl_udf_plugin bad_abi = {.abi_version = 7, .struct_size = sizeof(fl_udf_plugin), .version = 1, .inputs = "x int32", .name = "bad_abi",
                               .output_type = "int64", .call = one_value};
const fl_udf_plugin bad_size = {.abi_version = FL_UDF_PLUGIN_ABI, .struct_size = 16, .version = 1, .inputs = "x int32", .name = "bad_size",
                                .output_type = "int64", .call = one_value};
const fl_udf_plugin bad_type = {BASE, .name = "bad_type", .output_type = "floaty", .call = one_value};
const fl_udf_plugin bad_inputs = {HEADER, .name = "bad_inputs", .inputs = "x inty", .output_type = "int64", .call = one_value};
const fl_udf_plugin no_call = {BASE, .name = "no_call", .output_type = "int64"};
const fl_udf_plugin short_result = {BASE, .name = "short_result", .output_type = "int64", .call = one_value};
const fl_udf_plugin wrong_result = {BASE, .name = "wrong_result", .output_type = "int64", .call = wrong_type};
const fl_udf_plugin refusing = {BASE, .name = "refusing", .output_type = "int64", .call = refuses};
const fl_udf_plugin init_fails = {BASE, .name = "init_fails", .output_type = "int64", .init = bad_init, .call = one_value};
const fl_udf_plugin echo = {BASE, .name = "echo", .output_type = "int64", .init = echo_init, .call = echo_call, .finalize = echo_finalize};
