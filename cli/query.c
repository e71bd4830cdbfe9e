/*
 * query.c — reading with the query engine: `framelake query` (a table's rows, filtered with --where and
 * ordered with --order-by, through fl_table_query), `framelake sql` (one SELECT statement through fl_sql;
 * "-" reads it from standard input) and `framelake explain` (its plan, with counters after running it when
 * --analyze).
 */
#include "commands.h"

#include "framelake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USER 1
#define EXIT_USAGE 2
#define MAX_SELECT (ARGS_MAX * 8)

const option_spec query_opts[] = {{"version", true}, {"tag", true},  {"select", true},      {"where", true},      {"order-by", true},
                                  {"limit", true},   {"offset", true}, {"format", true},    {"blob", true},       {"batch-size", true},
                                  {"with-row-id", false}, {NULL, false}};
const option_spec sql_opts[] = {{"version", true}, {"tag", true}, {"format", true}, {"blob", true}, {NULL, false}};
const option_spec explain_opts[] = {{"version", true}, {"tag", true}, {"analyze", false}, {NULL, false}};

static int fail(const fl_error *err) {
    fprintf(stderr, "framelake: error: %s\n", err->message[0] ? err->message : fl_strerror(err->code));
    return EXIT_USER;
}

static int usage(const char *message) {
    fprintf(stderr, "framelake: %s\n", message);
    return EXIT_USAGE;
}

/* --version N / --tag T; false (after a usage message) when malformed or both given. */
/* --select a,b,c into cols (pointing into *storage, which the caller frees); false after a usage message. */
static bool parse_select(const char *sel, const char **cols, char **storage, int *n) {
    *storage = NULL;
    *n = 0;
    if (!sel) return true;
    *storage = strdup(sel);
    *n = *storage ? split_list(*storage, cols, MAX_SELECT) : -1;
    if (*n > 0) return true;
    free(*storage);
    *storage = NULL;
    fprintf(stderr, "framelake: --select needs column names, got '%s'\n", sel);
    return false;
}

static bool parse_version(const args *a, uint64_t *version, bool *has_version, const char **tag) {
    if (!args_u64(a, "version", version, has_version)) return false;
    if (*has_version && *version == 0) return usage("--version must be at least 1"), false;
    *tag = args_get(a, "tag");
    if (*tag && *has_version) return usage("give --version or --tag, not both"), false;
    return true;
}

/* Prints every batch of a cursor; returns the exit code. */
static int print_cursor(fl_cursor *c, const output_options *o) {
    fl_error err = {0};
    output *out = output_new(stdout, o);
    fl_batch *b;
    int got;
    while ((got = fl_cursor_next(c, &b, &err)) == FL_OK && b) {
        output_batch(out, b);
        fl_batch_free(b);
    }
    if (got == FL_OK && o->format != OUTPUT_JSONL) {
        /* A result without rows still shows its columns. */
        fl_batch *empty = fl_batch_new(fl_cursor_schema(c));
        if (empty) output_batch(out, empty);
        fl_batch_free(empty);
    }
    output_finish(out);
    return got == FL_OK ? 0 : fail(&err);
}

int cmd_query(const args *a) {
    output_options o;
    if (!parse_format(a, &o)) return EXIT_USAGE;
    uint64_t limit = 0, offset = 0, batch = 0, version = 0;
    bool has_limit, has_version;
    const char *tag;
    if (!args_u64(a, "limit", &limit, &has_limit) || !args_u64(a, "offset", &offset, NULL) || !args_u64(a, "batch-size", &batch, NULL) ||
        !parse_version(a, &version, &has_version, &tag))
        return EXIT_USAGE;
    if (limit > INT64_MAX || offset > INT64_MAX || batch > INT64_MAX) return usage("--limit, --offset and --batch-size must fit 63 bits");
    const char *cols[MAX_SELECT];
    char *storage = NULL;
    int n_cols = 0;
    const char *sel = args_get(a, "select");
    if (!parse_select(sel, cols, &storage, &n_cols)) return EXIT_USAGE;
    fl_error err = {0};
    fl_db *db = NULL;
    fl_table *t = NULL;
    fl_open_options oo = {.version = version, .tag = tag};
    int rc = 0;
    if (fl_db_open(a->positional[0], 0, &db, &err) != FL_OK || fl_table_open(db, a->positional[1], &oo, &t, &err) != FL_OK) rc = fail(&err);
    fl_query_options qo = {.where = args_get(a, "where"), .columns = sel ? cols : NULL, .n_columns = (size_t)n_cols,
                           .order_by = args_get(a, "order-by"), .offset = (int64_t)offset, .limit = (int64_t)limit, .limit_set = has_limit,
                           .with_row_ids = o.with_row_id, .batch_size = (int64_t)batch};
    fl_cursor *c = NULL;
    if (!rc && fl_table_query(t, &qo, &c, &err) != FL_OK) rc = fail(&err);
    if (!rc) rc = print_cursor(c, &o);
    fl_cursor_close(c);
    free(storage);
    fl_table_close(t);
    fl_db_close(db);
    return rc;
}

