/*
 * output.c — printing batches as an aligned table, JSON Lines or CSV.
 *
 * Nested values (lists, structs) print as JSON in every format. Blobs print as their length and a short
 * hex prefix unless base64 output is asked for (which JSON Lines input accepts back).
 */
#include "output.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void print_json_string(FILE *f, const uint8_t *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '"') fputs("\\\"", f);
        else if (c == '\\') fputs("\\\\", f);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* Shortest text that reads back as the same float. */
static void print_float(FILE *f, double v, bool single) {
    if (isnan(v)) {
        fputs("NaN", f);
        return;
    }
    if (isinf(v)) {
        fputs(v > 0 ? "Infinity" : "-Infinity", f);
        return;
    }
    char buf[40];
    if (v == floor(v) && fabs(v) < 1e15) { /* integral values read best without an exponent */
        fprintf(f, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (single ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v) break;
    }
    fputs(buf, f);
}

static void print_base64(FILE *f, const uint8_t *d, size_t n) {
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        fprintf(f, "%c%c%c%c", t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]);
    }
    if (i < n) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0);
        fprintf(f, "%c%c%c=", t[v >> 18], t[(v >> 12) & 63], i + 1 < n ? t[(v >> 6) & 63] : '=');
    }
}

static void print_timestamp(FILE *f, int64_t ms) {
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        fprintf(f, "%lld", (long long)ms);
        return;
    }
    fprintf(f, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            (int)(ms - (int64_t)secs * 1000));
}

/* Prints value i of a; `json` selects JSON syntax (quoted strings, integer timestamps). */
static void print_value(FILE *f, const fl_field *field, const fl_array *a, int64_t i, bool json, const output_options *o) {
    if (fl_array_is_null(a, i)) {
        fputs(json ? "null" : "", f);
        return;
    }
    switch (a->type) {
    case FL_TYPE_BOOL: fputs(fl_array_get_bool(a, i) ? "true" : "false", f); break;
    case FL_TYPE_FLOAT32: print_float(f, fl_array_get_float(a, i), true); break;
    case FL_TYPE_FLOAT64: print_float(f, fl_array_get_float(a, i), false); break;
    case FL_TYPE_UINT64: fprintf(f, "%llu", (unsigned long long)fl_array_get_uint(a, i)); break;
    case FL_TYPE_TIMESTAMP_MS:
        if (json) fprintf(f, "%lld", (long long)fl_array_get_int(a, i));
        else print_timestamp(f, fl_array_get_int(a, i));
        break;
    case FL_TYPE_STRING: {
        size_t n;
        const uint8_t *p = fl_array_get_bytes(a, i, &n);
        if (json) print_json_string(f, p, n);
        else fwrite(p, 1, n, f);
        break;
    }
    case FL_TYPE_BINARY: {
        size_t n;
        const uint8_t *p = fl_array_get_bytes(a, i, &n);
        if (json) fputc('"', f);
        if (o->blob_base64) print_base64(f, p, n);
        else {
            fprintf(f, "<%zu bytes", n);
            if (n) fputc(' ', f);
            for (size_t k = 0; k < n && k < 8; k++) fprintf(f, "%02x", p[k]);
            fputs(n > 8 ? "...>" : ">", f);
        }
        if (json) fputc('"', f);
        break;
    }
    case FL_TYPE_LIST:
    case FL_TYPE_FIXED_SIZE_LIST: {
        int64_t s, e;
        fl_array_get_list(a, i, &s, &e);
        fputc('[', f);
        for (int64_t k = s; k < e; k++) {
            if (k > s) fputc(',', f);
            print_value(f, &field->children[0], &a->children[0], k, true, o);
        }
        fputc(']', f);
        break;
    }
    case FL_TYPE_STRUCT:
        fputc('{', f);
        for (int32_t k = 0; k < a->n_children; k++) {
            if (k) fputc(',', f);
            print_json_string(f, (const uint8_t *)field->children[k].name, strlen(field->children[k].name));
            fputc(':', f);
            print_value(f, &field->children[k], &a->children[k], i, true, o);
        }
        fputc('}', f);
        break;
    default: fprintf(f, "%lld", (long long)fl_array_get_int(a, i));
    }
}

/* A cell as a new string. */
static char *cell_text(const fl_field *field, const fl_array *a, int64_t i, bool json, const output_options *o) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    print_value(f, field, a, i, json, o);
    fclose(f);
    return buf;
}

struct output {
    FILE *f;
    output_options o;
    bool header_done;
    /* table format: every cell is kept until output_finish computes the widths */
    char **cells;
    size_t n_cells, cap_cells;
    int n_cols;
    int64_t rows;
};

output *output_new(FILE *f, const output_options *o) {
    output *out = calloc(1, sizeof *out);
    if (!out) return NULL;
    out->f = f;
    out->o = *o;
    return out;
}

