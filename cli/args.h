/*
 * args.h — command-line parsing for the framelake CLI: positional arguments and --options, with usage
 * errors reported uniformly (exit code 2).
 */
#ifndef FL_CLI_ARGS_H
#define FL_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARGS_MAX 32

typedef struct option_spec {
    const char *name;           /* without the leading dashes */
    bool takes_value;
} option_spec;

typedef struct args {
    const char *positional[ARGS_MAX];
    int n_positional;
    const char *names[ARGS_MAX];
    const char *values[ARGS_MAX]; /* NULL for flags */
    int n_options;
} args;

/* Parses argv against the allowed options; prints a usage error and returns false on bad input. */
bool args_parse(int argc, char **argv, const option_spec *specs, args *out, const char *command);
/* Value of --name (last one wins), or NULL. */
const char *args_get(const args *a, const char *name);
bool args_flag(const args *a, const char *name);
/* Parses an unsigned integer option; false (with a usage message) when malformed. */
bool args_u64(const args *a, const char *name, uint64_t *out, bool *present);
/* Parses "7d", "12h", "30m", "45s", "500ms" or plain seconds into milliseconds. */
bool parse_duration_ms(const char *text, int64_t *out);
/* Splits a comma-separated list in place into items (max n); returns the count, or -1 if too many. */
int split_list(char *text, const char **items, int max);

#endif