/* The statement: the argument, or standard input when it is "-". Caller frees *owned. */
static const char *statement(const args *a, char **owned) {
    *owned = NULL;
    if (strcmp(a->positional[1], "-") != 0) return a->positional[1];
    size_t size = 0, cap = 0;
    char *text = NULL;
    for (;;) {
        if (size + 4096 + 1 > cap) {
            char *grown = realloc(text, cap = cap ? cap * 2 : 8192);
            if (!grown) {
                free(text);
                return NULL;
            }
            text = grown;
        }
        size_t got = fread(text + size, 1, cap - size - 1, stdin);
        size += got;
        if (got == 0) break;
    }
    text[size] = 0;
    return *owned = text;
}

/* Opens the database and fills the SQL options from --version/--tag. */
static int sql_setup(const args *a, fl_db **db, fl_sql_options *so) {
    uint64_t version = 0;
    bool has_version;
    const char *tag;
    *db = NULL;
    if (!parse_version(a, &version, &has_version, &tag)) return EXIT_USAGE;
    *so = (fl_sql_options){.version = version, .version_set = has_version, .tag = tag};
    fl_error err = {0};
    if (fl_db_open(a->positional[0], 0, db, &err) != FL_OK) return fail(&err);
    return 0;
}

int cmd_sql(const args *a) {
    output_options o;
    if (!parse_format(a, &o)) return EXIT_USAGE;
    fl_db *db;
    fl_sql_options so;
    int rc = sql_setup(a, &db, &so);
    if (rc) return rc;
    fl_error err = {0};
    fl_cursor *c = NULL;
    char *owned;
    const char *text = statement(a, &owned);
    if (!text) rc = usage("cannot read the statement from standard input");
    else if (fl_sql(db, text, &so, &c, &err) != FL_OK) rc = fail(&err);
    else rc = print_cursor(c, &o);
    fl_cursor_close(c);
    free(owned);
    fl_db_close(db);
    return rc;
}

int cmd_explain(const args *a) {
    fl_db *db;
    fl_sql_options so;
    int rc = sql_setup(a, &db, &so);
    if (rc) return rc;
    fl_error err = {0};
    char *text = NULL, *owned;
    const char *sql = statement(a, &owned);
    if (!sql) rc = usage("cannot read the statement from standard input");
    else if (fl_sql_explain(db, sql, &so, args_flag(a, "analyze"), &text, &err) != FL_OK) rc = fail(&err);
    else fputs(text, stdout);
    free(text);
    free(owned);
    fl_db_close(db);
    return rc;
}

/* framelake search vector DB TABLE --column C (--vector "[...]" | --like-row ID) [...]
 * framelake search fts DB TABLE "QUERY" [--column C] [...]
 * framelake search hybrid DB TABLE --text "QUERY" --column C (--vector "[...]" | --like-row ID) [...] */
const option_spec search_opts[] = {{"column", true}, {"vector", true}, {"like-row", true}, {"metric", true}, {"where", true},
                                   {"limit", true},  {"select", true}, {"format", true},   {"blob", true},   {"version", true},
                                   {"tag", true},    {"distance-range", true}, {"k1", true}, {"b", true}, {"text", true},
                                   {"text-column", true}, {"rerank", true}, {"weight", true}, {"candidates", true}, {"vector-file", true},
                                   {"nprobes", true}, {"refine-factor", true}, {"exact", false}, {"prefilter", false}, {"postfilter", false},
                                   {NULL, false}};

