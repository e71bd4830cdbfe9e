/*
 * analyze.c — the full-text analyzer (fts.h invariant 1): split, lowercase, drop stop words, stem.
 */
#include "fts.h"

#include "../batch/batch.h"

#include <libstemmer.h>
#include <stdlib.h>

/* English function words: articles, pronouns, auxiliaries, prepositions and conjunctions (sorted). */
static const char *const stop_english[] = {
    "a",     "about", "above", "after", "again", "against", "all",   "am",    "an",    "and",   "any",   "are",   "as",    "at",
    "be",    "been",  "before", "being", "below", "between", "both", "but",   "by",    "can",   "could", "did",   "do",    "does",
    "doing", "down",  "during", "each", "few",   "for",     "from",  "further", "had", "has",   "have",  "having", "he",  "her",
    "here",  "hers",  "herself", "him", "himself", "his",   "how",   "i",     "if",    "in",    "into",  "is",    "it",    "its",
    "itself", "just", "me",    "more",  "most",  "my",      "myself", "no",   "nor",   "not",   "now",   "of",    "off",   "on",
    "once",  "only",  "or",    "other", "our",   "ours",    "ourselves", "out", "over", "own",  "same",  "she",   "should", "so",
    "some",  "such",  "than",  "that",  "the",   "their",   "theirs", "them", "themselves", "then", "there", "these", "they", "this",
    "those", "through", "to",  "too",   "under", "until",   "up",    "very",  "was",   "we",    "were",  "what",  "when",  "where",
    "which", "while", "who",   "whom",  "why",   "will",    "with",  "would", "you",   "your",  "yours", "yourself", "yourselves",
};

static int cmp_word(const void *key, const void *elem) { return strcmp(key, *(const char *const *)elem); }

static bool is_stop(const char *w) {
    return bsearch(w, stop_english, sizeof stop_english / sizeof *stop_english, sizeof *stop_english, cmp_word) != NULL;
}

int fts_analyzer_init(fts_analyzer *a, const char *stem, const char *stopwords, fl_error *err) {
    memset(a, 0, sizeof *a);
    if (stopwords && strcmp(stopwords, "none") && strcmp(stopwords, "english"))
        return fl_error_set(err, FL_EINVAL, "stopwords '%s' is not known (use english or none)", stopwords);
    a->stopwords = stopwords && !strcmp(stopwords, "english");
    snprintf(a->stem, sizeof a->stem, "none");
    if (!stem || !strcmp(stem, "none")) return FL_OK;
    if (strcmp(stem, "english")) return fl_error_set(err, FL_EINVAL, "stemmer '%s' is not known (use english or none)", stem);
    if (!(a->stemmer = sb_stemmer_new(stem, "UTF_8"))) return fl_error_set(err, FL_ENOMEM, "out of memory (stemmer %s)", stem);
    snprintf(a->stem, sizeof a->stem, "%s", stem);
    return FL_OK;
}

void fts_analyzer_free(fts_analyzer *a) {
    if (a->stemmer) sb_stemmer_delete(a->stemmer);
    memset(a, 0, sizeof *a);
}

void fts_tokens_free(fts_tokens *t) {
    fl_buf_free(&t->bytes);
    fl_free(t->off);
    fl_free(t->len);
    fl_free(t->pos);
    memset(t, 0, sizeof *t);
}

static bool is_word(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80; }

static bool push(fts_tokens *t, const uint8_t *term, size_t len, uint32_t pos) {
    if (t->n == t->cap) {
        size_t c = t->cap ? t->cap * 2 : 32;
        uint32_t *o = fl_realloc(t->off, c * sizeof *o);
        if (o) t->off = o;
        uint32_t *l = fl_realloc(t->len, c * sizeof *l);
        if (l) t->len = l;
        uint32_t *p = fl_realloc(t->pos, c * sizeof *p);
        if (p) t->pos = p;
        if (!o || !l || !p) return false;
        t->cap = c;
    }
    if (t->bytes.size > UINT32_MAX - len) return false;
    t->off[t->n] = (uint32_t)t->bytes.size;
    t->len[t->n] = (uint32_t)len;
    t->pos[t->n++] = pos;
    fl_buf_append(&t->bytes, term, len);
    return !t->bytes.failed;
}

/* Appends the terms of text[0..n) to t, positions from `pos`; *next receives the position after the last run. */
static bool analyze_from(fts_analyzer *a, const uint8_t *text, size_t n, fts_tokens *t, uint32_t pos, uint32_t *next) {
    char word[FTS_MAX_TERM + 1];
    for (size_t i = 0; i < n;) {
        while (i < n && !is_word(text[i])) i++;
        size_t s = i;
        while (i < n && is_word(text[i])) i++;
        if (i == s) break;
        size_t len = i - s < FTS_MAX_TERM ? i - s : FTS_MAX_TERM;
        /* A cut must not split a UTF-8 sequence: back up over continuation bytes. */
        if (len < i - s)
            while (len > 0 && (text[s + len] & 0xC0) == 0x80) len--;
        for (size_t k = 0; k < len; k++) {
            uint8_t c = text[s + k];
            word[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        word[len] = 0;
        uint32_t at = pos++;
        if (a->stopwords && is_stop(word)) continue;
        const uint8_t *term = (const uint8_t *)word;
        if (a->stemmer) {
            const sb_symbol *st = sb_stemmer_stem(a->stemmer, (const sb_symbol *)word, (int)len);
            if (!st) return false;
            term = st;
            len = (size_t)sb_stemmer_length(a->stemmer);
            if (len > FTS_MAX_TERM) len = FTS_MAX_TERM;
        }
        if (len && !push(t, term, len, at)) return false;
    }
    *next = pos;
    return true;
}

bool fts_analyze(fts_analyzer *a, const uint8_t *text, size_t n, fts_tokens *t) {
    t->n = 0;
    t->bytes.size = 0;
    uint32_t next;
    return analyze_from(a, text, n, t, 0, &next);
}

bool fts_analyze_row(fts_analyzer *a, const fl_array *cols, int n, int64_t i, fts_tokens *t, bool *any) {
    t->n = 0;
    t->bytes.size = 0;
    *any = false;
    uint32_t pos = 0;
    for (int c = 0; c < n; c++) {
        if (fl_array_is_null(&cols[c], i)) continue;
        size_t len;
        const uint8_t *v = fl_array_get_bytes(&cols[c], i, &len);
        if (*any) pos += FTS_FIELD_GAP;
        *any = true;
        if (!analyze_from(a, v, len, t, pos, &pos)) return false;
    }
    return true;
}
