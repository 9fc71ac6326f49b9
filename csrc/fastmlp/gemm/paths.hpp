// What the GEMM's files share: the kernel set of an instruction set, each
// thread's scratch, argument checks, the choice of path, the two paths' entry
// points (tiny.cpp, packed.cpp) and loops 2 and 1 over packed panels, which the
// packed path and products with a PackedB both run.
//
// Internal to gemm/: included by its .cpp files (never by a kernel_*.cpp,
// which compiles with instruction-set flags, nor by anything outside gemm/).
#pragma once

#include <cstddef>
#include <new>
#include <stdexcept>
#include <string>

#include <fastmlp/gemm.hpp>
#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/gemm/dispatch.hpp>
#include <fastmlp/gemm/kernel.hpp>
#include <fastmlp/gemm/pack.hpp>
#include <fastmlp/isa.hpp>

namespace fastmlp::gemm_detail {

// --- small helpers ----------------------------------------------------------------

inline std::size_t min(std::size_t a, std::size_t b) { return a < b ? a : b; }

// m * n * k, saturating: only compared with thresholds.
inline std::size_t work_of(std::size_t m, std::size_t n, std::size_t k) {
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

// --- argument checks --------------------------------------------------------------

// A stored rows x cols matrix needs ld >= cols (when it holds anything).
inline void check_ld(const char* name, std::size_t ld, std::size_t rows, std::size_t cols) {
  if (rows > 0 && cols > 0 && ld < cols)
    throw std::invalid_argument(std::string("gemm: ") + name + " = " + std::to_string(ld) +
                                " is less than the row length " + std::to_string(cols));
}

inline void check_isa(Isa isa) {
  if (!isa_supported(isa))
    throw std::invalid_argument(std::string("gemm: kernel ") + isa_name(isa) +
                                " is not supported on this CPU or build");
}

// --- scratch ----------------------------------------------------------------------

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
  Scratch<T> strip;  // one strip of op(B), when one thread runs every task (packed.cpp)
};

// One per thread and type, shared by every file of gemm/ (a template, so not
// one per file), which is what lets gemm_reserve size it for the paths.
template <class T>
ThreadScratch<T>& thread_scratch() {
  thread_local ThreadScratch<T> scratch;
  return scratch;
}

// --- kernel sets ------------------------------------------------------------------

// Everything the loops need to know about one instruction set's kernels for
// one type: its blocking, micro-kernels, tiny routine and packers.
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
KernelSet<T> kernel_set(Isa isa) {
  switch (isa) {
#if defined(FASTMLP_X86)
    case Isa::Avx512:
      return make_set<T, kAvx512Blocking<T>>(micro_avx512, micro_in_place_avx512, tiny_avx512);
    case Isa::Avx2:
      return make_set<T, kAvx2Blocking<T>>(micro_avx2, micro_in_place_avx2, tiny_avx2);
#endif
    default:
      return make_set<T, kRefBlocking<T>>(micro_ref, micro_in_place_ref, tiny_ref);
  }
}

// --- the paths (tiny.cpp, packed.cpp) ------------------------------------------------

// The path Path::Auto takes for a product of this shape on several threads
// (`threaded`) or on the caller's alone (dispatch.cpp's size thresholds).
Path auto_path(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
               bool threaded);

// C = alpha * op(A) op(B) + beta * C without packing (tiny.cpp); k == 0 scales
// C by beta. With a pool, rectangles of C become tasks.
template <class T>
void run_tiny(const KernelSet<T>& ks, Trans trans_a, Trans trans_b, std::size_t m,
              std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
              std::size_t ldb, T beta, T* C, std::size_t ldc, ThreadPool* pool);

// The same through packed panels and the five loops (packed.cpp), k > 0.
template <class T>
void run_packed(const KernelSet<T>& ks, Trans trans_a, Trans trans_b, std::size_t m,
                std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
                std::size_t ldb, T beta, T* C, std::size_t ldc, ThreadPool* pool);

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

// The NR-wide panels of op(B) in a compute task's strip when a thread runs
// every task (kStripBytes of a k-block, at least one panel), and the values
// that strip takes (a pool's tasks pack theirs into the step's panel buffer).
template <class T>
std::size_t strip_panels(const Blocking& bl) {
  const std::size_t panels = kStripBytes / (KC<T> * bl.nr * sizeof(T));
  return panels > 0 ? panels : 1;
}

template <class T>
std::size_t strip_size(const Blocking& bl) {
  return KC<T> * strip_panels<T>(bl) * bl.nr;
}

// --- loops 2 and 1 over packed panels -------------------------------------------------

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
               const Epilogue<T>* ep = nullptr) {
  const Blocking& bl = ks.blocking;
  for (std::size_t ir = i0; ir < i1; ir += bl.mr) {      // loop 2
    const std::size_t rows = min(bl.mr, i1 - ir);
    const PanelA<T> a = panel_a(ir, rows);
    for (std::size_t jr = j0; jr < j1; jr += bl.nr) {    // loop 1
      T* const c = C + ir * ldc + jr;
      const std::size_t cols = min(bl.nr, j1 - jr);
      Epilogue<T> tile_ep;
      if (ep != nullptr) {
        tile_ep = *ep;
        if (ep->bias != nullptr) tile_ep.bias = ep->bias + jr;
      }
      const Epilogue<T>* const e = ep != nullptr ? &tile_ep : nullptr;
      if (a.lda != 0)
        ks.micro_in_place(kc, a.data, a.lda, b_packed + jr * kc, alpha, beta, c, ldc, cols, e);
      else
        ks.micro(kc, a.data, b_packed + jr * kc, alpha, beta, c, ldc, rows, cols, e);
    }
  }
}

}  // namespace fastmlp::gemm_detail
