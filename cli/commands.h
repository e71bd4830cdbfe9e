/*
 * commands.h — commands implemented outside main.c. Each takes the parsed arguments (positional arguments
 * after the command name, and options checked against its option_spec list) and returns the exit code:
 * 0 success, 1 an error reported by the library, 2 usage.
 */
#ifndef FL_CLI_COMMANDS_H
#define FL_CLI_COMMANDS_H

#include "args.h"
#include "output.h"

/* framelake ingest images|bdd100k|synthetic DB ... and framelake synthesize DIR ... (cli/ingest.c) */
extern const option_spec ingest_opts[];
int cmd_ingest(const args *a);
extern const option_spec synthesize_opts[];
int cmd_synthesize(const args *a);

/* framelake import DB TABLE FILE.jsonl|- [...] (cli/import.c) */
extern const option_spec import_opts[];
int cmd_import(const args *a);

/* framelake backfill DB TABLE (COLUMN | --all) ..., add-column ... --udf SPEC and framelake udf list (cli/compute.c) */
extern const option_spec backfill_opts[];
int cmd_backfill(const args *a);
int cmd_add_udf_column(const args *a);
/* framelake dedup DB TABLE ... | dedup inject DB TABLE --n N (cli/compute.c) */
extern const option_spec dedup_opts[];
int cmd_dedup(const args *a);
int cmd_udf(const args *a);

/* framelake index create|update|list|drop DB TABLE ... (cli/index.c) */
#define INDEX_USAGE                                                                                                                     \
    "framelake index create DB TABLE COLUMN --type btree|bitmap|label_list|fts|ivf_pq|ivf_flat|hamming [--name N] [--stem english|none] "          \
    "[--stopwords english|none] [--positions] [--metric l2|cosine|dot] [--partitions P] [--sub-vectors M] [--store-vectors true|false] | update DB TABLE [NAME] | "       \
    "list DB TABLE [--version N] | drop DB TABLE NAME"
extern const option_spec index_opts[];
int cmd_index(const args *a);

/* framelake query DB TABLE, framelake sql DB "SELECT ...", framelake explain DB "SELECT ..." (cli/query.c) */
extern const option_spec query_opts[];
int cmd_query(const args *a);
extern const option_spec sql_opts[];
int cmd_sql(const args *a);
extern const option_spec explain_opts[];
int cmd_explain(const args *a);
/* framelake search vector|fts DB TABLE ... (cli/query.c) */
extern const option_spec search_opts[];
int cmd_search(const args *a);

/* framelake view create|refresh|list|show DB ... (cli/view.c) */
#define VIEW_USAGE                                                                                                                      \
    "framelake view create DB NAME --from SOURCE [--where SQL] [--select \"col, expr AS name, ...\"] | refresh DB (NAME [--source-version N] | --all) " \
    "[--full] | list DB [--format table|jsonl|csv] | show DB NAME"
extern const option_spec view_opts[];
int cmd_view(const args *a);

/* framelake permutation create|show DB NAME ... (cli/permutation.c) */
#define PERMUTATION_USAGE                                                                                                               \
    "framelake permutation create DB NAME --from TABLE [--filter SQL] [--split random:0.8,0.2[:train,val] | sequential:SIZES[:NAMES] | " \
    "hash:COLUMN:0.9,0.1[:NAMES] | calculated:EXPRESSION:NAMES] [--shuffle-seed S [--clump N]] [--select a,b] [--version N|--tag T] | " \
    "show DB NAME [--version N|--tag T]"
extern const option_spec permutation_opts[];
int cmd_permutation(const args *a);

/* --format and --blob into output options (cli/main.c); prints a usage error and returns false when bad. */
bool parse_format(const args *a, output_options *o);

#endif
