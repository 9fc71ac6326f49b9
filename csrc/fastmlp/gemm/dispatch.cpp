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

// Products below this many multiply-adds stay on the calling thread: each hand-
// off to the pool costs about a microsecond, and there are two per k-block.
constexpr std::size_t kParallelWork = 1 << 20;

// How the packed path cuts one step into tasks (see run_packed). The cut
// depends on the shape and the kernel only, never on the thread count.
constexpr std::size_t kRowBlocksPerStep = 4;  // MC-row blocks of A packed at once
constexpr std::size_t kPackPanelsA = 8;       // MR-panels of A per packing task
constexpr std::size_t kPackPanelsB = 4;       // NR-panels of B per packing task
constexpr std::size_t kTaskPanelsB = 4;       // NR-panels of C per compute task, at most
constexpr std::size_t kMinTasks = 8;          // narrower tasks until there are this many

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

// Runs task(0) ... task(n - 1): on the pool when there is one, else in order.
template <class F>
void run_tasks(ThreadPool* pool, std::size_t n, const F& task) {
  if (pool != nullptr) {
    pool->parallel_for(n, task);
  } else {
    for (std::size_t t = 0; t < n; ++t) task(t);
  }
}

// The compute tasks of one step: rectangles of `rows` x `cols` (multiples of MR
// and NR), at most MC x kTaskPanelsB * NR, made narrower, then shorter, until
// there are kMinTasks of them (or they are one tile).
struct TaskGrid {
  std::size_t rows, cols, n_rows, n_cols;
};

TaskGrid task_grid(std::size_t m, std::size_t n, const Blocking& bl) {
  std::size_t rows = min(bl.mc, round_up(m, bl.mr));
  std::size_t cols = min(kTaskPanelsB * bl.nr, round_up(n, bl.nr));
  auto count = [&] { return ((m + rows - 1) / rows) * ((n + cols - 1) / cols); };
  while (count() < kMinTasks) {
    if (cols > bl.nr)
      cols = round_up(cols / 2, bl.nr);
    else if (rows > bl.mr)
      rows = round_up(rows / 2, bl.mr);
    else
      break;
  }
  return {rows, cols, (m + rows - 1) / rows, (n + cols - 1) / cols};
}

// C = alpha * op(A) op(B) + beta * C through packed panels and the micro-kernel.
// The loops, outermost first (BLIS numbering; loop 3 is folded into the tasks):
//   5 (jc)  NC-wide column panels of C and op(B)
//     (ig)  up to kRowBlocksPerStep * MC rows of C and op(A)
//   4 (pc)  the k-blocks, ascending; the first applies beta, the rest add (beta = 1)
//           -> pack this k-block of op(B) and op(A): tasks, shared by all threads
//           -> compute: tasks, each a rectangle of C, each running
//   3         its MC-or-fewer rows (one block of packed A, kept in L2)
//   2         its NR-wide micro-panels of packed B (one at a time in L1)
//   1         its MR-tall micro-panels of packed A: one micro-kernel call each
// Each element of C gets its k-blocks in order, each from one task, so neither
// the task cut nor the thread that runs a task can change a result.
template <class T>
void run_packed(const KernelSet<T>& ks, Trans trans_a, Trans trans_b, std::size_t m,
                std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
                std::size_t ldb, T beta, T* C, std::size_t ldc, ThreadPool* pool) {
  const Blocking& bl = ks.blocking;
  const std::size_t mg_max = min(m, kRowBlocksPerStep * bl.mc);
  const std::size_t nc_max = min(n, bl.nc);
  // The calling thread's buffers, read by every task (packing is shared).
  ThreadScratch<T>& scratch = thread_scratch<T>();
  T* a_packed = scratch.a.get(round_up(mg_max, bl.mr) * min(KC<T>, k));
  T* b_packed = scratch.b.get(round_up(nc_max, bl.nr) * min(KC<T>, k));

  for (std::size_t jc = 0; jc < n; jc += bl.nc) {                 // loop 5
    const std::size_t nc = min(bl.nc, n - jc);
    for (std::size_t ig = 0; ig < m; ig += mg_max) {
      const std::size_t mg = min(mg_max, m - ig);
      const TaskGrid grid = task_grid(mg, nc, bl);
      const std::size_t b_rows = kPackPanelsB * bl.nr, a_rows = kPackPanelsA * bl.mr;
      const std::size_t b_tasks = (nc + b_rows - 1) / b_rows;
      const std::size_t a_tasks = (mg + a_rows - 1) / a_rows;

      for (std::size_t pc = 0; pc < k; pc += KC<T>) {               // loop 4
        const std::size_t kc = min(KC<T>, k - pc);
        const T block_beta = pc == 0 ? beta : T(1);

        run_tasks(pool, b_tasks + a_tasks, [&](std::size_t t) {
          if (t < b_tasks) {
            const std::size_t j = t * b_rows;
            ks.pack_b(trans_b, kc, min(b_rows, nc - j), at(trans_b, B, ldb, pc, jc + j), ldb,
                      b_packed + j * kc);
          } else {
            const std::size_t i = (t - b_tasks) * a_rows;
            ks.pack_a(trans_a, min(a_rows, mg - i), kc, at(trans_a, A, lda, ig + i, pc), lda,
                      a_packed + i * kc);
          }
        });

        run_tasks(pool, grid.n_rows * grid.n_cols, [&](std::size_t t) {
          const std::size_t i0 = t / grid.n_cols * grid.rows;       // loop 3
          const std::size_t j0 = t % grid.n_cols * grid.cols;
          const std::size_t i1 = min(mg, i0 + grid.rows), j1 = min(nc, j0 + grid.cols);
          for (std::size_t jr = j0; jr < j1; jr += bl.nr) {         // loop 2
            const std::size_t n_r = min(bl.nr, j1 - jr);
            for (std::size_t ir = i0; ir < i1; ir += bl.mr) {       // loop 1
              ks.micro(kc, a_packed + ir * kc, b_packed + jr * kc, alpha, block_beta,
                       C + (ig + ir) * ldc + jc + jr, ldc, min(bl.mr, i1 - ir), n_r);
            }
          }
        });
      }
    }
  }
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
  } else {
    const bool parallel = pool != nullptr && pool->size() > 1 &&
                          (requested == Path::Packed || m * n * k >= kParallelWork);
    run_packed(ks, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc,
               parallel ? pool : nullptr);
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
