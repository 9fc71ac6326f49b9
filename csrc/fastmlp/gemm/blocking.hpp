// Block sizes of the GEMM: the k-block (part of the numeric contract) and each
// kernel's register and cache blocking. Only constants live here.
//
// Not a tuning framework: the numbers were measured once, on the machine named
// below, and are plain constants. See dispatch.cpp for the loops that use them.
#pragma once

#include <cstddef>

namespace fastmlp::gemm_detail {

// --- the k-block: fixes the results -------------------------------------------

// Every path (tiny or packed, any kernel, any thread count) sums each element of
// C over k in blocks of KC<T>, in ascending order, restarting its accumulator
// at each block. Changing KC changes results in the last bits; that is why it
// depends on the type only, never on the kernel or the machine.
//
// 256 keeps one NR-wide packed panel of B (KC * NR * sizeof(T) = 32 KiB for the
// AVX-512 kernels) inside a 48 KiB L1 data cache, with room for the A panel
// streaming past it, while the C tile is read and written once per 256 steps.
// Measured alternatives (float, AVX-512, 2048^3, one thread): see blocking
// notes in benchmarks/gemm_bench.cpp's header.
template <class T>
inline constexpr std::size_t KC = 256;

// --- register and cache blocking, per kernel --------------------------------------

// mr x nr: the C tile one micro-kernel call computes in registers.
// mc: rows of a packed A block (mc x KC), sized to stay in L2.
// nc: columns of a packed B panel (KC x nc), sized for L2/L3.
// mc is a multiple of mr and nc of nr.
struct Blocking {
  std::size_t mr, nr, mc, nc;
};

// Measured on a 2-core Intel Xeon (Sapphire Rapids class, KVM): 48 KiB L1d and
// 2 MiB L2 per core, a large shared L3; two 512-bit FMA units per core.

// Portable C++: small tiles the compiler can keep in registers anywhere.
template <class T>
inline constexpr Blocking kRefBlocking = {4, 8, 256, 2048};

// AVX2 (16 ymm registers): 6 rows x 2 vectors = 12 accumulators, 2 for B, 1
// for the broadcast of A. A block: 192 * 256 * 4 B = 192 KiB of L2.
template <class T>
inline constexpr Blocking kAvx2Blocking = {6, 64 / sizeof(T), 192, 4096};

// AVX-512 (32 zmm registers): 12 rows x 2 vectors = 24 accumulators; the
// broadcasts of A come straight from memory. 12 rows waste little on the
// batch sizes the network sees (32..256 rows: 89-97% of the tile used).
// A block: 384 * 256 * sizeof(T) = 384 or 768 KiB, half the L2 at most.
template <class T>
inline constexpr Blocking kAvx512Blocking = {12, 128 / sizeof(T), 384, 2048};

}  // namespace fastmlp::gemm_detail
