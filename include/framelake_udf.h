/*
 * framelake_udf.h — the ABI of C plugin UDFs (docs/PLUGINS.md).
 *
 * A plugin is a shared object that exports one `const fl_udf_plugin` object under a symbol of its choosing:
 *
 *     framelake add-column DB TABLE COLUMN --udf ./libmyudf.so:my_udf [--param k=v]...
 *     framelake backfill DB TABLE COLUMN --concurrency 4
 *
 * The plugin includes this header (which includes framelake.h for the fl_batch and fl_array layouts) and
 * never links libframelake: the functions it needs to read its inputs and build its output arrive in an
 * fl_udf_host table. So the same .so works in the statically linked CLI and in a process that loaded
 * libframelake.so privately (Python's ctypes).
 *
 * Rules:
 *  1. init runs once per worker (a worker is a thread; a backfill with --concurrency 4 has 4 states): load a
 *     model, open a decoder. It receives the column's --param pairs. State is never shared between workers
 *     by framelake, and one state is used by one thread at a time.
 *  2. call receives a read-only batch of the declared inputs, in order, with row_ids set, and appends
 *     exactly inputs->num_rows values (or NULLs) to `out`, an empty array of the declared output type,
 *     through the host functions. framelake checks the length and structure of what comes back: a wrong
 *     result is an error of the backfill, not memory corruption in it.
 *  3. A failure returns nonzero with a message in `error` (at most error_size bytes including the NUL);
 *     framelake copies it into its own error. A failing batch is retried row by row to find the failing
 *     rows, so call must give a row the same value whatever batch it is in.
 *  4. finalize(state) runs once per successful init; an init that fails frees what it allocated itself.
 *     The plugin stays loaded until the backfill ends (the last user's release dlcloses it).
 *  5. abi_version must be FL_UDF_PLUGIN_ABI and struct_size sizeof(fl_udf_plugin) as compiled; framelake
 *     refuses other ABI versions and descriptors smaller than it knows. Within one ABI version both
 *     structs only grow at the end: a plugin that uses a host member added later checks
 *     host->struct_size first.
 *  6. A plugin must not: write to the input batch or keep pointers into it or into `out` after call
 *     returns; append to `out` other than through the host functions; let a longjmp, C++ exception or
 *     exit() cross into framelake; write to stdout (the CLI's output). Globals it keeps are shared by the
 *     workers, which run concurrently on different threads: they need the plugin's own locking.
 */
#ifndef FRAMELAKE_UDF_H
#define FRAMELAKE_UDF_H

#include "framelake.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FL_UDF_PLUGIN_ABI 1

/* What framelake lends a plugin: the fl_array append and read functions of framelake.h. */
typedef struct fl_udf_host {
    uint32_t abi_version;       /* FL_UDF_PLUGIN_ABI */
    uint32_t struct_size;       /* sizeof(fl_udf_host) of the host */
    int (*append_null)(fl_array *out);
    int (*append_bool)(fl_array *out, bool value);
    int (*append_int)(fl_array *out, int64_t value);
    int (*append_uint)(fl_array *out, uint64_t value);
    int (*append_float)(fl_array *out, double value);
    int (*append_bytes)(fl_array *out, const void *data, size_t size);
    int (*end_list)(fl_array *out);
    int (*end_struct)(fl_array *out);
    bool (*is_null)(const fl_array *array, int64_t index);
    bool (*get_bool)(const fl_array *array, int64_t index);
    int64_t (*get_int)(const fl_array *array, int64_t index);
    uint64_t (*get_uint)(const fl_array *array, int64_t index);
    double (*get_float)(const fl_array *array, int64_t index);
    const uint8_t *(*get_bytes)(const fl_array *array, int64_t index, size_t *size);
    void (*get_list)(const fl_array *array, int64_t index, int64_t *start, int64_t *end);
} fl_udf_host;

/* The descriptor a plugin exports. */
typedef struct fl_udf_plugin {
    uint32_t abi_version;       /* FL_UDF_PLUGIN_ABI */
    uint32_t struct_size;       /* sizeof(fl_udf_plugin) */
    const char *name;
    int32_t version;            /* bump when the values change: columns computed by another version are stale */
    const char *inputs;         /* declared inputs with types, in framelake's schema syntax: "image_bytes binary" */
    const char *output_type;    /* "float32", "list<string>", "fixed_size_list<uint8, 8>" */
    const char *description;
    /* Optional. Returns 0, or nonzero with a message in `error`. */
    int (*init)(const fl_udf_host *host, const char *const *param_keys, const char *const *param_values, size_t n_params,
                void **state, char *error, size_t error_size);
    /* Required. Returns 0, or nonzero with a message in `error`. */
    int (*call)(void *state, const fl_udf_host *host, const fl_batch *inputs, fl_array *out, char *error, size_t error_size);
    void (*finalize)(void *state); /* optional */
} fl_udf_plugin;

#ifdef __cplusplus
}
#endif

#endif /* FRAMELAKE_UDF_H */
