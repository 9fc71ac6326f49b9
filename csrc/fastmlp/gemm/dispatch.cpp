// gemm(): picks a kernel once, picks a path by size, and runs the blocked loops.
//
// Kernel choice: the best one the CPU and OS support (AVX-512F, else AVX2+FMA,
// else the portable one), unless FASTMLP_GEMM_KERNEL=ref|avx2|avx512 is set at
// the first call. A value that is unknown, or names a kernel this machine cannot
// run, makes gemm throw std::runtime_error: a forced path that quietly ran
// another kernel would make the tests that force it meaningless.
// Not here: the arithmetic (kernel_*.cpp) and the packing layout (pack.hpp).
#include <fastmlp/gemm/dispatch.hpp>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include <fastmlp/gemm.hpp>
#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/gemm/kernel.hpp>
#include <fastmlp/gemm/pack.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp::gemm_detail {

namespace {

// --- size thresholds --------------------------------------------------------------

// Below this many multiply-adds (m * n * k) the tiny path wins: packing and the
// tile loops cost more than they save. Iris (120 x 5 x 4) is far below it.
constexpr std::size_t kTinyWork = 16 * 1024;

// With at most this many rows of C, the tiny path wins at any size while B is
// read in place (Trans::No): packing B would cost as much as the product.
// That is single-row predict and other matrix-vector-like products.
constexpr std::size_t kTinyRows = 4;

// The largest op(B) (k * n values) the tiny path transposes into a scratch
// copy when B arrives transposed; beyond it the packed path does that work.
constexpr std::size_t kTinyTransposeB = 64 * 1024;

// Products below this many multiply-adds stay on the calling thread: waking the
// pool costs a few microseconds, about what this much work takes.
constexpr std::size_t kParallelWork = 1 << 20;

// Work per chunk handed to the pool: at least this many multiply-adds, at most
// kMaxChunks chunks. A power-of-two count divides evenly over 2, 4 or 8 threads.
constexpr std::size_t kChunkWork = 1 << 19;
constexpr std::size_t kMaxChunks = 8;

// --- small helpers ----------------------------------------------------------------

std::size_t round_up(std::size_t x, std::size_t to) { return (x + to - 1) / to * to; }
std::size_t min(std::size_t a, std::size_t b) { return a < b ? a : b; }

// Element (i, p) of op(X) for a row-major X with leading dimension ld.
template <class T>
const T* at(Trans trans, const T* X, std::size_t ld, std::size_t i, std::size_t p) {
  return trans == Trans::No ? X + i * ld + p : X + p * ld + i;
}

// A 64-byte aligned scratch array that only grows: after the first calls of a
// training run, gemm allocates nothing.
template <class T>
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { release(); }

  // At least n elements, uninitialised.
  T* get(std::size_t n) {
    if (n > capacity_) {
      release();
      data_ = static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64}));
      capacity_ = n;
    }
    return data_;
  }

 private:
  void release() noexcept {
    if (data_ != nullptr) ::operator delete(data_, std::align_val_t{64});
    data_ = nullptr;
    capacity_ = 0;
  }

  T* data_ = nullptr;
  std::size_t capacity_ = 0;
};

// Each thread packs into its own buffers, so chunks never share scratch space.
template <class T>
struct ThreadScratch {
  Scratch<T> a;  // a packed block of A, or the tiny path's copy of op(B)
  Scratch<T> b;  // a packed panel of B
};

template <class T>
ThreadScratch<T>& thread_scratch() {
  thread_local ThreadScratch<T> scratch;
  return scratch;
}

// --- kernel sets ------------------------------------------------------------------

// Everything dispatch needs to know about one kernel for one type.
template <class T>
struct KernelSet {
  Blocking blocking;
  MicroKernel<T> micro;
  TinyGemm<T> tiny;
  Packer<T> pack_a;
  Packer<T> pack_b;
};