/* "[0.1, 2, -3e-2]" into floats (or, for binary columns, "[1, 2, 255]" into bytes). */
static int parse_vector(const char *text, float **out, size_t *n) {
    *out = NULL;
    *n = 0;
    const char *p = text;
    while (*p == ' ') p++;
    if (*p++ != '[') return -1;
    size_t cap = 0;
    for (;;) {
        while (*p == ' ') p++;
        if (*p == ']' && *n == 0) {
            p++;
            break;
        }
        char *end;
        double v = strtod(p, &end);
        if (end == p) return -1;
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            float *grown = realloc(*out, cap * sizeof *grown);
            if (!grown) return -1;
            *out = grown;
        }
        (*out)[(*n)++] = (float)v;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p++ != ']') return -1;
        break;
    }
    while (*p == ' ') p++;
    return *p ? -1 : 0;
}

/* Opens the table a search names (DB TABLE, --version/--tag). */
static int open_for_search(const args *a, fl_db **db, fl_table **t) {
    uint64_t version = 0;
    bool has_version;
    const char *tag;
    *db = NULL;
    *t = NULL;
    if (!parse_version(a, &version, &has_version, &tag)) return EXIT_USAGE;
    fl_error err = {0};
    fl_open_options oo = {.version = version, .tag = tag};
    if (fl_db_open(a->positional[1], 0, db, &err) != FL_OK || fl_table_open(*db, a->positional[2], &oo, t, &err) != FL_OK) return fail(&err);
    return 0;
}

/* Prints a search's result batch in the chosen format. */
static void print_batch(const fl_batch *b, const output_options *o) {
    output *out = output_new(stdout, o);
    output_batch(out, b);
    output_finish(out);
}

static bool parse_double(const char *text, double *out) {
    char *end;
    *out = strtod(text, &end);
    return end != text && !*end;
}

static int search_fts(const args *a) {
    if (a->n_positional != 4) return usage("search fts needs DB TABLE \"QUERY\"");
    output_options o;
    if (!parse_format(a, &o)) return EXIT_USAGE;
    if (args_get(a, "vector") || args_get(a, "like-row") || args_get(a, "metric") || args_get(a, "distance-range") || args_get(a, "text") ||
        args_get(a, "text-column") || args_get(a, "rerank") || args_get(a, "weight") || args_get(a, "candidates") || args_get(a, "vector-file") ||
        args_get(a, "nprobes") || args_get(a, "refine-factor") || args_flag(a, "exact") || args_flag(a, "prefilter") || args_flag(a, "postfilter"))
        return usage("search fts: the query is the argument; vector options (--vector, --like-row, --metric, --nprobes, ...) and --text, "
                     "--text-column, --rerank, --weight, --candidates go with search vector or hybrid");
    uint64_t limit = 10;
    if (!args_u64(a, "limit", &limit, NULL)) return EXIT_USAGE;
    fl_fts_query q = {.column = args_get(a, "column"), .text = a->positional[3], .where = args_get(a, "where"),
                      .k = limit > 100000 ? 100001 : (int64_t)limit};
    if (limit == 0) return usage("search fts: --limit must be at least 1");
    if (args_get(a, "k1") && (!parse_double(args_get(a, "k1"), &q.k1) || q.k1 <= 0)) return usage("search fts: --k1 wants a positive number");
    if (args_get(a, "b") && (!parse_double(args_get(a, "b"), &q.b) || q.b < 0 || q.b > 1)) return usage("search fts: --b wants a number in 0..1");
    q.b_set = args_get(a, "b") != NULL;
    const char *cols[MAX_SELECT];
    char *storage = NULL;
    int n_cols = 0;
    const char *sel = args_get(a, "select");
    if (!parse_select(sel, cols, &storage, &n_cols)) return EXIT_USAGE;
    if (sel) {
        q.columns = cols;
        q.n_columns = (size_t)n_cols;
    }
    fl_db *db;
    fl_table *t;
    int rc = open_for_search(a, &db, &t);
    fl_error err = {0};
    fl_batch *b = NULL;
    if (!rc && fl_fts_search(t, &q, &b, &err) != FL_OK) rc = fail(&err);
    if (!rc) print_batch(b, &o);
    fl_batch_free(b);
    free(storage);
    fl_table_close(t);
    fl_db_close(db);
    return rc;
}

