// gemm(): picks a kernel once, picks a path by size, and runs the blocked loops;
// and PackedB, a right operand packed once for many products on any threads.
//
// Kernel choice: the best one the CPU and OS support (AVX-512F, else AVX2+FMA,
// else the portable one), unless FASTMLP_GEMM_KERNEL=ref|avx2|avx512 is set at
// the first call. A value that is unknown, or names a kernel this machine cannot
// run, makes gemm throw std::runtime_error: a forced path that quietly ran
// another kernel would make the tests that force it meaningless.
// Not here: the arithmetic (kernel_*.cpp) and the packing layout (pack.hpp).
#include <fastmlp/gemm/dispatch.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <stdexcept>
#include <string>

#include <fastmlp/gemm.hpp>
#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/gemm/kernel.hpp>
#include <fastmlp/gemm/pack.hpp>
#include <fastmlp/matrix.hpp>
#include <fastmlp/threads.hpp>

// cpuid and xgetbv: GCC-style (GCC, Clang, clang-cl) or MSVC's intrinsics.
#if defined(FASTMLP_GEMM_X86) && (defined(__GNUC__) || defined(__clang__))
#define FASTMLP_CPUID_GNU 1
#include <cpuid.h>
#elif defined(FASTMLP_GEMM_X86) && defined(_MSC_VER)
#define FASTMLP_CPUID_MSVC 1
#include <immintrin.h>
#include <intrin.h>
#endif

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

// How the tiny path is cut into tasks for the pool: blocks of rows, then
// column strips if that leaves too few. Multiples of every kernel's strips.
constexpr std::size_t kTinyTaskRows = 64;
constexpr std::size_t kTinyTaskCols = 64;

// How the packed path cuts one step into tasks (see run_packed). Both cuts
// depend on the shape and the kernel only, never on the thread count.
constexpr std::size_t kRowBlocksPerStep = 4;  // MC-row blocks of A packed at once
constexpr std::size_t kPackTaskValues = 16 * 1024;  // values per packing task, about
constexpr std::size_t kTaskPanelsB = 4;       // NR-panels of C per compute task, at most
constexpr std::size_t kMinTasks = 8;          // narrower tasks until there are this many

// --- small helpers ----------------------------------------------------------------

std::size_t min(std::size_t a, std::size_t b) { return a < b ? a : b; }

// m * n * k, saturating: only compared with thresholds.
std::size_t work_of(std::size_t m, std::size_t n, std::size_t k) {
  const std::size_t most = static_cast<std::size_t>(-1);
  if (n != 0 && m > most / n) return most;
  const std::size_t mn = m * n;
  if (k != 0 && mn > most / k) return most;
  return mn * k;
}

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

// The scratch of the thread that calls gemm; the pool's threads read it (they
// pack into it and compute from it) only while that call waits for them.
template <class T>
struct ThreadScratch {
  Scratch<T> a;      // packed blocks of op(A), or the tiny path's copy of op(B)
  Scratch<T> b;      // packed panels of op(B)
  Scratch<T> panel;  // one micro-panel of op(A), for products with a PackedB
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
  MicroKernelInPlace<T> micro_in_place;
  TinyGemm<T> tiny;
  Packer<T> pack_a;
  Packer<T> pack_b;
};

template <class T, const Blocking& B>
KernelSet<T> make_set(MicroKernel<T> micro, MicroKernelInPlace<T> micro_in_place,
                      TinyGemm<T> tiny) {
  return {B, micro, micro_in_place, tiny, &gemm_detail::pack_a<T, B.mr>,
          &gemm_detail::pack_b<T, B.nr>};
}

template <class T>
KernelSet<T> kernel_set(Kernel kernel) {
  switch (kernel) {
#if defined(FASTMLP_GEMM_X86)
    case Kernel::Avx512:
      return make_set<T, kAvx512Blocking<T>>(micro_avx512, micro_in_place_avx512, tiny_avx512);
    case Kernel::Avx2:
      return make_set<T, kAvx2Blocking<T>>(micro_avx2, micro_in_place_avx2, tiny_avx2);
#endif
    default:
      return make_set<T, kRefBlocking<T>>(micro_ref, micro_in_place_ref, tiny_ref);
  }
}

