// The AVX-512 kernels (float and double): 512-bit vectors, lane masks for
// edges, FMA. Compile this file, and only this one, with
//   -mavx512f -mfma
// and call it only where isa.cpp found AVX-512F enabled by CPU and OS.
// The arithmetic is kernel_impl.hpp's, shared with the other instruction sets.
#include <fastmlp/gemm/kernel.hpp>

#if defined(FASTMLP_X86)

#include <immintrin.h>

#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/gemm/kernel_impl.hpp>

namespace fastmlp::gemm_detail {
namespace {

// --- vector traits ----------------------------------------------------------------

struct Zmm32 {
  using T = float;
  using V = __m512;
  using M = __mmask16;
  static constexpr std::size_t L = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V load(const T* p) { return _mm512_load_ps(p); }
  static V loadu(const T* p) { return _mm512_loadu_ps(p); }
  static void storeu(T* p, V v) { _mm512_storeu_ps(p, v); }
  static M mask(std::size_t n) { return n >= L ? M(0xffff) : M((1u << n) - 1); }
  static V load_mask(const T* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_mask(T* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V relu(V z) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, zero(), _CMP_NLE_UQ), z); }
  static V leaky(V z, V s) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, zero(), _CMP_GT_OQ), mul(s, z), z);
  }
  static void prefetch(const T* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

struct Zmm64 {
  using T = double;
  using V = __m512d;
  using M = __mmask8;
  static constexpr std::size_t L = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V load(const T* p) { return _mm512_load_pd(p); }
  static V loadu(const T* p) { return _mm512_loadu_pd(p); }
  static void storeu(T* p, V v) { _mm512_storeu_pd(p, v); }
  static M mask(std::size_t n) { return n >= L ? M(0xff) : M((1u << n) - 1); }
  static V load_mask(const T* p, M m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store_mask(T* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V relu(V z) { return _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(z, zero(), _CMP_NLE_UQ), z); }
  static V leaky(V z, V s) {
    return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(z, zero(), _CMP_GT_OQ), mul(s, z), z);
  }
  static void prefetch(const T* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

constexpr Blocking kF = kAvx512Blocking<float>;
constexpr Blocking kD = kAvx512Blocking<double>;

}  // namespace

// --- entry points -----------------------------------------------------------------

void micro_avx512(std::size_t kc, const float* a, const float* b, float alpha, float beta,
                  float* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
                  const Epilogue<float>* ep) {
  micro_kernel<Zmm32, kF.mr, kF.nr>(kc, a, 0, b, alpha, beta, C, ldc, m_r, n_r, ep);
}

void micro_avx512(std::size_t kc, const double* a, const double* b, double alpha,
                  double beta, double* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
                  const Epilogue<double>* ep) {
  micro_kernel<Zmm64, kD.mr, kD.nr>(kc, a, 0, b, alpha, beta, C, ldc, m_r, n_r, ep);
}

void micro_in_place_avx512(std::size_t kc, const float* a, std::size_t lda, const float* b,
                           float alpha, float beta, float* C, std::size_t ldc, std::size_t n_r,
                           const Epilogue<float>* ep) {
  micro_kernel<Zmm32, kF.mr, kF.nr, true>(kc, a, lda, b, alpha, beta, C, ldc, kF.mr, n_r, ep);
}

void micro_in_place_avx512(std::size_t kc, const double* a, std::size_t lda, const double* b,
                           double alpha, double beta, double* C, std::size_t ldc, std::size_t n_r,
                           const Epilogue<double>* ep) {
  micro_kernel<Zmm64, kD.mr, kD.nr, true>(kc, a, lda, b, alpha, beta, C, ldc, kD.mr, n_r, ep);
}

void tiny_avx512(std::size_t m, std::size_t n, std::size_t k, float alpha, const float* A,
                 std::size_t a_rs, std::size_t a_cs, const float* B, std::size_t ldb,
                 float beta, float* C, std::size_t ldc) {
  tiny_gemm<Zmm32>(m, n, k, alpha, A, a_rs, a_cs, B, ldb, beta, C, ldc);
}

void tiny_avx512(std::size_t m, std::size_t n, std::size_t k, double alpha, const double* A,
                 std::size_t a_rs, std::size_t a_cs, const double* B, std::size_t ldb,
                 double beta, double* C, std::size_t ldc) {
  tiny_gemm<Zmm64>(m, n, k, alpha, A, a_rs, a_cs, B, ldb, beta, C, ldc);
}

}  // namespace fastmlp::gemm_detail

#endif  // FASTMLP_X86