template <class T, const Blocking& B>
KernelSet<T> make_set(MicroKernel<T> micro, TinyGemm<T> tiny) {
  return {B, micro, tiny, &gemm_detail::pack_a<T, B.mr>, &gemm_detail::pack_b<T, B.nr>};
}

template <class T>
KernelSet<T> kernel_set(Kernel kernel) {
  switch (kernel) {
#if defined(FASTMLP_GEMM_X86)
    case Kernel::Avx512:
      return make_set<T, kAvx512Blocking<T>>(micro_avx512, tiny_avx512);
    case Kernel::Avx2:
      return make_set<T, kAvx2Blocking<T>>(micro_avx2, tiny_avx2);
#endif
    default:
      return make_set<T, kRefBlocking<T>>(micro_ref, tiny_ref);
  }
}

// --- CPU features -----------------------------------------------------------------

// GCC's and Clang's __builtin_cpu_supports report AVX2 and AVX-512 only when
// the OS also saves their registers (they check XCR0 through xgetbv). Other
// compilers get the portable kernel.
bool cpu_has_avx2() noexcept {
#if defined(FASTMLP_GEMM_X86) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool cpu_has_avx512() noexcept {
#if defined(FASTMLP_GEMM_X86) && defined(__GNUC__)
  return cpu_has_avx2() && __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

Kernel choose_kernel() {
  const char* env = std::getenv("FASTMLP_GEMM_KERNEL");
  if (env == nullptr || *env == '\0') {
    if (kernel_supported(Kernel::Avx512)) return Kernel::Avx512;
    if (kernel_supported(Kernel::Avx2)) return Kernel::Avx2;
    return Kernel::Ref;
  }
  for (Kernel k : {Kernel::Ref, Kernel::Avx2, Kernel::Avx512}) {
    if (std::strcmp(env, kernel_name(k)) != 0) continue;
    if (!kernel_supported(k))
      throw std::runtime_error(std::string("FASTMLP_GEMM_KERNEL=") + env +
                               ": this CPU (or this build) cannot run that kernel");
    return k;
  }
  throw std::runtime_error(std::string("FASTMLP_GEMM_KERNEL=") + env +
                           ": expected ref, avx2 or avx512 (or unset)");
}

// --- the tiny path ----------------------------------------------------------------

// No packing, no threads: the kernel's tiny routine reads A in place. B is read
// in place too unless it arrives transposed, when a copy of op(B) is made first.
template <class T>
void run_tiny(const KernelSet<T>& ks, Trans trans_a, Trans trans_b, std::size_t m,
              std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
              std::size_t ldb, T beta, T* C, std::size_t ldc) {
  if (trans_b == Trans::Yes && k > 0) {
    T* copy = thread_scratch<T>().a.get(k * n);
    for (std::size_t p = 0; p < k; ++p)
      for (std::size_t j = 0; j < n; ++j) copy[p * n + j] = B[j * ldb + p];
    B = copy;
    ldb = n;
  }
  const std::size_t a_rs = trans_a == Trans::No ? lda : 1;
  const std::size_t a_cs = trans_a == Trans::No ? 1 : lda;
  ks.tiny(m, n, k, alpha, A, a_rs, a_cs, B, ldb, beta, C, ldc);
}

// --- the packed path: five loops --------------------------------------------------

// One rectangle of C (m x n, k deep, with A, B and C pointing at its corner as
// op(A) row 0 / op(B) column 0 / C element (0, 0)), computed by one thread with
// its own packing buffers. The loops, outermost first (BLIS numbering):
template <class T>
void run_packed(const KernelSet<T>& ks, Trans trans_a, Trans trans_b, std::size_t m,
                std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
                std::size_t ldb, T beta, T* C, std::size_t ldc) {
  const Blocking& bl = ks.blocking;
  const std::size_t kc_max = min(KC<T>, k);
  ThreadScratch<T>& scratch = thread_scratch<T>();
  T* a_packed = scratch.a.get(round_up(min(bl.mc, m), bl.mr) * kc_max);
  T* b_packed = scratch.b.get(round_up(min(bl.nc, n), bl.nr) * kc_max);

  // Loop 5 (jc): NC-wide column panels of C and op(B).
  for (std::size_t jc = 0; jc < n; jc += bl.nc) {
    const std::size_t nc = min(bl.nc, n - jc);

    // Loop 4 (pc): the k-blocks, in ascending order; the first one applies
    // beta, the later ones add to C (beta = 1). KC is the numeric contract.
    for (std::size_t pc = 0; pc < k; pc += KC<T>) {
      const std::size_t kc = min(KC<T>, k - pc);
      const T block_beta = pc == 0 ? beta : T(1);
      ks.pack_b(trans_b, kc, nc, at(trans_b, B, ldb, pc, jc), ldb, b_packed);

      // Loop 3 (ic): MC-tall row blocks of C and op(A).
      for (std::size_t ic = 0; ic < m; ic += bl.mc) {
        const std::size_t mc = min(bl.mc, m - ic);
        ks.pack_a(trans_a, mc, kc, at(trans_a, A, lda, ic, pc), lda, a_packed);

        // Loop 2 (jr): NR-wide micro-panels of the packed B (one stays in L1).
        for (std::size_t jr = 0; jr < nc; jr += bl.nr) {
          const std::size_t n_r = min(bl.nr, nc - jr);

          // Loop 1 (ir): MR-tall micro-panels of the packed A: one micro-kernel each.
          for (std::size_t ir = 0; ir < mc; ir += bl.mr) {
            const std::size_t m_r = min(bl.mr, mc - ir);
            ks.micro(kc, a_packed + ir * kc, b_packed + jr * kc, alpha, block_beta,
                     C + (ic + ir) * ldc + jc + jr, ldc, m_r, n_r);
          }
        }
      }
    }
  }
}

// --- threads ----------------------------------------------------------------------

// How C is cut into chunks for the pool: rows x cols rectangles, a power-of-two
// count. The cut depends on the shape and the kernel, never on the thread count;
// each element of C is computed by one chunk, start to finish.
struct Grid {
  std::size_t rows, cols;
};

Grid choose_grid(std::size_t m, std::size_t n, std::size_t k, const Blocking& bl) {
  const std::size_t work = m * n * k;
  std::size_t chunks = 1;
  while (chunks < kMaxChunks && work / (2 * chunks) >= kChunkWork) chunks *= 2;
  // Halve the longer side each time (while it holds more than one tile).
  std::size_t rows = m, cols = n;
  for (std::size_t c = 1; c < chunks; c *= 2) {
    if (rows >= cols && rows > bl.mr)
      rows = round_up((rows + 1) / 2, bl.mr);
    else if (cols > bl.nr)
      cols = round_up((cols + 1) / 2, bl.nr);
    else
      break;
  }
  return {rows, cols};
}

template <class T>
void run_packed_parallel(const KernelSet<T>& ks, Trans trans_a, Trans trans_b,
                         std::size_t m, std::size_t n, std::size_t k, T alpha, const T* A,
                         std::size_t lda, const T* B, std::size_t ldb, T beta, T* C,
                         std::size_t ldc, ThreadPool& pool) {
  const Grid g = choose_grid(m, n, k, ks.blocking);
  const std::size_t grid_rows = (m + g.rows - 1) / g.rows;
  const std::size_t grid_cols = (n + g.cols - 1) / g.cols;
  pool.parallel_for(grid_rows * grid_cols, [&](std::size_t chunk) {
    const std::size_t i0 = chunk / grid_cols * g.rows;
    const std::size_t j0 = chunk % grid_cols * g.cols;
    run_packed(ks, trans_a, trans_b, min(g.rows, m - i0), min(g.cols, n - j0), k, alpha,
               at(trans_a, A, lda, i0, 0), lda, at(trans_b, B, ldb, 0, j0), ldb, beta,
               C + i0 * ldc + j0, ldc);
  });
}

// --- argument checks --------------------------------------------------------------

// A stored rows x cols matrix needs ld >= cols (when it holds anything).
void check_ld(const char* name, std::size_t ld, std::size_t rows, std::size_t cols) {
  if (rows > 0 && cols > 0 && ld < cols)
    throw std::invalid_argument(std::string("gemm: ") + name + " = " + std::to_string(ld) +
                                " is less than the row length " + std::to_string(cols));
}

}  // namespace

