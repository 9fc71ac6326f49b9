// The compute kernels of the GEMM, one set per instruction set: a micro-kernel
// over packed panels and a tiny-matrix routine over unpacked operands.
//
// Each instruction set lives in its own .cpp compiled with its own flags
// (kernel_ref.cpp: none; kernel_avx2.cpp and kernel_avx512.cpp: see their
// headers). This header only declares; it carries no ISA-specific code, and it
// does not choose a kernel (isa.cpp picks the instruction set, paths.hpp its set).
#pragma once

#include <cstddef>

#include <fastmlp/gemm.hpp>
#include <fastmlp/isa.hpp>

namespace fastmlp::gemm_detail {

// --- the shared arithmetic --------------------------------------------------------
//
// Every kernel computes each element of C the same way, which is what makes them
// interchangeable bit for bit:
//   acc = +0; for p ascending: acc = fma(a_p, b_p, acc)      (one KC block)
//   C   = beta == 0 ? alpha * acc : fma(alpha, acc, beta * C)
// A later k-block of the same product passes beta = 1 (1 * C is exact).

// --- the epilogue -----------------------------------------------------------------
//
// A micro-kernel may finish its tile in registers before the store, after the
// last k-block of a product: gemm.hpp's Epilogue, its bias pointing at the
// tile's first column. The kernels apply relu and leaky relu and leave every
// other activation to a pass after the product (packed_b.cpp).

// --- signatures -------------------------------------------------------------------

// One C tile from packed panels: `a` holds kc steps of MR values (one MR-tall
// micro-panel, see pack.hpp), `b` kc steps of NR values, aligned to the
// kernel's vectors. Only the top-left m_r x n_r corner of the tile is in C
// (edge tiles); the rest is computed from the zero padding and dropped.
// `ep`, when not null, finishes the tile (see the epilogue).
template <class T>
using MicroKernel = void (*)(std::size_t kc, const T* a, const T* b, T alpha, T beta, T* C,
                             std::size_t ldc, std::size_t m_r, std::size_t n_r,
                             const Epilogue<T>* ep);

// The same tile with A read in place instead of from a packed panel: row r,
// step p of the tile's A at a[r * lda + p] (a row-major op(A)). Always MR rows.
template <class T>
using MicroKernelInPlace = void (*)(std::size_t kc, const T* a, std::size_t lda, const T* b,
                                    T alpha, T beta, T* C, std::size_t ldc, std::size_t n_r,
                                    const Epilogue<T>* ep);

// The whole product without packing, for small sizes:
//   C (m x n) = alpha * A (m x k) * B (k x n) + beta * C
// with A's element (i, p) at A[i * a_rs + p * a_cs] (so either transpose) and B
// row-major (tiny.cpp transposes a small B first). k == 0 counts as one empty
// block: C = alpha * 0 or fma(alpha, 0, beta * C).
template <class T>
using TinyGemm = void (*)(std::size_t m, std::size_t n, std::size_t k, T alpha, const T* A,
                          std::size_t a_rs, std::size_t a_cs, const T* B, std::size_t ldb,
                          T beta, T* C, std::size_t ldc);

// --- the kernels ------------------------------------------------------------------

// Portable C++ (std::fma); always available.
void micro_ref(std::size_t kc, const float* a, const float* b, float alpha, float beta,
               float* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
               const Epilogue<float>* ep);
void micro_ref(std::size_t kc, const double* a, const double* b, double alpha, double beta,
               double* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
               const Epilogue<double>* ep);
void micro_in_place_ref(std::size_t kc, const float* a, std::size_t lda, const float* b,
                        float alpha, float beta, float* C, std::size_t ldc, std::size_t n_r,
                        const Epilogue<float>* ep);
void micro_in_place_ref(std::size_t kc, const double* a, std::size_t lda, const double* b,
                        double alpha, double beta, double* C, std::size_t ldc, std::size_t n_r,
                        const Epilogue<double>* ep);
void tiny_ref(std::size_t m, std::size_t n, std::size_t k, float alpha, const float* A,
              std::size_t a_rs, std::size_t a_cs, const float* B, std::size_t ldb, float beta,
              float* C, std::size_t ldc);
void tiny_ref(std::size_t m, std::size_t n, std::size_t k, double alpha, const double* A,
              std::size_t a_rs, std::size_t a_cs, const double* B, std::size_t ldb,
              double beta, double* C, std::size_t ldc);

#if defined(FASTMLP_X86)

// AVX2 + FMA; call only when the CPU has both (isa_supported).
void micro_avx2(std::size_t kc, const float* a, const float* b, float alpha, float beta,
                float* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
                const Epilogue<float>* ep);
void micro_avx2(std::size_t kc, const double* a, const double* b, double alpha, double beta,
                double* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
                const Epilogue<double>* ep);
void micro_in_place_avx2(std::size_t kc, const float* a, std::size_t lda, const float* b,
                         float alpha, float beta, float* C, std::size_t ldc, std::size_t n_r,
                         const Epilogue<float>* ep);
void micro_in_place_avx2(std::size_t kc, const double* a, std::size_t lda, const double* b,
                         double alpha, double beta, double* C, std::size_t ldc, std::size_t n_r,
                         const Epilogue<double>* ep);
void tiny_avx2(std::size_t m, std::size_t n, std::size_t k, float alpha, const float* A,
               std::size_t a_rs, std::size_t a_cs, const float* B, std::size_t ldb,
               float beta, float* C, std::size_t ldc);
void tiny_avx2(std::size_t m, std::size_t n, std::size_t k, double alpha, const double* A,
               std::size_t a_rs, std::size_t a_cs, const double* B, std::size_t ldb,
               double beta, double* C, std::size_t ldc);

// AVX-512F; call only when the CPU and the OS support it (isa_supported).
void micro_avx512(std::size_t kc, const float* a, const float* b, float alpha, float beta,
                  float* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
                  const Epilogue<float>* ep);
void micro_avx512(std::size_t kc, const double* a, const double* b, double alpha,
                  double beta, double* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
                  const Epilogue<double>* ep);
void micro_in_place_avx512(std::size_t kc, const float* a, std::size_t lda, const float* b,
                           float alpha, float beta, float* C, std::size_t ldc, std::size_t n_r,
                           const Epilogue<float>* ep);
void micro_in_place_avx512(std::size_t kc, const double* a, std::size_t lda, const double* b,
                           double alpha, double beta, double* C, std::size_t ldc, std::size_t n_r,
                           const Epilogue<double>* ep);
void tiny_avx512(std::size_t m, std::size_t n, std::size_t k, float alpha, const float* A,
                 std::size_t a_rs, std::size_t a_cs, const float* B, std::size_t ldb,
                 float beta, float* C, std::size_t ldc);
void tiny_avx512(std::size_t m, std::size_t n, std::size_t k, double alpha, const double* A,
                 std::size_t a_rs, std::size_t a_cs, const double* B, std::size_t ldb,
                 double beta, double* C, std::size_t ldc);
#endif

}  // namespace fastmlp::gemm_detail
