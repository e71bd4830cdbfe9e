/*
 * permutation.c — `framelake permutation create|show`: the ordered, split row lists training reads
 * (include/framelake.h, "Permutations").
 */
#include "commands.h"

#include "framelake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const option_spec permutation_opts[] = {{"from", true},    {"filter", true}, {"split", true},   {"shuffle-seed", true}, {"clump", true},
                                        {"select", true},  {"version", true}, {"tag", true},    {NULL, false}};

static int fail(const fl_error *err) {
    fprintf(stderr, "framelake: error: %s\n", err->message[0] ? err->message : fl_strerror(err->code));
    return 1;
}

static int usage(const char *msg) {
    fprintf(stderr, "framelake permutation: %s\nusage: %s\n", msg, PERMUTATION_USAGE);
    return 2;
}

/* Splits `text` at `sep` into a new array of new strings (empty items kept). */
static char **split_items(const char *text, char sep, size_t *n) {
    size_t count = 1;
    for (const char *c = text; *c; c++) count += *c == sep;
    char **out = calloc(count, sizeof *out);
    *n = 0;
    if (!out) return NULL;
    const char *start = text;
    for (;;) {
        const char *end = strchr(start, sep);
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (!(out[*n] = malloc(len + 1))) break;
        memcpy(out[*n], start, len);
        out[(*n)++][len] = 0;
        if (!end) break;
        start = end + 1;
    }
    return out;
}

static void free_list(char **items, size_t n) {
    for (size_t i = 0; i < n; i++) free(items[i]);
    free(items);
}

/* The parsed --split: the spec points into these arrays. */
typedef struct split_arg {
    char **parts, **names;
    size_t n_parts, n_names;
    double *ratios;
    int64_t *counts;
    char *expr, *column;
} split_arg;

static void split_arg_free(split_arg *a) {
    free_list(a->parts, a->n_parts);
    free_list(a->names, a->n_names);
    free(a->ratios);
    free(a->counts);
    free(a->expr);
    free(a->column);
}

/* Sizes "0.8,0.2" (ratios: a value with a '.') or "800,200" (counts) into the spec. */
static int parse_sizes(const char *text, split_arg *a, fl_permutation_spec *s) {
    char **items = split_items(text, ',', &a->n_parts);
    a->parts = items;
    bool ratios = strchr(text, '.') != NULL;
    a->ratios = calloc(a->n_parts + 1, sizeof *a->ratios);
    a->counts = calloc(a->n_parts + 1, sizeof *a->counts);
    if (!items || !a->ratios || !a->counts) return usage("out of memory");
    for (size_t i = 0; i < a->n_parts; i++) {
        char *end;
        if (ratios) a->ratios[i] = strtod(items[i], &end);
        else a->counts[i] = strtoll(items[i], &end, 10);
        if (!items[i][0] || *end) {
            fprintf(stderr, "framelake permutation: --split: '%s' is not a %s\n", items[i], ratios ? "ratio" : "row count");
            return 2;
        }
    }
    s->n_parts = a->n_parts;
    if (ratios) s->ratios = a->ratios;
    else s->counts = a->counts;
    return 0;
}

/*
 * --split random:0.8,0.2[:train,val] | sequential:SIZES[:NAMES] | hash:COLUMN:RATIOS[:NAMES] |
 * calculated:EXPRESSION:NAMES (the expression gives a 0-based split number or a name; its last ':' ends it).
 */
static int parse_split(const char *text, split_arg *a, fl_permutation_spec *s) {
    const char *colon = strchr(text, ':');
    if (!colon) return usage("--split needs KIND:... (random, sequential, hash or calculated)");
    size_t kind_len = (size_t)(colon - text);
    const char *rest = colon + 1, *names = NULL;
    int rc = 0;
    if (kind_len == 10 && !strncmp(text, "calculated", 10)) {
        const char *last = strrchr(rest, ':');
        if (!last) return usage("--split calculated:EXPRESSION:NAMES needs the split names");
        if (!(a->expr = malloc((size_t)(last - rest) + 1))) return usage("out of memory");
        memcpy(a->expr, rest, (size_t)(last - rest));
        a->expr[last - rest] = 0;
        s->split = FL_SPLIT_CALCULATED;
        s->split_expr = a->expr;
        names = last + 1;
    } else {
        if (kind_len == 6 && !strncmp(text, "random", 6)) s->split = FL_SPLIT_RANDOM;
        else if (kind_len == 10 && !strncmp(text, "sequential", 10)) s->split = FL_SPLIT_SEQUENTIAL;
        else if (kind_len == 4 && !strncmp(text, "hash", 4)) s->split = FL_SPLIT_HASH;
        else return usage("--split kinds are random, sequential, hash and calculated");
        if (s->split == FL_SPLIT_HASH) {
            const char *c2 = strchr(rest, ':');
            if (!c2) return usage("--split hash:COLUMN:RATIOS[:NAMES] needs ratios");
            if (!(a->column = malloc((size_t)(c2 - rest) + 1))) return usage("out of memory");
            memcpy(a->column, rest, (size_t)(c2 - rest));
            a->column[c2 - rest] = 0;
            s->hash_column = a->column;
            rest = c2 + 1;
        }
        const char *c3 = strchr(rest, ':');
        char *sizes = c3 ? strndup(rest, (size_t)(c3 - rest)) : strdup(rest);
        if (!sizes) return usage("out of memory");
        rc = parse_sizes(sizes, a, s);
        free(sizes);
        if (rc) return rc;
        if (s->split == FL_SPLIT_HASH && s->counts) return usage("--split hash takes ratios (0.9,0.1), not row counts");
        names = c3 ? c3 + 1 : NULL;
    }
    if (names) {
        a->names = split_items(names, ',', &a->n_names);
        if (!a->names) return usage("out of memory");
        s->split_names = (const char *const *)a->names;
        s->n_split_names = a->n_names;
    }
    return 0;
}