// --- CPU features -----------------------------------------------------------------

// Read from cpuid and xgetbv directly, not through __builtin_cpu_supports:
// that needs a runtime symbol (__cpu_model) which Apple's toolchain lacks, and
// MSVC has no such builtin. A kernel counts only when the CPU has its
// instructions and the OS saves its registers (XCR0).
struct CpuFeatures {
  bool avx2_fma = false;
  bool avx512f = false;
};

#if defined(FASTMLP_CPUID_GNU) || defined(FASTMLP_CPUID_MSVC)

// Registers eax, ebx, ecx, edx of cpuid(leaf, subleaf).
struct CpuidRegs {
  std::uint32_t a, b, c, d;
};

CpuidRegs cpuid(std::uint32_t leaf, std::uint32_t subleaf) noexcept {
#if defined(FASTMLP_CPUID_MSVC)
  int r[4];
  __cpuidex(r, static_cast<int>(leaf), static_cast<int>(subleaf));
  return {static_cast<std::uint32_t>(r[0]), static_cast<std::uint32_t>(r[1]),
          static_cast<std::uint32_t>(r[2]), static_cast<std::uint32_t>(r[3])};
#else
  CpuidRegs r;
  __cpuid_count(leaf, subleaf, r.a, r.b, r.c, r.d);
  return r;
#endif
}

// XCR0: which register states the OS saves on a context switch.
std::uint64_t xcr0() noexcept {
#if defined(FASTMLP_CPUID_MSVC)
  return _xgetbv(0);
#else
  std::uint32_t lo, hi;
  __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
#endif
}
#endif

const CpuFeatures& cpu_features() noexcept {
  static const CpuFeatures features = [] {
    CpuFeatures f;
#if defined(FASTMLP_CPUID_GNU) || defined(FASTMLP_CPUID_MSVC)
    const std::uint32_t max_leaf = cpuid(0, 0).a;
    if (max_leaf < 7) return f;
    const CpuidRegs l1 = cpuid(1, 0), l7 = cpuid(7, 0);
    const bool osxsave = (l1.c >> 27) & 1, avx = (l1.c >> 28) & 1, fma = (l1.c >> 12) & 1;
    if (!osxsave || !avx) return f;
    const std::uint64_t xcr = xcr0();
    const bool ymm_saved = (xcr & 0x6) == 0x6;      // SSE and AVX state
    const bool zmm_saved = (xcr & 0xe6) == 0xe6;    // and opmask, ZMM0-15 upper, ZMM16-31
    f.avx2_fma = ymm_saved && fma && ((l7.b >> 5) & 1);
    f.avx512f = f.avx2_fma && zmm_saved && ((l7.b >> 16) & 1);
#endif
    return f;
  }();
  return features;
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


// No packing: the kernel's tiny routine reads A and B in place, unless B
// arrives transposed, when op(B) is copied first (the path takes that case only
// for small products). With a pool, rectangles of C become tasks.
template <class T>
void run_tiny(const KernelSet<T>& ks, Trans trans_a, Trans trans_b, std::size_t m,
              std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
              std::size_t ldb, T beta, T* C, std::size_t ldc, ThreadPool* pool) {
  if (trans_b == Trans::Yes && k > 0) {
    T* copy = thread_scratch<T>().a.get(k * n);
    for (std::size_t p = 0; p < k; ++p)
      for (std::size_t j = 0; j < n; ++j) copy[p * n + j] = B[j * ldb + p];
    B = copy;
    ldb = n;
  }
  const std::size_t a_rs = trans_a == Trans::No ? lda : 1;
  const std::size_t a_cs = trans_a == Trans::No ? 1 : lda;
  if (pool == nullptr) {
    ks.tiny(m, n, k, alpha, A, a_rs, a_cs, B, ldb, beta, C, ldc);
    return;
  }
  const std::size_t row_tasks = (m + kTinyTaskRows - 1) / kTinyTaskRows;
  const std::size_t cols = row_tasks >= kMinTasks ? n : kTinyTaskCols;
  const std::size_t col_tasks = (n + cols - 1) / cols;
  run_tasks(pool, row_tasks * col_tasks, [&](std::size_t t) {
    const std::size_t i = t / col_tasks * kTinyTaskRows, j = t % col_tasks * cols;
    ks.tiny(min(kTinyTaskRows, m - i), min(cols, n - j), k, alpha, A + i * a_rs, a_rs, a_cs,
            B + j, ldb, beta, C + i * ldc + j, ldc);
  });
}

// --- the packed path: five loops --------------------------------------------------

// The values of one packed block of op(A) and one packed panel of op(B): the
// packed path takes two of each from the calling thread's scratch.
struct PackedSizes {
  std::size_t a, b;
};

template <class T>
PackedSizes packed_sizes(const Blocking& bl, std::size_t m, std::size_t n, std::size_t k) {
  return {round_up(min(m, kRowBlocksPerStep * bl.mc), bl.mr) * min(KC<T>, k),
          round_up(min(n, bl.nc), bl.nr) * min(KC<T>, k)};
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
    if (rows > bl.mr)
      rows = round_up(rows / 2, bl.mr);
    else if (cols > bl.nr)
      cols = round_up(cols / 2, bl.nr);
    else
      break;
  }
  return {rows, cols, (m + rows - 1) / rows, (n + cols - 1) / cols};
}

