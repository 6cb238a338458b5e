#!/bin/sh
# Builds out of tree in _build (or _build-asan with --sanitizers). Prints the build dir.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
dir="$top/_build"; flags=""
if [ "$1" = "--sanitizers" ]; then dir="$top/_build-asan"; flags="--enable-sanitizers"; fi
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ]; then autoreconf -fi >/dev/null 2>&1 || autoreconf -fi; fi
mkdir -p "$dir"
cd "$dir"
if [ ! -f Makefile ] || [ "$top/configure" -nt Makefile ]; then "$top/configure" -q $flags >&2; fi
make -s -j"$(nproc)" >&2
echo "$dir"
