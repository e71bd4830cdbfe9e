/* args.c — see args.h. */
#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const option_spec *find_spec(const option_spec *specs, const char *name) {
    for (; specs && specs->name; specs++)
        if (!strcmp(specs->name, name)) return specs;
    return NULL;
}

bool args_parse(int argc, char **argv, const option_spec *specs, args *out, const char *command) {
    memset(out, 0, sizeof *out);
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && !strcmp(arg, "--")) {
            options_done = true;
            continue;
        }
        if (!options_done && arg[0] == '-' && arg[1] == '-' && arg[2]) {
            char name[64];
            const char *eq = strchr(arg + 2, '=');
            size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            if (len >= sizeof name) len = sizeof name - 1;
            memcpy(name, arg + 2, len);
            name[len] = 0;
            const option_spec *s = find_spec(specs, name);
            if (!s) {
                fprintf(stderr, "framelake %s: unknown option '--%s' (see 'framelake help %s')\n", command, name, command);
                return false;
            }
            const char *value = NULL;
            if (s->takes_value) {
                if (eq) value = eq + 1;
                else if (i + 1 < argc) value = argv[++i];
                else {
                    fprintf(stderr, "framelake %s: option '--%s' needs a value\n", command, name);
                    return false;
                }
            } else if (eq) {
                fprintf(stderr, "framelake %s: option '--%s' takes no value\n", command, name);
                return false;
            }
            if (out->n_options == ARGS_MAX) {
                fprintf(stderr, "framelake %s: too many options\n", command);
                return false;
            }
            out->names[out->n_options] = s->name;
            out->values[out->n_options++] = value;
            continue;
        }
        if (out->n_positional == ARGS_MAX) {
            fprintf(stderr, "framelake %s: too many arguments\n", command);
            return false;
        }
        out->positional[out->n_positional++] = arg;
    }
    return true;
}

const char *args_get(const args *a, const char *name) {
    const char *v = NULL;
    for (int i = 0; i < a->n_options; i++)
        if (!strcmp(a->names[i], name)) v = a->values[i];
    return v;
}

bool args_flag(const args *a, const char *name) {
    for (int i = 0; i < a->n_options; i++)
        if (!strcmp(a->names[i], name)) return true;
    return false;
}

bool args_u64(const args *a, const char *name, uint64_t *out, bool *present) {
    const char *v = args_get(a, name);
    if (present) *present = v != NULL;
    if (!v) return true;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno || v[0] == '-') {
        fprintf(stderr, "framelake: --%s expects a non-negative integer, got '%s'\n", name, v);
        return false;
    }
    *out = x;
    return true;
}

bool parse_duration_ms(const char *text, int64_t *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || v < 0) return false;
    double scale = 1000;
    if (!strcmp(end, "ms")) scale = 1;
    else if (!strcmp(end, "s") || !*end) scale = 1000;
    else if (!strcmp(end, "m")) scale = 60e3;
    else if (!strcmp(end, "h")) scale = 3600e3;
    else if (!strcmp(end, "d")) scale = 86400e3;
    else if (!strcmp(end, "w")) scale = 7 * 86400e3;
    else return false;
    *out = (int64_t)(v * scale);
    return true;
}

int split_list(char *text, const char **items, int max) {
    int n = 0;
    char *p = text;
    while (p && *p) {
        char *comma = strchr(p, ',');
        if (comma) *comma = 0;
        while (*p == ' ') p++;
        if (*p) {
            if (n == max) return -1;
            items[n++] = p;
        }
        p = comma ? comma + 1 : NULL;
    }
    return n;
}
