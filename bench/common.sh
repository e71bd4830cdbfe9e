# common.sh — helpers the benchmark drivers source (bash).

# What a program linked against build/libframelake.a needs (the Makefile's LIBS).
FL_LIBS=(-lzstd -lxxhash -lturbojpeg -lzip -lpg_query -lstemmer -lopenblas -lpthread -lm)

# framelake_commit ROOT: the framelake source measured, as the short commit, flagged when src/ or
# include/ differ from it; a COMMIT file stands in for git in an exported tree; '?' when neither exists.
framelake_commit() {
    local root=$1 commit
    if git -C "$root" rev-parse --git-dir > /dev/null 2>&1; then
        commit=$(git -C "$root" rev-parse --short HEAD)
        git -C "$root" diff --quiet HEAD -- src include || commit="$commit (src/include modified)"
    elif [ -f "$root/COMMIT" ]; then
        commit=$(cut -c1-7 "$root/COMMIT")
    else
        commit='?'
    fi
    echo "$commit"
}
