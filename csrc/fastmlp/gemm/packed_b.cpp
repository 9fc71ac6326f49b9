// PackedB: a right operand packed once, its products on any thread (loops 2, 4
// and 1 over the shared panels, with the epilogue of a dense layer), and the
// blocks of rows those products prefer.
//
// Not here: the packed path of a single product (packed.cpp), the tiny path
// (tiny.cpp), or the packing layout itself (pack.hpp).
#include <fastmlp/activations.hpp>
#include <fastmlp/gemm/paths.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp::gemm_detail {
namespace {

// The activations the micro-kernels apply in registers (kernel_impl.hpp's
// store_finished); any other is a pass over C after the product.
bool in_registers(Activation f) {
  return f == Activation::Identity || f == Activation::Relu || f == Activation::LeakyRelu;
}

// The epilogue over C in memory, for products that did not go through the
// micro-kernels: the operations of store_finished, as passes over C the
// compiler vectorises (the bias add and the activation sweep of
// activations.hpp, whose relu and leaky relu are the kernels' bit for bit).
template <class T>
void finish_in_memory(const Epilogue<T>& ep, std::size_t m, std::size_t n, T* C,
                      std::size_t ldc) {
  if (n == 0) return;
  const MatrixView<T> c(C, m, n, ldc);
  if (ep.bias != nullptr) bias_activation_forward<T>(Activation::Identity, c, ep.bias);
  if (ep.nonfinite != nullptr)
    for (std::size_t i = 0; i < m && !*ep.nonfinite; ++i)
      for (std::size_t j = 0; j < n; ++j)
        if (c(i, j) * T(0) != T(0)) *ep.nonfinite = true;
  bias_activation_forward<T>(ep.act, c, nullptr);
}

}  // namespace

// --- products with a PackedB ------------------------------------------------------
//
// The panels: k-block b (its kc = min(KC, k - b * KC) steps) starts at
// b * KC * round_up(n, NR) and holds the block's NR-wide panels of op(B) as
// pack_b lays them out, so block b's panels are those run_packed would pack
// for its step (jc = 0, pc = b * KC) with NC >= n.

template <class T>
struct PackedAccess {
  static void pack(PackedB<T>& p, Isa isa, Path path, Trans trans_b, std::size_t k,
                   std::size_t n, const T* B, std::size_t ldb, std::size_t rows,
                   ThreadPool* pool) {
    check_isa(isa);
    check_ld("ldb", ldb, trans_b == Trans::No ? k : n, trans_b == Trans::No ? n : k);
    p.trans_ = trans_b;
    p.k_ = k;
    p.n_ = n;
    p.b_ = B;
    p.ldb_ = ldb;
    p.isa_ = isa;
    p.packed_ = false;
    if (path == Path::Auto)
      path = rows == 0 ? Path::Tiny : auto_path(Trans::No, trans_b, rows, n, k, false);
    if (path == Path::Tiny || n == 0 || k == 0) return;

    const KernelSet<T> ks = kernel_set<T>(isa);
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
                       const Epilogue<T>& ep) {
    const std::size_t n = p.n_, k = p.k_;
    const bool finish = ep.bias != nullptr || ep.act != Activation::Identity ||
                        ep.nonfinite != nullptr;
    if (!p.packed_ || k == 0) {
      gemm_with(p.isa_, Path::Auto, trans_a, p.trans_, m, n, k, alpha, A, lda, p.b_, p.ldb_,
                beta, C, ldc, nullptr);
      if (finish) finish_in_memory(ep, m, n, C, ldc);
      return;
    }
    check_ld("lda", lda, trans_a == Trans::No ? m : k, trans_a == Trans::No ? k : m);
    check_ld("ldc", ldc, m, n);
    const KernelSet<T> ks = kernel_set<T>(p.isa_);
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
    if (!in_registers(ep.act) && n > 0)
      bias_activation_forward<T>(ep.act, MatrixView<T>(C, m, n, ldc), nullptr);
  }
};

template <class T>
void pack_with(Isa isa, Path path, PackedB<T>& packed, Trans trans_b, std::size_t k,
               std::size_t n, const T* B, std::size_t ldb, std::size_t rows, ThreadPool* pool) {
  PackedAccess<T>::pack(packed, isa, path, trans_b, k, n, B, ldb, rows, pool);
}

template void pack_with<float>(Isa, Path, PackedB<float>&, Trans, std::size_t, std::size_t,
                               const float*, std::size_t, std::size_t, ThreadPool*);
template void pack_with<double>(Isa, Path, PackedB<double>&, Trans, std::size_t, std::size_t,
                                const double*, std::size_t, std::size_t, ThreadPool*);

}  // namespace fastmlp::gemm_detail

namespace fastmlp {

template <class T>
void PackedB<T>::pack(Trans trans_b, std::size_t k, std::size_t n, const T* B, std::size_t ldb,
                      std::size_t rows, ThreadPool* pool) {
  using namespace gemm_detail;
  PackedAccess<T>::pack(*this, active_isa(), Path::Auto, trans_b, k, n, B, ldb, rows, pool);
}

template <class T>
std::size_t PackedB<T>::block_rows(std::size_t rows, std::size_t threads) {
  using namespace gemm_detail;
  const std::size_t mr = kernel_set<T>(active_isa()).blocking.mr;
  if (rows == 0) return mr;
  if (threads == 0) threads = 1;
  const std::size_t blocks =
      min(round_up(ceil_div(rows, kMaxBlockRows), threads), ceil_div(rows, kMinBlockRows));
  return round_up(ceil_div(rows, blocks), mr);
}

template <class T>
bool PackedB<T>::packs(std::size_t rows) {
  using namespace gemm_detail;
  const std::size_t large = static_cast<std::size_t>(-1);
  return rows != 0 && auto_path(Trans::No, Trans::No, rows, large, large, false) == Path::Packed;
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

}  // namespace fastmlp
