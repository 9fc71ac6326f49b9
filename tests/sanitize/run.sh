#!/usr/bin/env bash
# The C++ tests and a Python smoke run (train, predict, save, load) under
# AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer.
#
#   tests/sanitize/run.sh [BUILD_DIR]      (default build/sanitize)
#
# The C++ tests run with leak detection on (a leak fails them). The Python run
# loads the sanitized module into an ordinary interpreter with libasan
# preloaded; leak detection is off there, since CPython itself keeps memory
# until exit (tests/test_hostile_inputs.py checks that cycles stay flat).
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${1:-build/sanitize}"
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

echo "--- C++ tests under ASan + UBSan + LSan"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build" --parallel 2
ctest --test-dir "$build" --output-on-failure
"$build/fastmlp" train --epochs 500

echo "--- Python smoke run with the sanitized module"
venv="$build/venv"
[ -x "$venv/bin/python" ] || uv venv --quiet "$venv"
uv pip install --quiet --python "$venv/bin/python" numpy
uv pip install --quiet --python "$venv/bin/python" --no-deps --reinstall . \
  -C build-dir="$build/wheel" -C cmake.define.CMAKE_CXX_FLAGS="$flags" \
  -C cmake.define.CMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined"
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
LD_PRELOAD="$(g++ -print-file-name=libasan.so):$(g++ -print-file-name=libubsan.so)" \
  "$venv/bin/python" tests/sanitize/smoke.py
echo "sanitizers: clean"
