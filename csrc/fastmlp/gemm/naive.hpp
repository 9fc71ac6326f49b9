// The naive loop: the test oracle for gemm(), nothing else.
//
// It follows gemm()'s contract and its summation order exactly: each element
// of C is summed over ascending k, one fused multiply-add per step, in blocks
// of KC<T> (blocking.hpp), each block folded into C as kernel.hpp describes.
// A correct optimised gemm therefore agrees with it bit for bit, at any size.
#pragma once

#include <cmath>
#include <cstddef>

#include <fastmlp/gemm.hpp>
#include <fastmlp/gemm/blocking.hpp>

namespace fastmlp {

template <class T>
void gemm_naive(Trans trans_a, Trans trans_b, std::size_t m, std::size_t n, std::size_t k,
                T alpha, const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta,
                T* C, std::size_t ldc) {
  constexpr std::size_t kc = gemm_detail::KC<T>;
  const std::size_t blocks = k == 0 ? 1 : (k + kc - 1) / kc;  // k == 0: one empty block
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      T& c = C[i * ldc + j];
      for (std::size_t blk = 0; blk < blocks; ++blk) {
        T acc = 0;
        for (std::size_t p = blk * kc; p < k && p < (blk + 1) * kc; ++p) {
          const T a = trans_a == Trans::Yes ? A[p * lda + i] : A[i * lda + p];
          const T b = trans_b == Trans::Yes ? B[j * ldb + p] : B[p * ldb + j];
          acc = std::fma(a, b, acc);
        }
        const T block_beta = blk == 0 ? beta : T(1);  // later blocks add to C
        c = block_beta == T(0) ? alpha * acc : std::fma(alpha, acc, block_beta * c);
      }
    }
  }
}

}  // namespace fastmlp
