# common.sh — helpers the benchmark drivers source (bash).

# What a program linked against build/libframelake.a needs (the Makefile's LIBS).
FL_LIBS=(-lzstd -lxxhash -lturbojpeg -lzip -lpg_query -lstemmer -lopenblas -lpthread -lm)
FL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# fl_cc OUT SRC: compiles the bench program SRC against build/libframelake.a (which the caller has built)
# into OUT, with the headers of include/ and src/.
fl_cc() {
    cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -I"$FL_ROOT/include" -I"$FL_ROOT/src" -o "$1" "$2" "$FL_ROOT/build/libframelake.a" \
        "${FL_LIBS[@]}"
}

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
