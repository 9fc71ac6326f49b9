// The GEMM's public entries: gemm() and gemm_with() (argument checks, the pool
// for large products only, the choice of path by size), gemm_reserve(), and
// the size thresholds behind those choices.
//
// Not here: the choice of instruction set (isa.cpp), the paths themselves
// (tiny.cpp, packed.cpp), PackedB (packed_b.cpp) or the arithmetic (kernel_*.cpp).
#include <fastmlp/gemm/dispatch.hpp>

#include <fastmlp/gemm.hpp>
#include <fastmlp/gemm/paths.hpp>
#include <fastmlp/isa.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp::gemm_detail {

namespace {

// --- size thresholds --------------------------------------------------------------

// When the tiny path wins (measured, AVX-512, float and double, 1 and 2
// threads): the packed path's fixed costs (packing, MR x NR tiles, a hand-off
// to the pool per k-block) pay off only when all three sides are large. Below
// kTinyWork multiply-adds (m * n * k; Iris is far below), or with few rows
// (single-row predict, batches of up to 32) or few columns (a classifier's
// output layer), the tiny path's 4-row register blocks, straight from A and B,
// are faster; and split over threads it scales without further hand-offs, so
// with a pool it also takes up to 128 x 256 (a 128-row batch through a 256-unit
// layer: 245 against 220 GFLOP/s on 2 threads). It wants B in place
// (Trans::No), and A too unless A is small: a transposed A is read a few
// values per row, once per block of 4 rows.
constexpr std::size_t kTinyWork = 64 * 64 * 64;
constexpr std::size_t kTinyRows = 32;
constexpr std::size_t kTinyCols = 48;
constexpr std::size_t kTinyRowsThreaded = 128;
constexpr std::size_t kTinyColsThreaded = 256;
constexpr std::size_t kTinyTransposedA = 256 * 1024;  // values of A (m * k), at most

// Products below this many multiply-adds stay on the calling thread: each hand-
// off to the pool costs about a microsecond, and there are two per k-block.
constexpr std::size_t kParallelWork = 1 << 20;

}  // namespace

Path auto_path(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
               bool threaded) {
  const std::size_t work = work_of(m, n, k);
  const bool operands_suit =
      trans_b == Trans::No && (trans_a == Trans::No || work_of(m, k, 1) <= kTinyTransposedA);
  const bool narrow = m <= kTinyRows || n <= kTinyCols ||
                      (threaded && m <= kTinyRowsThreaded && n <= kTinyColsThreaded);
  return work <= kTinyWork || (operands_suit && narrow) ? Path::Tiny : Path::Packed;
}

// --- gemm -------------------------------------------------------------------------

namespace {

// gemm_with for an instruction set known to run here.
template <class T>
void run(Isa isa, Path path, Trans trans_a, Trans trans_b, std::size_t m, std::size_t n,
         std::size_t k, T alpha, const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta,
         T* C, std::size_t ldc, ThreadPool* pool) {
  check_ld("lda", lda, trans_a == Trans::No ? m : k, trans_a == Trans::No ? k : m);
  check_ld("ldb", ldb, trans_b == Trans::No ? k : n, trans_b == Trans::No ? n : k);
  check_ld("ldc", ldc, m, n);
  if (m == 0 || n == 0) return;

  // Auto takes the pool for large products only; a forced path (tests) always.
  ThreadPool* const threads =
      pool != nullptr && pool->size() > 1 &&
              (path != Path::Auto || work_of(m, n, k) >= kParallelWork)
          ? pool
          : nullptr;
  if (path == Path::Auto) path = auto_path(trans_a, trans_b, m, n, k, threads != nullptr);
  const KernelSet<T> ks = kernel_set<T>(isa);
  // k == 0 still scales C by beta; only the tiny path's block loop does that.
  if (path == Path::Tiny || k == 0)
    run_tiny(ks, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, threads);
  else
    run_packed(ks, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, threads);
}

}  // namespace

template <class T>
void gemm_with(Isa isa, Path path, Trans trans_a, Trans trans_b, std::size_t m, std::size_t n,
               std::size_t k, T alpha, const T* A, std::size_t lda, const T* B, std::size_t ldb,
               T beta, T* C, std::size_t ldc, ThreadPool* pool) {
  check_isa(isa);
  run(isa, path, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, pool);
}

template void gemm_with<float>(Isa, Path, Trans, Trans, std::size_t, std::size_t, std::size_t,
                               float, const float*, std::size_t, const float*, std::size_t,
                               float, float*, std::size_t, ThreadPool*);
template void gemm_with<double>(Isa, Path, Trans, Trans, std::size_t, std::size_t,
                                std::size_t, double, const double*, std::size_t, const double*,
                                std::size_t, double, double*, std::size_t, ThreadPool*);

}  // namespace fastmlp::gemm_detail

namespace fastmlp {

template <class T>
void gemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta, T* C,
          std::size_t ldc, ThreadPool* pool) {
  gemm_detail::run(active_isa(), gemm_detail::Path::Auto, trans_a, trans_b, m, n, k, alpha, A,
                   lda, B, ldb, beta, C, ldc, pool);
}

template void gemm<float>(Trans, Trans, std::size_t, std::size_t, std::size_t, float,
                          const float*, std::size_t, const float*, std::size_t, float, float*,
                          std::size_t, ThreadPool*);
template void gemm<double>(Trans, Trans, std::size_t, std::size_t, std::size_t, double,
                           const double*, std::size_t, const double*, std::size_t, double,
                           double*, std::size_t, ThreadPool*);

template <class T>
void gemm_reserve(Trans trans_b, std::size_t m, std::size_t n, std::size_t k) {
  using namespace gemm_detail;
  // Packing A takes the same room either way, so only B's transpose matters.
  const Blocking& bl = kernel_set<T>(active_isa()).blocking;
  const PackedSizes packed = packed_sizes<T>(bl, m, n, k);
  // The tiny path copies a transposed op(B) (k x n) into `a`, for products of up
  // to kTinyWork multiply-adds only.
  const std::size_t tiny = trans_b == Trans::Yes ? min(work_of(1, n, k), kTinyWork) : 0;
  ThreadScratch<T>& scratch = thread_scratch<T>();
  scratch.a.get(2 * packed.a > tiny ? 2 * packed.a : tiny);
  scratch.b.get(2 * packed.b);
  scratch.strip.get(strip_size<T>(bl));
}

template void gemm_reserve<float>(Trans, std::size_t, std::size_t, std::size_t);
template void gemm_reserve<double>(Trans, std::size_t, std::size_t, std::size_t);

}  // namespace fastmlp