// Where loop 2 finds one MR-row micro-panel of op(A): packed (lda == 0), or
// in place, row r at data + r * lda (full panels of a row-major op(A) only).
template <class T>
struct PanelA {
  const T* data;
  std::size_t lda;
};

// Loops 2 and 1 of one k-block (kc steps) over rows [i0, i1) and columns
// [j0, j1) of C: panel_a(ir, rows) gives the micro-panel of op(A) at row ir
// (`rows` of them real), b_packed the block's NR-wide panels of op(B), and C
// points at the block's element (0, 0). `ep` (the last k-block's, or null)
// finishes each tile, its bias taken from column j of C at ep->bias[j]. Every
// product through packed panels goes through here.
template <class T, class PanelOfA>
void run_tiles(const KernelSet<T>& ks, std::size_t kc, const PanelOfA& panel_a,
               const T* b_packed, T alpha, T beta, T* C, std::size_t ldc, std::size_t i0,
               std::size_t i1, std::size_t j0, std::size_t j1,
               const TileEpilogue<T>* ep = nullptr) {
  const Blocking& bl = ks.blocking;
  for (std::size_t ir = i0; ir < i1; ir += bl.mr) {      // loop 2
    const std::size_t rows = min(bl.mr, i1 - ir);
    const PanelA<T> a = panel_a(ir, rows);
    for (std::size_t jr = j0; jr < j1; jr += bl.nr) {    // loop 1
      T* const c = C + ir * ldc + jr;
      const std::size_t cols = min(bl.nr, j1 - jr);
      TileEpilogue<T> tile_ep{};
      if (ep != nullptr) {
        tile_ep = *ep;
        if (ep->bias != nullptr) tile_ep.bias = ep->bias + jr;
      }
      const TileEpilogue<T>* const e = ep != nullptr ? &tile_ep : nullptr;
      if (a.lda != 0)
        ks.micro_in_place(kc, a.data, a.lda, b_packed + jr * kc, alpha, beta, c, ldc, cols, e);
      else
        ks.micro(kc, a.data, b_packed + jr * kc, alpha, beta, c, ldc, rows, cols, e);
    }
  }
}