// --- kernel selection -------------------------------------------------------------

bool kernel_supported(Kernel kernel) noexcept {
  switch (kernel) {
    case Kernel::Ref: return true;
    case Kernel::Avx2: return cpu_has_avx2();
    case Kernel::Avx512: return cpu_has_avx512();
  }
  return false;
}

const char* kernel_name(Kernel kernel) noexcept {
  switch (kernel) {
    case Kernel::Ref: return "ref";
    case Kernel::Avx2: return "avx2";
    case Kernel::Avx512: return "avx512";
  }
  return "unknown";
}

Kernel active_kernel() {
  static const Kernel chosen = choose_kernel();  // once; a throw is retried next call
  return chosen;
}

// --- gemm -------------------------------------------------------------------------

template <class T>
void gemm_with(Kernel kernel, Path path, Trans trans_a, Trans trans_b, std::size_t m,
               std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
               std::size_t ldb, T beta, T* C, std::size_t ldc, ThreadPool* pool) {
  if (!kernel_supported(kernel))
    throw std::invalid_argument(std::string("gemm: kernel ") + kernel_name(kernel) +
                                " is not supported on this CPU or build");
  check_ld("lda", lda, trans_a == Trans::No ? m : k, trans_a == Trans::No ? k : m);
  check_ld("ldb", ldb, trans_b == Trans::No ? k : n, trans_b == Trans::No ? n : k);
  check_ld("ldc", ldc, m, n);
  if (m == 0 || n == 0) return;

  const Path requested = path;
  if (path == Path::Auto) {
    const bool b_in_place = trans_b == Trans::No || k * n <= kTinyTransposeB;
    const bool tiny = m * n * k <= kTinyWork || (m <= kTinyRows && b_in_place);
    path = tiny ? Path::Tiny : Path::Packed;
  }
  const KernelSet<T> ks = kernel_set<T>(kernel);
  // k == 0 still scales C by beta; only the tiny path's block loop does that.
  if (path == Path::Tiny || k == 0) {
    run_tiny(ks, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  } else if (pool != nullptr && pool->size() > 1 &&
             (requested == Path::Packed || m * n * k >= kParallelWork)) {
    run_packed_parallel(ks, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc,
                        *pool);
  } else {
    run_packed(ks, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

template void gemm_with<float>(Kernel, Path, Trans, Trans, std::size_t, std::size_t,
                               std::size_t, float, const float*, std::size_t, const float*,
                               std::size_t, float, float*, std::size_t, ThreadPool*);
template void gemm_with<double>(Kernel, Path, Trans, Trans, std::size_t, std::size_t,
                                std::size_t, double, const double*, std::size_t,
                                const double*, std::size_t, double, double*, std::size_t,
                                ThreadPool*);

}  // namespace fastmlp::gemm_detail

namespace fastmlp {

template <class T>
void gemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta, T* C,
          std::size_t ldc, ThreadPool* pool) {
  using namespace gemm_detail;
  gemm_with(active_kernel(), Path::Auto, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb,
            beta, C, ldc, pool);
}

template void gemm<float>(Trans, Trans, std::size_t, std::size_t, std::size_t, float,
                          const float*, std::size_t, const float*, std::size_t, float, float*,
                          std::size_t, ThreadPool*);
template void gemm<double>(Trans, Trans, std::size_t, std::size_t, std::size_t, double,
                           const double*, std::size_t, const double*, std::size_t, double,
                           double*, std::size_t, ThreadPool*);

const char* gemm_kernel_name() { return gemm_detail::kernel_name(gemm_detail::active_kernel()); }

}  // namespace fastmlp
