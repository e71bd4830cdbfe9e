/*
 * external.c — external worker process UDFs (placeholder until the worker protocol lands).
 */
#include "udf.h"

#include "../common/common.h"

int fl_udf_exec_resolve(const char *command, const fl_udf_context *ctx, fl_udf_def **out, fl_error *err) {
    (void)ctx;
    *out = NULL;
    return fl_error_set(err, FL_EUNSUPPORTED, "udf exec:%s: external workers are not available yet", command);
}
