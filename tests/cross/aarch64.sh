#!/usr/bin/env bash
# Cross-builds the C++ core for aarch64 (generic kernels only), runs its C++
# tests under qemu, and checks that training there is bit-identical to every
# kernel here (x86-64): the same fingerprint of trained parameters.
# Needs Debian's g++-aarch64-linux-gnu and qemu-user (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
native="${1:-build/native}"   # a native build directory with the fingerprint program
cross="${2:-build/aarch64}"

if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  apt-get update -qq && apt-get install -y -qq g++-aarch64-linux-gnu qemu-user >/dev/null
fi
cmake -S . -B "$cross" -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
  -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++ \
  "-DCMAKE_CROSSCOMPILING_EMULATOR=qemu-aarch64;-L;/usr/aarch64-linux-gnu" >/dev/null
cmake --build "$cross" --parallel 2
FASTMLP_TEST_NO_FORK=1 ctest --test-dir "$cross" --output-on-failure  # qemu-user cannot fork a threaded process

want="$(qemu-aarch64 -L /usr/aarch64-linux-gnu "$cross/fingerprint" data/train.csv)"
echo "aarch64 (ref):"; echo "$want"
status=0
for kernel in ref avx2 avx512; do
  got="$(FASTMLP_GEMM_KERNEL=$kernel "$native/fingerprint" data/train.csv 2>&1)" || {
    echo "x86-64 $kernel: not supported here"; continue; }
  if [ "$got" = "$want" ]; then echo "x86-64 $kernel: identical"; else
    echo "x86-64 $kernel: DIFFERENT"; echo "$got"; status=1; fi
done
exit $status