/* The vector half of a search: --vector or --like-row, --metric, --distance-range; a binary column takes
 * the numbers as bytes. *values and *bytes hold what q points to (the caller frees both). */
static int vector_query(const args *a, fl_table *t, const char *column, fl_vector_query *q, float **values, uint8_t **bytes) {
    const char *vec = args_get(a, "vector"), *like = args_get(a, "like-row"), *metric = args_get(a, "metric"), *vfile = args_get(a, "vector-file");
    *values = NULL;
    *bytes = NULL;
    if ((vec != NULL) + (like != NULL) + (vfile != NULL) != 1)
        return usage("search: give exactly one of --vector \"[...]\", --vector-file F or --like-row ROWID");
    uint64_t nprobes = 0, refine = 0;
    if (!args_u64(a, "nprobes", &nprobes, NULL) || !args_u64(a, "refine-factor", &refine, NULL)) return EXIT_USAGE;
    if (args_get(a, "nprobes") && (nprobes == 0 || nprobes > 65536)) return usage("search: --nprobes must be within 1..65536");
    if (refine > 1000) return usage("search: --refine-factor must be within 0..1000");
    if (args_flag(a, "prefilter") && args_flag(a, "postfilter")) return usage("search: --prefilter and --postfilter exclude each other");
    q->nprobes = (int)nprobes;
    q->refine_factor = (int)refine;
    q->exact = args_flag(a, "exact");
    q->postfilter = args_flag(a, "postfilter");
    char *file_text = NULL;
    if (vfile) {
        FILE *fp = fopen(vfile, "rb");
        if (!fp) {
            fprintf(stderr, "framelake: error: --vector-file %s: cannot open it\n", vfile);
            return 1;
        }
        size_t cap = 4096, n = 0;
        file_text = malloc(cap);
        for (size_t got; file_text && (got = fread(file_text + n, 1, cap - n - 1, fp)) > 0;) {
            n += got;
            if (n + 1 == cap) {
                char *grown = realloc(file_text, cap * 2);
                if (!grown) {
                    free(file_text);
                    file_text = NULL;
                }
                file_text = grown;
                cap *= 2;
            }
        }
        fclose(fp);
        if (!file_text) return usage("out of memory");
        file_text[n] = 0;
        char *p = file_text;
        while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
        for (char *e = p + strlen(p); e > p && (e[-1] == ' ' || e[-1] == '\n' || e[-1] == '\r' || e[-1] == '\t');) *--e = 0;
        vec = p;
    }
    uint64_t row = 0;
    if (like && !args_u64(a, "like-row", &row, NULL)) return EXIT_USAGE;
    q->column = column;
    q->metric = -1;
    q->like_row = like != NULL;
    q->row_id = row;
    if (metric && fl_metric_parse(metric, &q->metric) != FL_OK) return usage("search: --metric is l2, cosine, dot or hamming");
    const char *range = args_get(a, "distance-range");
    if (range) {
        char *end;
        q->min_distance = strtod(range, &end);
        if (*end != ',') return usage("search: --distance-range wants LO,HI");
        q->max_distance = strtod(end + 1, &end);
        if (*end) return usage("search: --distance-range wants LO,HI");
        q->has_range = true;
    }
    if (!vec) return 0;
    size_t n = 0;
    int bad = parse_vector(vec, values, &n);
    free(file_text);
    if (bad) return usage(vfile ? "search: --vector-file wants a list of numbers like [0.1, 0.2]" : "search: --vector wants a list of numbers like \"[0.1, 0.2]\"");
    const fl_schema *s = fl_table_schema(t);
    int c = column ? fl_schema_find(s, column) : -1;
    if (c >= 0 && s->fields[c].type == FL_TYPE_FIXED_SIZE_LIST && s->fields[c].children[0].type == FL_TYPE_UINT8) {
        *bytes = malloc(n ? n : 1);
        if (!*bytes) return usage("out of memory");
        for (size_t i = 0; i < n; i++) {
            if ((*values)[i] < 0 || (*values)[i] > 255 || (*values)[i] != (float)(int)(*values)[i])
                return usage("search: a binary column's query holds bytes 0..255");
            (*bytes)[i] = (uint8_t)(*values)[i];
        }
        q->bits = *bytes;
        q->n_bytes = n;
    } else {
        q->vector = *values;
        q->dim = n;
    }
    return 0;
}