static void print_summary(const char *what, const char *name, const fl_permutation *p) {
    printf("%s%spermutation '%s' of '%s' version %llu: %zu rows", what, *what ? " " : "", name, p->source, (unsigned long long)p->source_version, p->n);
    size_t *counts = calloc(p->n_splits ? p->n_splits : 1, sizeof *counts);
    for (size_t i = 0; counts && i < p->n; i++) counts[p->split_ids[i]]++;
    for (size_t i = 0; counts && i < p->n_splits; i++) printf("%s%s %zu", i ? ", " : " (", p->split_names[i], counts[i]);
    puts(p->n_splits ? ")" : "");
    free(counts);
}

int cmd_permutation(const args *a) {
    const char *sub = a->positional[0];
    bool create = !strcmp(sub, "create"), show = !strcmp(sub, "show");
    if (!create && !show) {
        fprintf(stderr, "framelake permutation: unknown subcommand '%s' (available: create, show)\n", sub);
        return 2;
    }
    if (a->n_positional != 3) return usage(create ? "create needs DB NAME --from TABLE" : "show needs DB NAME");
    const char *from = args_get(a, "from");
    if (create && !from) return usage("create needs --from TABLE (a table or view)");
    if (show && (from || args_get(a, "filter") || args_get(a, "split") || args_get(a, "shuffle-seed") || args_get(a, "clump") || args_get(a, "select")))
        return usage("--from, --filter, --split, --shuffle-seed, --clump and --select go with create");
    fl_open_options oo = {.tag = args_get(a, "tag")};
    bool has_version = false;
    if (!args_u64(a, "version", &oo.version, &has_version)) return 2;
    if (has_version && oo.tag) return usage("give --version or --tag, not both");
    fl_permutation_spec s = {.filter = args_get(a, "filter")};
    split_arg sa = {0};
    char **cols = NULL;
    size_t n_cols = 0;
    int rc = 0;
    bool has_seed = false, has_clump = false;
    uint64_t clump = 0;
    if (!args_u64(a, "shuffle-seed", &s.shuffle_seed, &has_seed) || !args_u64(a, "clump", &clump, &has_clump)) return 2;
    if (has_clump && !has_seed) return usage("--clump goes with --shuffle-seed");
    s.shuffle = has_seed;
    s.clump_size = (int64_t)clump;
    if (args_get(a, "split") && (rc = parse_split(args_get(a, "split"), &sa, &s)) != 0) {
        split_arg_free(&sa);
        return rc;
    }
    if (s.split == FL_SPLIT_RANDOM) s.seed = s.shuffle_seed; /* one seed makes the whole permutation */
    if (args_get(a, "select")) {
        if (!(cols = split_items(args_get(a, "select"), ',', &n_cols))) rc = usage("out of memory");
        s.columns = (const char *const *)cols;
        s.n_columns = n_cols;
    }
    fl_error err = {0};
    fl_db *db = NULL;
    fl_table *t = NULL;
    fl_permutation *p = NULL;
    if (!rc && fl_db_open(a->positional[1], 0, &db, &err) != FL_OK) rc = fail(&err);
    if (!rc && show) {
        if (fl_permutation_load(db, a->positional[2], &oo, &p, &err) != FL_OK) rc = fail(&err);
        else {
            print_summary("", a->positional[2], p);
            if (p->spec) printf("made by: %s\n", p->spec);
            printf("columns: ");
            for (size_t i = 0; i < p->n_columns; i++) printf("%s%s", i ? ", " : "", p->columns[i]);
            puts(p->n_columns ? "" : "(all)");
        }
    } else if (!rc) {
        if (fl_table_open(db, from, &oo, &t, &err) != FL_OK) rc = fail(&err);
        else if (fl_permutation_build(t, &s, &p, &err) != FL_OK) rc = fail(&err);
        else {
            /* How it was made, for `show`: the command's own options. */
            char spec[1024];
            int k = snprintf(spec, sizeof spec, "--from %s@%llu", from, (unsigned long long)fl_table_version(t));
            const char *keys[] = {"filter", "split", "shuffle-seed", "clump", "select"};
            for (size_t i = 0; i < 5 && k > 0 && (size_t)k < sizeof spec; i++)
                if (args_get(a, keys[i])) k += snprintf(spec + k, sizeof spec - (size_t)k, " --%s \"%s\"", keys[i], args_get(a, keys[i]));
            p->spec = strdup(spec);
            if (fl_permutation_save(db, a->positional[2], p, &err) != FL_OK) rc = fail(&err);
            else print_summary("created", a->positional[2], p);
        }
    }
    fl_permutation_free(p);
    fl_table_close(t);
    fl_db_close(db);
    split_arg_free(&sa);
    free_list(cols, n_cols);
    return rc;
}
