// The portable kernels (float and double): plain C++, one element per "vector",
// std::fma for every multiply-add. No ISA flags; this is the path on other
// architectures and on x86 CPUs without AVX2, and the one FASTMLP_GEMM_KERNEL=ref
// forces. Written for clarity and exactness: on x86 without -mfma, std::fma is
// a call into the C library (exact, and slow without FMA hardware).
#include <fastmlp/gemm/kernel.hpp>

#include <cmath>

#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/gemm/kernel_impl.hpp>

namespace fastmlp::gemm_detail {
namespace {

// --- scalar traits ----------------------------------------------------------------

// A "vector" of one element; a mask says whether that element is in.
template <class Elem>
struct Scalar {
  using T = Elem;
  using V = Elem;
  using M = bool;
  static constexpr std::size_t L = 1;
  static V zero() { return T(0); }
  static V set1(T x) { return x; }
  static V load(const T* p) { return *p; }
  static V loadu(const T* p) { return *p; }
  static void storeu(T* p, V v) { *p = v; }
  static M mask(std::size_t n) { return n > 0; }
  static V load_mask(const T* p, M m) { return m ? *p : T(0); }
  static void store_mask(T* p, M m, V v) {
    if (m) *p = v;
  }
  static V fmadd(V a, V b, V c) { return std::fma(a, b, c); }
  static V mul(V a, V b) { return a * b; }
  static V add(V a, V b) { return a + b; }
  static V relu(V z) { return !(z <= T(0)) ? z : T(0); }
  static V leaky(V z, V s) { return z > T(0) ? z : s * z; }
  static void prefetch(const T*) {}
};

constexpr Blocking kF = kRefBlocking<float>;
constexpr Blocking kD = kRefBlocking<double>;

}  // namespace

// --- entry points -----------------------------------------------------------------

void micro_ref(std::size_t kc, const float* a, const float* b, float alpha, float beta,
               float* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
               const Epilogue<float>* ep) {
  micro_kernel<Scalar<float>, kF.mr, kF.nr>(kc, a, 0, b, alpha, beta, C, ldc, m_r, n_r, ep);
}

void micro_ref(std::size_t kc, const double* a, const double* b, double alpha, double beta,
               double* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
               const Epilogue<double>* ep) {
  micro_kernel<Scalar<double>, kD.mr, kD.nr>(kc, a, 0, b, alpha, beta, C, ldc, m_r, n_r, ep);
}

void micro_in_place_ref(std::size_t kc, const float* a, std::size_t lda, const float* b,
                        float alpha, float beta, float* C, std::size_t ldc, std::size_t n_r,
                        const Epilogue<float>* ep) {
  micro_kernel<Scalar<float>, kF.mr, kF.nr, true>(kc, a, lda, b, alpha, beta, C, ldc, kF.mr, n_r, ep);
}

void micro_in_place_ref(std::size_t kc, const double* a, std::size_t lda, const double* b,
                        double alpha, double beta, double* C, std::size_t ldc, std::size_t n_r,
                        const Epilogue<double>* ep) {
  micro_kernel<Scalar<double>, kD.mr, kD.nr, true>(kc, a, lda, b, alpha, beta, C, ldc, kD.mr, n_r, ep);
}

void tiny_ref(std::size_t m, std::size_t n, std::size_t k, float alpha, const float* A,
              std::size_t a_rs, std::size_t a_cs, const float* B, std::size_t ldb, float beta,
              float* C, std::size_t ldc) {
  tiny_gemm<Scalar<float>>(m, n, k, alpha, A, a_rs, a_cs, B, ldb, beta, C, ldc);
}

void tiny_ref(std::size_t m, std::size_t n, std::size_t k, double alpha, const double* A,
              std::size_t a_rs, std::size_t a_cs, const double* B, std::size_t ldb,
              double beta, double* C, std::size_t ldc) {
  tiny_gemm<Scalar<double>>(m, n, k, alpha, A, a_rs, a_cs, B, ldb, beta, C, ldc);
}

}  // namespace fastmlp::gemm_detail