// C = alpha * op(A) op(B) + beta * C through packed panels and the micro-kernel.
// The loops, outermost first (numbered as in BLIS):
//   5 (jc)  NC-wide column panels of C and op(B)
//     (ig)  up to kRowBlocksPerStep * MC rows of C and op(A)
//   4 (pc)  the k-blocks, ascending; the first applies beta, the rest add (beta = 1)
//           A "step" is one (jc, ig, pc). Its blocks of op(A) and op(B) are
//           packed once, by tasks, into buffers every thread reads; then its
//           C is cut into compute tasks (rectangles), each running
//   3         over its rows: at most MC, one block of packed A (in L2)
//   2           over its MR-tall micro-panels of packed A (one at a time in L1)
//   1             over its NR-wide micro-panels of packed B (streamed from L2):
//                 one micro-kernel call each
// Loops 2 and 1 are swapped from BLIS's order (which keeps the B micro-panel in
// L1 and streams A): with KC = 256 the B micro-panel takes 32 KiB of the 48
// KiB L1, and keeping the smaller A micro-panel there measured ~5% faster.
//
// Loops 5, ig and 4 are walked as a flat sequence of steps so that step s + 1
// can be packed (into a second pair of buffers) in the same hand-off to the
// pool that computes step s: one hand-off per step, and the packing tasks fill
// the gaps at its end. Each element of C gets its k-blocks in order, each from
// one task, so neither the task cut nor the thread running a task changes a bit.
template <class T>
void run_packed(const KernelSet<T>& ks, Trans trans_a, Trans trans_b, std::size_t m,
                std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
                std::size_t ldb, T beta, T* C, std::size_t ldc, ThreadPool* pool) {
  const Blocking& bl = ks.blocking;
  const std::size_t mg_max = min(m, kRowBlocksPerStep * bl.mc);
  const std::size_t n_pc = (k + KC<T> - 1) / KC<T>;
  const std::size_t n_ig = (m + mg_max - 1) / mg_max;
  const std::size_t n_steps = (n + bl.nc - 1) / bl.nc * n_ig * n_pc;

  // Two buffer pairs in the calling thread's scratch: step s is computed from
  // pair s % 2 while step s + 1 is packed into the other.
  const PackedSizes sizes = packed_sizes<T>(bl, m, n, k);
  const std::size_t a_size = sizes.a, b_size = sizes.b;
  ThreadScratch<T>& scratch = thread_scratch<T>();
  T* const a_buffers = scratch.a.get(2 * a_size);
  T* const b_buffers = scratch.b.get(2 * b_size);

  struct Step {
    std::size_t jc, nc, ig, mg, pc, kc;
    T* a_packed;
    T* b_packed;
    std::size_t a_parts, b_parts;  // packing tasks
    TaskGrid grid;                 // compute tasks
  };
  auto parts = [](std::size_t values) {
    return (values + kPackTaskValues - 1) / kPackTaskValues;
  };
  auto step = [&](std::size_t s) {
    Step st;
    st.pc = s % n_pc * KC<T>;            // loop 4
    st.ig = s / n_pc % n_ig * mg_max;
    st.jc = s / (n_pc * n_ig) * bl.nc;   // loop 5
    st.kc = min(KC<T>, k - st.pc);
    st.mg = min(mg_max, m - st.ig);
    st.nc = min(bl.nc, n - st.jc);
    st.a_packed = a_buffers + s % 2 * a_size;
    st.b_packed = b_buffers + s % 2 * b_size;
    st.a_parts = parts(st.mg * st.kc);
    st.b_parts = parts(st.nc * st.kc);
    st.grid = task_grid(st.mg, st.nc, bl);
    return st;
  };

  // Packing task t of a step: one part of its block of op(B), or of op(A).
  auto pack = [&](const Step& st, std::size_t t) {
    if (t < st.b_parts)
      ks.pack_b(trans_b, st.kc, st.nc, at(trans_b, B, ldb, st.pc, st.jc), ldb, st.b_packed, t,
                st.b_parts);
    else
      ks.pack_a(trans_a, st.mg, st.kc, at(trans_a, A, lda, st.ig, st.pc), lda, st.a_packed,
                t - st.b_parts, st.a_parts);
  };

  // Compute task t of a step: loops 3, 2 and 1 over one rectangle of its C.
  auto compute = [&](const Step& st, std::size_t t) {
    const TaskGrid& g = st.grid;
    const std::size_t i0 = t / g.n_cols * g.rows, i1 = min(st.mg, i0 + g.rows);  // loop 3
    const std::size_t j0 = t % g.n_cols * g.cols, j1 = min(st.nc, j0 + g.cols);
    const auto packed_a = [&](std::size_t ir, std::size_t) {
      return PanelA<T>{st.a_packed + ir * st.kc, 0};
    };
    run_tiles(ks, st.kc, packed_a, st.b_packed, alpha, st.pc == 0 ? beta : T(1),
              C + st.ig * ldc + st.jc, ldc, i0, i1, j0, j1);
  };

  Step current = step(0);
  run_tasks(pool, current.b_parts + current.a_parts,
            [&](std::size_t t) { pack(current, t); });
  for (std::size_t s = 0; s < n_steps; ++s) {
    const bool last = s + 1 == n_steps;
    const Step next = last ? current : step(s + 1);
    const std::size_t n_compute = current.grid.n_rows * current.grid.n_cols;
    const std::size_t n_pack = last ? 0 : next.b_parts + next.a_parts;
    run_tasks(pool, n_compute + n_pack, [&](std::size_t t) {
      if (t < n_compute)
        compute(current, t);
      else
        pack(next, t - n_compute);
    });
    current = next;
  }
}

