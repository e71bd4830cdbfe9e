#!/bin/sh
# Installs the Debian packages framelake needs to build and test. Idempotent: installs only what is
# missing, and runs `apt-get update` only when something is. Works as root or through sudo.
set -eu
# Python workers and their tests use Debian's python3 packages (no PyPI); OpenBLAS keeps torch off the
# reference BLAS; python3-pil is the peer of bench/backfill.sh.
PACKAGES="gcc make libzstd-dev libxxhash-dev pkg-config clang libclang-rt-14-dev libturbojpeg0-dev libzip-dev libpg-query-dev libstemmer-dev libopenblas-dev
python3 python3-numpy python3-opencv python3-torch python3-torchvision python3-pytest python3-pil libopenblas0-pthread"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
