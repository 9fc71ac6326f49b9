// The one matrix-multiply entry the network calls.
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

// Grows the calling thread's scratch to what gemm needs for a product of these
// transposes and sizes on that thread (without a pool, or as the caller with
// one), so that such products, and smaller ones, allocate nothing. Scratch
// only grows; a thread that runs gemm allocates on its first large product
// otherwise (training sizes every pool thread's scratch up front this way).
template <class T>
void gemm_reserve(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k);
extern template void gemm_reserve<float>(Trans, Trans, std::size_t, std::size_t, std::size_t);
extern template void gemm_reserve<double>(Trans, Trans, std::size_t, std::size_t, std::size_t);

// The name of the micro-kernel gemm uses ("ref", "avx2" or "avx512"): the best
// one this CPU supports, unless FASTMLP_GEMM_KERNEL names another.
const char* gemm_kernel_name();

}  // namespace fastmlp