// --- argument checks and the choice of path --------------------------------------

// A stored rows x cols matrix needs ld >= cols (when it holds anything).
void check_ld(const char* name, std::size_t ld, std::size_t rows, std::size_t cols) {
  if (rows > 0 && cols > 0 && ld < cols)
    throw std::invalid_argument(std::string("gemm: ") + name + " = " + std::to_string(ld) +
                                " is less than the row length " + std::to_string(cols));
}

void check_kernel(Kernel kernel) {
  if (!kernel_supported(kernel))
    throw std::invalid_argument(std::string("gemm: kernel ") + kernel_name(kernel) +
                                " is not supported on this CPU or build");
}

// The path Auto takes for a product of this shape on several threads
// (`threaded`) or on the caller's alone: see the size thresholds.
Path auto_path(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
               bool threaded) {
  const std::size_t work = work_of(m, n, k);
  const bool operands_suit =
      trans_b == Trans::No && (trans_a == Trans::No || work_of(m, k, 1) <= kTinyTransposedA);
  const bool narrow = m <= kTinyRows || n <= kTinyCols ||
                      (threaded && m <= kTinyRowsThreaded && n <= kTinyColsThreaded);
  return work <= kTinyWork || (operands_suit && narrow) ? Path::Tiny : Path::Packed;
}

}  // namespace

// --- products with a PackedB ------------------------------------------------------
//
// The panels: k-block b (its kc = min(KC, k - b * KC) steps) starts at
// b * KC * round_up(n, NR) and holds the block's NR-wide panels of op(B) as
// pack_b lays them out, so block b's panels are those run_packed would pack
// for its step (jc = 0, pc = b * KC) with NC >= n.

// The kernels' form of an Epilogue.
template <class T>
TileEpilogue<T> tile_epilogue(const Epilogue<T>& e) {
  using Act = typename Epilogue<T>::Act;
  const auto act = e.act == Act::Relu        ? TileEpilogue<T>::kRelu
                   : e.act == Act::LeakyRelu ? TileEpilogue<T>::kLeakyRelu
                                             : TileEpilogue<T>::kIdentity;
  return {e.bias, act, e.slope, e.nonfinite};
}

// The epilogue over C in memory, for products that did not go through the
// micro-kernels: the operations of store_finished (kernel_impl.hpp), element
// by element.
template <class T>
void finish_in_memory(const TileEpilogue<T>& ep, std::size_t m, std::size_t n, T* C,
                      std::size_t ldc) {
  for (std::size_t i = 0; i < m; ++i) {
    T* const c = C + i * ldc;
    for (std::size_t j = 0; j < n; ++j) {
      T z = c[j];
      if (ep.bias != nullptr) z = z + ep.bias[j];
      if (ep.nonfinite != nullptr && z * T(0) != T(0)) *ep.nonfinite = true;
      if (ep.act == TileEpilogue<T>::kRelu) z = z > T(0) ? z : T(0);
      else if (ep.act == TileEpilogue<T>::kLeakyRelu) z = z > T(0) ? z : ep.slope * z;
      c[j] = z;
    }
  }
}

