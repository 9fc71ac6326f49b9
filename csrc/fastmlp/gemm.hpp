// The matrix multiply the network calls: one product, or many products with
// one right operand packed once (PackedB, for prediction's blocks of rows).
//
//   C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C
//
// All matrices are row-major with a leading dimension (the distance, in
// elements, between the starts of two consecutive rows). op(X) is X or X^T as
// the transpose flag says; lda/ldb describe A and B as stored, not op(A)/op(B).
// When beta == 0, C is written without being read (NaN in C is ignored).
//
// Determinism: every element of C is accumulated over k in ascending order, one
// fused multiply-add at a time, in blocks of a fixed size. Every kernel (the
// reference, AVX2, AVX-512) and every thread count therefore gives bit-identical
// results. How the work is blocked, packed and vectorised lives in gemm/.
#pragma once

#include <cstddef>

#include <fastmlp/activations.hpp>
#include <fastmlp/isa.hpp>
#include <fastmlp/matrix.hpp>

namespace fastmlp {

class ThreadPool;

enum class Trans : bool { No = false, Yes = true };

// C = alpha * op(A) * op(B) + beta * C, see the file comment. With a pool,
// large products are split over its threads; small ones stay on the caller's.
template <class T>
void gemm(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
          T alpha, const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta,
          T* C, std::size_t ldc, ThreadPool* pool = nullptr);

extern template void gemm<float>(Trans, Trans, std::size_t, std::size_t, std::size_t, float,
                                 const float*, std::size_t, const float*, std::size_t, float,
                                 float*, std::size_t, ThreadPool*);
extern template void gemm<double>(Trans, Trans, std::size_t, std::size_t, std::size_t, double,
                                  const double*, std::size_t, const double*, std::size_t,
                                  double, double*, std::size_t, ThreadPool*);

// --- a right operand packed once -----------------------------------------------------
//
// Many products with one right operand (a layer's weights times each block of
// rows of a prediction) need not pack it for each: pack it once, in parallel,
// then run the products against the shared panels on any threads.

namespace gemm_detail {
template <class T>
struct PackedAccess;  // packed_b.cpp's view of a PackedB
}

// op(B) (k x n), packed into the panels of the kernel gemm uses when products
// of up to `rows` rows would take the packed path, else only pointed at. The
// buffer is kept between packs (no allocation once large enough); B itself
// must stay alive and unchanged while products use it.
template <class T>
class PackedB {
 public:
  // Packs op(B) (k x n) for products of at most `rows` rows; the packing is
  // split over `pool` when given. std::invalid_argument if ldb is too small.
  void pack(Trans trans_b, std::size_t k, std::size_t n, const T* B, std::size_t ldb,
            std::size_t rows, ThreadPool* pool = nullptr);

  std::size_t k() const noexcept { return k_; }
  std::size_t n() const noexcept { return n_; }

  // The rows each product should take when `rows` rows (of every layer, say)
  // are cut into blocks for `threads` threads: whole row tiles of the kernel
  // in use (only the last block has a partial one), few enough for a block to
  // stay in cache, and a block per thread where each still gets enough rows.
  // Results do not depend on it; pack for products of this many rows.
  static std::size_t block_rows(std::size_t rows, std::size_t threads);

  // Whether pack() for products of `rows` rows would pack at all, whatever
  // the shape of B; when not, a plain gemm() per product does the same work
  // without a PackedB.
  static bool packs(std::size_t rows);

 private:
  friend struct gemm_detail::PackedAccess<T>;
  Trans trans_ = Trans::No;
  std::size_t k_ = 0, n_ = 0, ldb_ = 0;
  const T* b_ = nullptr;
  Isa isa_ = Isa::Ref;       // the kernels its products use
  bool packed_ = false;      // whether panels_ holds op(B), or products read B
  AlignedBuffer<T> panels_;  // the k-blocks of op(B), one after another
};

// What a product with a PackedB does to C's values after the product (a dense
// layer's bias and activation):
//   z = C + bias[j] (column j; no bias when null), then act(z),
// the operations of activations.hpp, so the same bits as applying them after.
// Relu and leaky relu (its slope is act.slope) are applied before the values
// leave the registers; other activations in a pass over the rows just written.
// And *nonfinite = true when some z (before the activation) is NaN or
// infinite (left as it was otherwise).
template <class T>
struct Epilogue {
  const T* bias = nullptr;
  Activation act = Activation::Identity;
  bool* nonfinite = nullptr;
};

// C (m x n) = alpha * op(A) (m x k) * B (k x n) + beta * C, on the calling
// thread: the same bits as gemm() with B as it was packed; then `epilogue`.
template <class T>
void gemm(Trans trans_a, std::size_t m, T alpha, const T* A, std::size_t lda,
          const PackedB<T>& B, T beta, T* C, std::size_t ldc,
          const Epilogue<T>& epilogue = {});

extern template class PackedB<float>;
extern template class PackedB<double>;
extern template void gemm<float>(Trans, std::size_t, float, const float*, std::size_t,
                                 const PackedB<float>&, float, float*, std::size_t,
                                 const Epilogue<float>&);
extern template void gemm<double>(Trans, std::size_t, double, const double*, std::size_t,
                                  const PackedB<double>&, double, double*, std::size_t,
                                  const Epilogue<double>&);

// Grows the calling thread's scratch to what gemm needs for a product of these
// transposes and sizes on that thread (without a pool, or as the caller with
// one), so that such products, and smaller ones, allocate nothing. Scratch
// only grows; a thread that runs gemm allocates on its first large product
// otherwise (training sizes every pool thread's scratch up front this way).
// op(A)'s transpose takes no part: packing A either way takes the same room.
template <class T>
void gemm_reserve(Trans trans_b, std::size_t m, std::size_t n, std::size_t k);
extern template void gemm_reserve<float>(Trans, std::size_t, std::size_t, std::size_t);
extern template void gemm_reserve<double>(Trans, std::size_t, std::size_t, std::size_t);

}  // namespace fastmlp