static void keep_cell(output *out, char *text) {
    if (out->n_cells == out->cap_cells) {
        out->cap_cells = out->cap_cells ? out->cap_cells * 2 : 256;
        out->cells = realloc(out->cells, out->cap_cells * sizeof *out->cells);
        if (!out->cells) {
            fputs("framelake: out of memory\n", stderr);
            exit(1);
        }
    }
    out->cells[out->n_cells++] = text ? text : strdup("");
}

static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void output_batch(output *out, const fl_batch *b) {
    FILE *f = out->f;
    const output_options *o = &out->o;
    bool ids = o->with_row_id && b->row_ids;
    int extra = ids ? 1 : 0;
    if (!out->header_done) {
        out->n_cols = b->n_columns + extra;
        if (o->format == OUTPUT_TABLE || o->format == OUTPUT_CSV) {
            for (int c = 0; c < out->n_cols; c++) {
                const char *name = ids && c == 0 ? "_rowid" : b->schema->fields[c - extra].name;
                if (o->format == OUTPUT_TABLE) keep_cell(out, strdup(name));
                else {
                    if (c) fputc(',', f);
                    csv_field(f, name);
                }
            }
            if (o->format == OUTPUT_CSV) fputc('\n', f);
        }
        out->header_done = true;
    }
    for (int64_t r = 0; r < b->num_rows; r++) {
        if (o->format == OUTPUT_JSONL) {
            fputc('{', f);
            if (ids) fprintf(f, "\"_rowid\":%llu", (unsigned long long)b->row_ids[r]);
            for (int32_t c = 0; c < b->n_columns; c++) {
                if (c || ids) fputc(',', f);
                const char *name = b->schema->fields[c].name;
                print_json_string(f, (const uint8_t *)name, strlen(name));
                fputc(':', f);
                print_value(f, &b->schema->fields[c], &b->columns[c], r, true, o);
            }
            fputs("}\n", f);
            continue;
        }
        for (int c = 0; c < out->n_cols; c++) {
            char *text;
            if (ids && c == 0) {
                char tmp[32];
                snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)b->row_ids[r]);
                text = strdup(tmp);
            } else {
                text = cell_text(&b->schema->fields[c - extra], &b->columns[c - extra], r, false, o);
            }
            if (o->format == OUTPUT_TABLE) keep_cell(out, text);
            else {
                if (c) fputc(',', f);
                csv_field(f, text ? text : "");
                free(text);
            }
        }
        if (o->format == OUTPUT_CSV) fputc('\n', f);
        out->rows++;
    }
}

/* Display width of UTF-8 text: code points, which is right for the scripts our data uses. */
static size_t text_width(const char *s) {
    size_t w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

#define MAX_CELL_WIDTH 48

static void print_cell(FILE *f, const char *s, size_t width) {
    size_t w = 0;
    const char *p = s;
    bool cut = text_width(s) > MAX_CELL_WIDTH;
    for (; *p && (!cut || w < MAX_CELL_WIDTH - 3); p++) {
        if (*p == '\n' || *p == '\t') fputc(' ', f);
        else fputc(*p, f);
        w += ((unsigned char)*p & 0xC0) != 0x80;
    }
    while (*p && ((unsigned char)*p & 0xC0) == 0x80) fputc(*p++, f);
    if (cut) {
        fputs("...", f);
        w += 3;
    }
    for (; w < width; w++) fputc(' ', f);
}

void output_finish(output *out) {
    if (out->o.format == OUTPUT_TABLE && out->n_cols) {
        size_t *width = calloc((size_t)out->n_cols, sizeof *width);
        for (size_t i = 0; width && i < out->n_cells; i++) {
            size_t w = text_width(out->cells[i]);
            if (w > MAX_CELL_WIDTH) w = MAX_CELL_WIDTH;
            if (w > width[i % (size_t)out->n_cols]) width[i % (size_t)out->n_cols] = w;
        }
        for (size_t i = 0; width && i < out->n_cells; i++) {
            int c = (int)(i % (size_t)out->n_cols);
            print_cell(out->f, out->cells[i], c + 1 == out->n_cols ? 0 : width[c]);
            fputs(c + 1 == out->n_cols ? "\n" : "  ", out->f);
            if (i + 1 == (size_t)out->n_cols) {
                for (int k = 0; k < out->n_cols; k++) {
                    for (size_t q = 0; q < (width[k] ? width[k] : 1); q++) fputc('-', out->f);
                    fputs(k + 1 == out->n_cols ? "\n" : "  ", out->f);
                }
            }
        }
        free(width);
    }
    for (size_t i = 0; i < out->n_cells; i++) free(out->cells[i]);
    free(out->cells);
    free(out);
}