template <class T>
struct PackedAccess {
  static void pack(PackedB<T>& p, Kernel kernel, Path path, Trans trans_b, std::size_t k,
                   std::size_t n, const T* B, std::size_t ldb, std::size_t rows,
                   ThreadPool* pool) {
    check_kernel(kernel);
    check_ld("ldb", ldb, trans_b == Trans::No ? k : n, trans_b == Trans::No ? n : k);
    p.trans_ = trans_b;
    p.k_ = k;
    p.n_ = n;
    p.b_ = B;
    p.ldb_ = ldb;
    p.kernel_ = static_cast<int>(kernel);
    p.packed_ = false;
    if (path == Path::Auto)
      path = rows == 0 ? Path::Tiny : auto_path(Trans::No, trans_b, rows, n, k, false);
    if (path == Path::Tiny || n == 0 || k == 0) return;

    const KernelSet<T> ks = kernel_set<T>(kernel);
    const std::size_t width = round_up(n, ks.blocking.nr);
    const std::size_t size = checked_mul(width, k, "gemm: packed B");
    if (p.panels_.size() < size) p.panels_ = AlignedBuffer<T>(size);
    // Tasks: parts of each k-block, about kPackTaskValues values each.
    const std::size_t blocks = ceil_div(k, KC<T>);
    const std::size_t parts = ceil_div(min(KC<T>, k) * n, kPackTaskValues);
    T* const panels = p.panels_.data();
    run_tasks(pool, blocks * parts, [&](std::size_t t) {
      const std::size_t pc = t / parts * KC<T>;
      ks.pack_b(trans_b, min(KC<T>, k - pc), n, at(trans_b, B, ldb, pc, 0), ldb,
                panels + pc * width, t % parts, parts);
    });
    p.packed_ = true;
  }

  // Loops 2, 4 and 1 over the packed panels, on the calling thread: one
  // MR-row micro-panel of op(A) at a time goes through every k-block, so its
  // rows of C stay in cache from one k-block to the next (measured ~1.5%
  // faster than k-blocks outermost on prediction's blocks of rows). A
  // micro-panel is read in place when it can be (full, not transposed), else
  // packed on its own into this thread's panel scratch.
  static void multiply(Trans trans_a, std::size_t m, T alpha, const T* A, std::size_t lda,
                       const PackedB<T>& p, T beta, T* C, std::size_t ldc,
                       const Epilogue<T>& epilogue) {
    const std::size_t n = p.n_, k = p.k_;
    const Kernel kernel = static_cast<Kernel>(p.kernel_);
    const TileEpilogue<T> ep = tile_epilogue(epilogue);
    const bool finish = epilogue.bias != nullptr || epilogue.act != Epilogue<T>::Act::Identity ||
                        epilogue.nonfinite != nullptr;
    if (!p.packed_ || k == 0) {
      gemm_with(kernel, Path::Auto, trans_a, p.trans_, m, n, k, alpha, A, lda, p.b_, p.ldb_,
                beta, C, ldc, nullptr);
      if (finish) finish_in_memory(ep, m, n, C, ldc);
      return;
    }
    check_ld("lda", lda, trans_a == Trans::No ? m : k, trans_a == Trans::No ? k : m);
    check_ld("ldc", ldc, m, n);
    const KernelSet<T> ks = kernel_set<T>(kernel);
    const Blocking& bl = ks.blocking;
    const std::size_t width = round_up(n, bl.nr);
    T* const panel = thread_scratch<T>().panel.get(bl.mr * min(KC<T>, k));
    for (std::size_t ir = 0; ir < m; ir += bl.mr) {     // loop 2
      const std::size_t rows = min(bl.mr, m - ir);
      for (std::size_t pc = 0; pc < k; pc += KC<T>) {  // loop 4
        const std::size_t kc = min(KC<T>, k - pc);
        const auto panel_a = [&](std::size_t i, std::size_t) {
          if (trans_a == Trans::No && rows == bl.mr) return PanelA<T>{A + i * lda + pc, lda};
          ks.pack_a(trans_a, rows, kc, at(trans_a, A, lda, i, pc), lda, panel, 0, 1);
          return PanelA<T>{panel, 0};
        };
        run_tiles(ks, kc, panel_a, p.panels_.data() + pc * width, alpha,
                  pc == 0 ? beta : T(1), C, ldc, ir, ir + rows, 0, n,  // loop 1
                  finish && pc + kc == k ? &ep : nullptr);
      }
    }
  }
};

