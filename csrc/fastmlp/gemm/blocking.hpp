// Block sizes of the GEMM: the k-block (part of the numeric contract), each
// kernel's register and cache blocking, how the paths cut work into tasks, and
// the blocks of rows PackedB's products prefer. Only constants live here.
//
// Not a tuning framework: the numbers were chosen for, and measured on, the
// machine described below, and are plain constants. The loops (tiny.cpp,
// packed.cpp, packed_b.cpp) and kernel_impl.hpp's micro-kernel use them.
#pragma once

#include <cstddef>

namespace fastmlp::gemm_detail {

// The machine: a 2-core Intel Xeon (Sapphire Rapids class, under KVM) with a
// 48 KiB L1d and a 2 MiB L2 per core and a large shared L3 (lscpu); two
// 512-bit FMA units per core (about 210 GFLOP/s float per core at full speed).

// --- the k-block: fixes the results --------------------------------------------

// Every path (tiny or packed, any kernel, any thread count) sums each element of
// C over k in blocks of KC<T>, in ascending order, restarting its accumulator
// at each block. Changing KC changes results in the last bits; that is why it
// depends on the type only, never on the kernel or the machine.
//
// 256 for both types: one micro-panel of packed A (MR * KC values: 12 KiB float,
// 24 KiB double with MR = 12) stays in L1 while NR-wide panels of B stream past
// it, and the C tile is read and written once per 256 steps. Measured on
// 2048^3 and the network's shapes, float: 128 and 192 were 5-10% slower, 384
// and 512 no faster; double: 128 was 5% slower than 256.
template <class T>
inline constexpr std::size_t KC = 256;

// --- register and cache blocking, per kernel ------------------------------------

// mr x nr: the C tile one micro-kernel call keeps in registers.
// mc: rows of a packed block of A (mc x KC), sized to stay in L2.
// nc: columns of a packed panel of B (KC x nc), sized for L2/L3.
struct Blocking {
  std::size_t mr, nr, mc, nc;
};

// Portable C++: a small tile any compiler keeps in registers on any target.
template <class T>
inline constexpr Blocking kRefBlocking = {4, 8, 256, 2048};

// AVX2 (16 ymm registers): 6 rows x 2 vectors = 12 accumulators, 2 registers
// for B, 1 for the broadcast of A. A block: 192 * 256 * 4 B = 192 KiB (float).
template <class T>
inline constexpr Blocking kAvx2Blocking = {6, 64 / sizeof(T), 192, 4096};

// AVX-512 (32 zmm registers): 12 rows x 2 vectors = 24 accumulators. 12 rows
// waste little on the batch sizes the network sees (32..256 rows: 89-97% of
// the tiles used); 14 rows measured no faster and wasted more. A block:
// 384 * 256 * sizeof(T) = 384 or 768 KiB, at most half the L2; B panel:
// 256 * 2048 * sizeof(T) = 2 or 4 MiB (MC 96..768 and NC 1024..4096 measured
// within noise of these).
template <class T>
inline constexpr Blocking kAvx512Blocking = {12, 128 / sizeof(T), 384, 2048};

// --- tasks for a pool ---------------------------------------------------------
//
// Every cut depends on the shape and the kernel only, never on the thread
// count, and each element of C gets its k-blocks in order from one task.

// The tiny path: blocks of rows, then column strips if that leaves fewer than
// kMinTasks. Multiples of every kernel's strips.
constexpr std::size_t kTinyTaskRows = 64;
constexpr std::size_t kTinyTaskCols = 64;

// The packed path (see run_packed in packed.cpp).
constexpr std::size_t kRowBlocksPerStep = 4;      // MC-row blocks of A packed at once
constexpr std::size_t kPackTaskValues = 16 * 1024;  // values per packing task, about
constexpr std::size_t kTaskPanelsB = 4;           // NR-panels of C per compute task, at most
constexpr std::size_t kMinTasks = 8;              // narrower tasks until there are this many
// Where a compute task packs its own strip of op(B) (see run_packed), the strip
// is up to this many bytes wide (a k-block's rows of it): it stays in L2 beside
// a block of A, and each row of op(B) is read in runs of a kilobyte or so,
// which the hardware prefetches (64-column strips, in runs of 256 bytes, took
// 10-15% longer on 64 x 2048 x 784, float, AVX2).
constexpr std::size_t kStripBytes = 256 * 1024;

// --- blocks of rows for products with a PackedB ----------------------------------

// PackedB::block_rows: at most kMaxBlockRows rows per product, so that a block's
// activations through a network's layers stay in cache, and at least
// kMinBlockRows when the rows are split over threads (fewer are not worth a
// task). kMaxBlockRows is a whole number of every kernel's row tiles.
constexpr std::size_t kMaxBlockRows = 252;
constexpr std::size_t kMinBlockRows = 48;

// The loops rely on whole micro-panels per block, and the AVX kernels' aligned
// loads on packed B panels starting at whole vectors (32-byte multiples).
template <class T>
constexpr bool valid(const Blocking& b) {
  return b.mc % b.mr == 0 && b.nc % b.nr == 0 && (b.nr * sizeof(T)) % 32 == 0;
}
static_assert(valid<float>(kRefBlocking<float>) && valid<double>(kRefBlocking<double>));
static_assert(valid<float>(kAvx2Blocking<float>) && valid<double>(kAvx2Blocking<double>));
static_assert(valid<float>(kAvx512Blocking<float>) && valid<double>(kAvx512Blocking<double>));
static_assert(kMaxBlockRows % kRefBlocking<float>.mr == 0 &&
              kMaxBlockRows % kAvx2Blocking<float>.mr == 0 &&
              kMaxBlockRows % kAvx512Blocking<float>.mr == 0 &&
              kMaxBlockRows % kRefBlocking<double>.mr == 0 &&
              kMaxBlockRows % kAvx2Blocking<double>.mr == 0 &&
              kMaxBlockRows % kAvx512Blocking<double>.mr == 0);

}  // namespace fastmlp::gemm_detail
