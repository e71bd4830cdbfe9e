/*
 * plugin.c — C plugin UDFs (placeholder until the plugin loader lands).
 */
#include "udf.h"

#include "../common/common.h"

int fl_udf_plugin_resolve(const char *path, const char *symbol, const fl_udf_context *ctx, fl_udf_def **out, fl_error *err) {
    (void)ctx;
    *out = NULL;
    return fl_error_set(err, FL_EUNSUPPORTED, "udf %s:%s: C plugins are not available yet", path, symbol);
}