template <class T>
void pack_with(Kernel kernel, Path path, PackedB<T>& packed, Trans trans_b, std::size_t k,
               std::size_t n, const T* B, std::size_t ldb, std::size_t rows, ThreadPool* pool) {
  PackedAccess<T>::pack(packed, kernel, path, trans_b, k, n, B, ldb, rows, pool);
}

template void pack_with<float>(Kernel, Path, PackedB<float>&, Trans, std::size_t, std::size_t,
                               const float*, std::size_t, std::size_t, ThreadPool*);
template void pack_with<double>(Kernel, Path, PackedB<double>&, Trans, std::size_t,
                                std::size_t, const double*, std::size_t, std::size_t,
                                ThreadPool*);

// --- kernel selection -------------------------------------------------------------

bool kernel_supported(Kernel kernel) noexcept {
  switch (kernel) {
    case Kernel::Ref: return true;
    case Kernel::Avx2: return cpu_features().avx2_fma;
    case Kernel::Avx512: return cpu_features().avx512f;
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
  check_kernel(kernel);
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
  const KernelSet<T> ks = kernel_set<T>(kernel);
  // k == 0 still scales C by beta; only the tiny path's block loop does that.
  if (path == Path::Tiny || k == 0)
    run_tiny(ks, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, threads);
  else
    run_packed(ks, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, threads);
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

template <class T>
void PackedB<T>::pack(Trans trans_b, std::size_t k, std::size_t n, const T* B, std::size_t ldb,
                      std::size_t rows, ThreadPool* pool) {
  using namespace gemm_detail;
  PackedAccess<T>::pack(*this, active_kernel(), Path::Auto, trans_b, k, n, B, ldb, rows, pool);
}

template <class T>
void gemm(Trans trans_a, std::size_t m, T alpha, const T* A, std::size_t lda,
          const PackedB<T>& B, T beta, T* C, std::size_t ldc, const Epilogue<T>& epilogue) {
  gemm_detail::PackedAccess<T>::multiply(trans_a, m, alpha, A, lda, B, beta, C, ldc, epilogue);
}

template class PackedB<float>;
template class PackedB<double>;
template void gemm<float>(Trans, std::size_t, float, const float*, std::size_t,
                          const PackedB<float>&, float, float*, std::size_t,
                          const Epilogue<float>&);
template void gemm<double>(Trans, std::size_t, double, const double*, std::size_t,
                           const PackedB<double>&, double, double*, std::size_t,
                           const Epilogue<double>&);

template <class T>
void gemm_reserve(Trans trans_b, std::size_t m, std::size_t n, std::size_t k) {
  using namespace gemm_detail;
  // Packing A takes the same room either way, so only B's transpose matters.
  const PackedSizes packed = packed_sizes<T>(kernel_set<T>(active_kernel()).blocking, m, n, k);
  // The tiny path copies a transposed op(B) (k x n) into `a`, for products of up
  // to kTinyWork multiply-adds only.
  const std::size_t tiny = trans_b == Trans::Yes ? min(work_of(1, n, k), kTinyWork) : 0;
  ThreadScratch<T>& scratch = thread_scratch<T>();
  scratch.a.get(2 * packed.a > tiny ? 2 * packed.a : tiny);
  scratch.b.get(2 * packed.b);
}

template void gemm_reserve<float>(Trans, std::size_t, std::size_t, std::size_t);
template void gemm_reserve<double>(Trans, std::size_t, std::size_t, std::size_t);

const char* gemm_kernel_name() { return gemm_detail::kernel_name(gemm_detail::active_kernel()); }

}  // namespace fastmlp
