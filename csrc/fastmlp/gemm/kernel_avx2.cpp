// The AVX2 kernels (float and double): 256-bit vectors, FMA, masked loads and
// stores for edges. Compile this file, and only this one, with
//   -mavx2 -mfma
// and call it only where isa.cpp found AVX2 and FMA enabled by CPU and OS.
// The arithmetic is kernel_impl.hpp's, shared with the other instruction sets.
#include <fastmlp/gemm/kernel.hpp>

#if defined(FASTMLP_X86)

#include <immintrin.h>

#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/gemm/kernel_impl.hpp>

namespace fastmlp::gemm_detail {
namespace {

// --- vector traits ----------------------------------------------------------------

// Lane masks are integer vectors (all ones where a lane is in): what
// vmaskmov wants. Masked-off lanes are neither read nor written.
struct Ymm32 {
  using T = float;
  using V = __m256;
  using M = __m256i;
  static constexpr std::size_t L = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V load(const T* p) { return _mm256_load_ps(p); }
  static V loadu(const T* p) { return _mm256_loadu_ps(p); }
  static void storeu(T* p, V v) { _mm256_storeu_ps(p, v); }
  static M mask(std::size_t n) {
    const int in = n >= L ? int(L) : int(n);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(in), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load_mask(const T* p, M m) { return _mm256_maskload_ps(p, m); }
  static void store_mask(T* p, M m, V v) { _mm256_maskstore_ps(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V relu(V z) { return _mm256_and_ps(z, _mm256_cmp_ps(z, zero(), _CMP_NLE_UQ)); }
  static V leaky(V z, V s) {
    return _mm256_blendv_ps(mul(s, z), z, _mm256_cmp_ps(z, zero(), _CMP_GT_OQ));
  }
  static void prefetch(const T* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

struct Ymm64 {
  using T = double;
  using V = __m256d;
  using M = __m256i;
  static constexpr std::size_t L = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V load(const T* p) { return _mm256_load_pd(p); }
  static V loadu(const T* p) { return _mm256_loadu_pd(p); }
  static void storeu(T* p, V v) { _mm256_storeu_pd(p, v); }
  static M mask(std::size_t n) {
    const long long in = n >= L ? (long long)L : (long long)n;
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(in), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static V load_mask(const T* p, M m) { return _mm256_maskload_pd(p, m); }
  static void store_mask(T* p, M m, V v) { _mm256_maskstore_pd(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V relu(V z) { return _mm256_and_pd(z, _mm256_cmp_pd(z, zero(), _CMP_NLE_UQ)); }
  static V leaky(V z, V s) {
    return _mm256_blendv_pd(mul(s, z), z, _mm256_cmp_pd(z, zero(), _CMP_GT_OQ));
  }
  static void prefetch(const T* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

constexpr Blocking kF = kAvx2Blocking<float>;
constexpr Blocking kD = kAvx2Blocking<double>;

}  // namespace

// --- entry points -----------------------------------------------------------------

void micro_avx2(std::size_t kc, const float* a, const float* b, float alpha, float beta,
                float* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
                const Epilogue<float>* ep) {
  micro_kernel<Ymm32, kF.mr, kF.nr>(kc, a, 0, b, alpha, beta, C, ldc, m_r, n_r, ep);
}

void micro_avx2(std::size_t kc, const double* a, const double* b, double alpha, double beta,
                double* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
                const Epilogue<double>* ep) {
  micro_kernel<Ymm64, kD.mr, kD.nr>(kc, a, 0, b, alpha, beta, C, ldc, m_r, n_r, ep);
}

void micro_in_place_avx2(std::size_t kc, const float* a, std::size_t lda, const float* b,
                         float alpha, float beta, float* C, std::size_t ldc, std::size_t n_r,
                         const Epilogue<float>* ep) {
  micro_kernel<Ymm32, kF.mr, kF.nr, true>(kc, a, lda, b, alpha, beta, C, ldc, kF.mr, n_r, ep);
}

void micro_in_place_avx2(std::size_t kc, const double* a, std::size_t lda, const double* b,
                         double alpha, double beta, double* C, std::size_t ldc, std::size_t n_r,
                         const Epilogue<double>* ep) {
  micro_kernel<Ymm64, kD.mr, kD.nr, true>(kc, a, lda, b, alpha, beta, C, ldc, kD.mr, n_r, ep);
}

void tiny_avx2(std::size_t m, std::size_t n, std::size_t k, float alpha, const float* A,
               std::size_t a_rs, std::size_t a_cs, const float* B, std::size_t ldb,
               float beta, float* C, std::size_t ldc) {
  tiny_gemm<Ymm32>(m, n, k, alpha, A, a_rs, a_cs, B, ldb, beta, C, ldc);
}

void tiny_avx2(std::size_t m, std::size_t n, std::size_t k, double alpha, const double* A,
               std::size_t a_rs, std::size_t a_cs, const double* B, std::size_t ldb,
               double beta, double* C, std::size_t ldc) {
  tiny_gemm<Ymm64>(m, n, k, alpha, A, a_rs, a_cs, B, ldb, beta, C, ldc);
}

}  // namespace fastmlp::gemm_detail

#endif  // FASTMLP_X86