static int search_vector_or_hybrid(const args *a, bool hybrid) {
    const char *kind = hybrid ? "search hybrid" : "search vector";
    char msg[200];
    if (a->n_positional != 3) {
        snprintf(msg, sizeof msg, "%s needs DB TABLE (the query is %s)", kind, hybrid ? "--text with --vector or --like-row" : "--vector or --like-row");
        return usage(msg);
    }
    if (args_get(a, "k1") || args_get(a, "b")) {
        snprintf(msg, sizeof msg, "%s: --k1 and --b go with search fts", kind);
        return usage(msg);
    }
    if (!hybrid && (args_get(a, "text") || args_get(a, "text-column") || args_get(a, "rerank") || args_get(a, "weight") || args_get(a, "candidates")))
        return usage("search vector: --text, --text-column, --rerank, --weight and --candidates go with search hybrid");
    if (hybrid && args_get(a, "distance-range")) return usage("search hybrid: --distance-range goes with search vector");
    output_options o;
    if (!parse_format(a, &o)) return EXIT_USAGE;
    const char *column = args_get(a, "column");
    if (!column) {
        snprintf(msg, sizeof msg, "%s: --column C (the vector column) is required", kind);
        return usage(msg);
    }
    if (hybrid && !args_get(a, "text")) return usage("search hybrid: --text \"QUERY\" is required");
    uint64_t limit = 10, candidates = 0;
    if (!args_u64(a, "limit", &limit, NULL) || !args_u64(a, "candidates", &candidates, NULL)) return EXIT_USAGE;
    fl_hybrid_query h = {.text = {.column = args_get(a, "text-column"), .text = args_get(a, "text")},
                         .where = args_get(a, "where"),
                         .k = limit > 100000 ? 100001 : (int64_t)limit,
                         .candidates = candidates > 100000 ? 100001 : (int64_t)candidates};
    const char *rerank = args_get(a, "rerank"), *weight = args_get(a, "weight");
    if (rerank && strcmp(rerank, "rrf") && strcmp(rerank, "linear")) return usage("search hybrid: --rerank is rrf or linear");
    h.rerank = rerank && !strcmp(rerank, "linear") ? FL_RERANK_LINEAR : FL_RERANK_RRF;
    if (weight && (h.rerank != FL_RERANK_LINEAR || !parse_double(weight, &h.weight) || h.weight < 0 || h.weight > 1))
        return usage("search hybrid: --weight (0..1, the vector half's share) goes with --rerank linear");
    h.weight_set = weight != NULL;
    const char *cols[MAX_SELECT];
    char *storage = NULL;
    int n_cols = 0;
    const char *sel = args_get(a, "select");
    if (!parse_select(sel, cols, &storage, &n_cols)) return EXIT_USAGE;
    if (sel) {
        h.columns = h.vector.columns = cols;
        h.n_columns = h.vector.n_columns = (size_t)n_cols;
    }
    fl_db *db;
    fl_table *t;
    float *values = NULL;
    uint8_t *bytes = NULL;
    int rc = open_for_search(a, &db, &t);
    if (!rc) rc = vector_query(a, t, column, &h.vector, &values, &bytes);
    h.vector.where = h.where;
    h.vector.k = h.k;
    fl_error err = {0};
    fl_batch *b = NULL;
    if (!rc && (hybrid ? fl_hybrid_search(t, &h, &b, &err) : fl_vector_search(t, &h.vector, &b, &err)) != FL_OK) rc = fail(&err);
    if (!rc) print_batch(b, &o);
    fl_batch_free(b);
    free(values);
    free(bytes);
    free(storage);
    fl_table_close(t);
    fl_db_close(db);
    return rc;
}

int cmd_search(const args *a) {
    const char *kind = a->positional[0];
    if (!strcmp(kind, "fts")) return search_fts(a);
    if (!strcmp(kind, "vector") || !strcmp(kind, "hybrid")) return search_vector_or_hybrid(a, !strcmp(kind, "hybrid"));
    return usage("search: kinds available: vector, fts, hybrid");
}
