// The micro-kernel and the tiny-matrix routine, written once over a small
// vector-traits class; each kernel_*.cpp instantiates them with its own
// instruction set. Include this from those files only.
//
// Everything here is in an unnamed namespace on purpose: each kernel file is
// compiled with different -m flags, and if two of them emitted the same
// non-internal function the linker would keep just one copy, possibly the
// AVX-512 one for a CPU that lacks it. Internal linkage keeps each copy apart.
#pragma once

#include <cstddef>

#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/gemm/kernel.hpp>

namespace fastmlp::gemm_detail {
namespace {

// A traits class Tr provides, for one element type and vector width:
//   using T (element), V (vector of L elements), M (lane mask); L
//   zero(), set1(x), load(p) (p aligned to the vector), loadu(p), storeu(p, v),
//   mask(n) (first min(n, L) lanes), load_mask(p, m) (other lanes 0),
//   store_mask(p, m, v), fmadd(a, b, c) (= a * b + c, one rounding), mul(a, b),
//   add(a, b), relu(z) (z > 0 or NaN ? z : 0), leaky(z, s) (z > 0 ? z : s * z),
//   prefetch(p) (may do nothing).
//
// `#pragma GCC unroll` (GCC and Clang) turns the loops over registers into
// straight-line code, which is what lets the accumulator arrays live in
// registers; without it the compiler may keep them in memory.

// C = beta == 0 ? alpha * acc : fma(alpha, acc, beta * C), on the lanes of m.
template <class Tr>
inline void combine_masked(typename Tr::T* c, typename Tr::M m, typename Tr::V acc,
                           typename Tr::V alpha, typename Tr::T beta) {
  if (beta == typename Tr::T(0)) {
    Tr::store_mask(c, m, Tr::mul(alpha, acc));
  } else {
    const typename Tr::V old = Tr::mul(Tr::set1(beta), Tr::load_mask(c, m));
    Tr::store_mask(c, m, Tr::fmadd(alpha, acc, old));
  }
}

// The same on all L lanes, without masks (full tiles).
template <class Tr>
inline void combine_full(typename Tr::T* c, typename Tr::V acc, typename Tr::V alpha,
                         typename Tr::T beta) {
  if (beta == typename Tr::T(0)) {
    Tr::storeu(c, Tr::mul(alpha, acc));
  } else {
    const typename Tr::V old = Tr::mul(Tr::set1(beta), Tr::loadu(c));
    Tr::storeu(c, Tr::fmadd(alpha, acc, old));
  }
}

// --- the epilogue -----------------------------------------------------------------

// Stores an MR x NV-vector tile of accumulators as kernel.hpp's epilogue says:
// z = combined as above, + bias, noted if not finite, activated. Rows past m_r
// and columns past n_r are neither read nor written.
template <class Tr, std::size_t MR, std::size_t NV>
void store_finished(const typename Tr::V (&acc)[MR][NV], typename Tr::V alpha,
                    typename Tr::T beta, typename Tr::T* C, std::size_t ldc, std::size_t m_r,
                    std::size_t n_r, const Epilogue<typename Tr::T>& ep) {
  using T = typename Tr::T;
  using V = typename Tr::V;
  constexpr std::size_t L = Tr::L;
  typename Tr::M mask[NV];
  V bias[NV];
#pragma GCC unroll 8
  for (std::size_t v = 0; v < NV; ++v) {
    mask[v] = Tr::mask(n_r > v * L ? n_r - v * L : 0);
    bias[v] = ep.bias != nullptr ? Tr::load_mask(ep.bias + v * L, mask[v]) : Tr::zero();
  }
  const V slope = Tr::set1(static_cast<T>(ep.act.slope));
  V bad = Tr::zero();  // sum of z * 0 over the tile: NaN once some z is NaN or infinite
#pragma GCC unroll 32
  for (std::size_t r = 0; r < MR; ++r) {
    if (r >= m_r) break;
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v) {
      T* const c = C + r * ldc + v * L;
      V z = beta == T(0)
                ? Tr::mul(alpha, acc[r][v])
                : Tr::fmadd(alpha, acc[r][v], Tr::mul(Tr::set1(beta), Tr::load_mask(c, mask[v])));
      if (ep.bias != nullptr) z = Tr::add(z, bias[v]);
      if (ep.nonfinite != nullptr) bad = Tr::add(bad, Tr::mul(z, Tr::zero()));
      // Kinds compared directly: Activation's operators would be shared
      // inline code in a file compiled with instruction-set flags.
      if (ep.act.kind == Activation::Relu) z = Tr::relu(z);
      else if (ep.act.kind == Activation::LeakyRelu) z = Tr::leaky(z, slope);
      Tr::store_mask(c, mask[v], z);
    }
  }
  if (ep.nonfinite != nullptr) {
    T lanes[L];
    Tr::storeu(lanes, bad);
    for (std::size_t l = 0; l < L; ++l)
      if (lanes[l] != lanes[l]) *ep.nonfinite = true;
  }
}

// --- micro-kernel -----------------------------------------------------------------

// One MR x NR tile from packed panels (see kernel.hpp's MicroKernel): MR * NV
// accumulators stay in registers; each k step loads NV vectors of B, broadcasts
// MR values of A and issues MR * NV independent FMAs. kInPlaceA: A's MR rows
// are read where they are, lda apart (MicroKernelInPlace); the same FMAs in
// the same order, so the same bits.
template <class Tr, std::size_t MR, std::size_t NR, bool kInPlaceA = false>
void micro_kernel(std::size_t kc, const typename Tr::T* a, std::size_t lda,
                  const typename Tr::T* b, typename Tr::T alpha, typename Tr::T beta,
                  typename Tr::T* C, std::size_t ldc, std::size_t m_r, std::size_t n_r,
                  const Epilogue<typename Tr::T>* ep) {
  using V = typename Tr::V;
  constexpr std::size_t L = Tr::L;
  constexpr std::size_t NV = NR / L;
  static_assert(NR % L == 0, "NR must be a whole number of vectors");

  // The tile's rows are written at the end; fetching them now hides the miss.
#pragma GCC unroll 32
  for (std::size_t r = 0; r < MR; ++r) {
    if (r < m_r) {
      Tr::prefetch(C + r * ldc);
      Tr::prefetch(C + r * ldc + n_r - 1);
    }
  }

  V acc[MR][NV];
#pragma GCC unroll 32
  for (std::size_t r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v) acc[r][v] = Tr::zero();

  // In place, row r of A is read through rows[r / 3] + (r % 3) * lda: one
  // pointer per three rows, the offsets lda and 2 lda in two registers, so
  // every broadcast is one load with a base + index * scale address.
  constexpr std::size_t G = kInPlaceA ? (MR + 2) / 3 : 1;
  const typename Tr::T* rows[G];
  const std::ptrdiff_t l1 = static_cast<std::ptrdiff_t>(lda), l2 = 2 * l1;
#pragma GCC unroll 16
  for (std::size_t g = 0; g < G; ++g) rows[g] = a + 3 * g * lda;

#pragma GCC unroll 4
  for (std::size_t p = 0; p < kc; ++p) {
    V bv[NV];
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v) bv[v] = Tr::load(b + v * L);
#pragma GCC unroll 32
    for (std::size_t r = 0; r < MR; ++r) {
      const V ar = Tr::set1(!kInPlaceA    ? a[r]
                            : r % 3 == 0 ? rows[r / 3][0]
                            : r % 3 == 1 ? rows[r / 3][l1]
                                         : rows[r / 3][l2]);
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v) acc[r][v] = Tr::fmadd(ar, bv[v], acc[r][v]);
    }
    if constexpr (kInPlaceA) {
#pragma GCC unroll 16
      for (std::size_t g = 0; g < G; ++g) ++rows[g];
    } else {
      a += MR;
    }
    b += NR;
  }

  const V valpha = Tr::set1(alpha);
  if (ep != nullptr) {
    store_finished<Tr, MR, NV>(acc, valpha, beta, C, ldc, m_r, n_r, *ep);
    return;
  }
  if (m_r == MR && n_r == NR) {
#pragma GCC unroll 32
    for (std::size_t r = 0; r < MR; ++r)
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v)
        combine_full<Tr>(C + r * ldc + v * L, acc[r][v], valpha, beta);
    return;
  }
  typename Tr::M mask[NV];
#pragma GCC unroll 8
  for (std::size_t v = 0; v < NV; ++v) mask[v] = Tr::mask(n_r > v * L ? n_r - v * L : 0);
#pragma GCC unroll 32
  for (std::size_t r = 0; r < MR; ++r) {
    if (r < m_r) {
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v)
        combine_masked<Tr>(C + r * ldc + v * L, mask[v], acc[r][v], valpha, beta);
    }
  }
}

// --- tiny path ------------------------------------------------------------------

// `rows` <= R rows of C by `width` <= NV * L columns, one k-block [p0, p1),
// straight from A (strides a_rs, a_cs) and row-major B: R * NV independent FMA
// chains, each vector of B loaded once for the R rows. Rows past `rows` repeat
// the first one and are not stored.
template <class Tr, std::size_t R, std::size_t NV>
void tiny_block(std::size_t width, std::size_t p0, std::size_t p1, typename Tr::T alpha,
                const typename Tr::T* A, std::size_t a_rs, std::size_t a_cs,
                const typename Tr::T* B, std::size_t ldb, typename Tr::T beta,
                typename Tr::T* C, std::size_t ldc, std::size_t rows = R) {
  using V = typename Tr::V;
  constexpr std::size_t L = Tr::L;
  const typename Tr::T* a_row[R];
#pragma GCC unroll 8
  for (std::size_t r = 0; r < R; ++r) a_row[r] = A + (r < rows ? r : 0) * a_rs;

  typename Tr::M mask[NV];
#pragma GCC unroll 8
  for (std::size_t v = 0; v < NV; ++v) mask[v] = Tr::mask(width > v * L ? width - v * L : 0);

  V acc[R][NV];
#pragma GCC unroll 8
  for (std::size_t r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v) acc[r][v] = Tr::zero();
  for (std::size_t p = p0; p < p1; ++p) {
    V b[NV];
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v) b[v] = Tr::load_mask(B + p * ldb + v * L, mask[v]);
#pragma GCC unroll 8
    for (std::size_t r = 0; r < R; ++r) {
      const V a = Tr::set1(a_row[r][p * a_cs]);
#pragma GCC unroll 8
      for (std::size_t v = 0; v < NV; ++v) acc[r][v] = Tr::fmadd(a, b[v], acc[r][v]);
    }
  }
  const V valpha = Tr::set1(alpha);
#pragma GCC unroll 8
  for (std::size_t r = 0; r < R; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 8
    for (std::size_t v = 0; v < NV; ++v)
      combine_masked<Tr>(C + r * ldc + v * L, mask[v], acc[r][v], valpha, beta);
  }
}

// R rows of C, all n columns in strips of up to NV_MAX vectors, one k-block.
template <class Tr, std::size_t R, std::size_t NV_MAX>
void tiny_rows(std::size_t n, std::size_t p0, std::size_t p1, typename Tr::T alpha,
               const typename Tr::T* A, std::size_t a_rs, std::size_t a_cs,
               const typename Tr::T* B, std::size_t ldb, typename Tr::T beta,
               typename Tr::T* C, std::size_t ldc) {
  constexpr std::size_t L = Tr::L;
  for (std::size_t j = 0; j < n; j += NV_MAX * L) {
    const std::size_t width = n - j < NV_MAX * L ? n - j : NV_MAX * L;
    const std::size_t nv = (width + L - 1) / L;
    if (nv == 1)
      tiny_block<Tr, R, 1>(width, p0, p1, alpha, A, a_rs, a_cs, B + j, ldb, beta, C + j, ldc);
    else if (nv == 2 || NV_MAX == 2)
      tiny_block<Tr, R, 2>(width, p0, p1, alpha, A, a_rs, a_cs, B + j, ldb, beta, C + j, ldc);
    else if (nv == 3)
      tiny_block<Tr, R, 3>(width, p0, p1, alpha, A, a_rs, a_cs, B + j, ldb, beta, C + j, ldc);
    else
      tiny_block<Tr, R, NV_MAX>(width, p0, p1, alpha, A, a_rs, a_cs, B + j, ldb, beta, C + j,
                                ldc);
  }
}

// The TinyGemm contract of kernel.hpp. The k-blocks are the outer loop, so a
// block of A and B is read from memory once and then from cache, however A is
// laid out. Within a block: C one vector wide (a small layer's products, the
// article's gradients with k = the batch's rows) goes eight rows at a time, so
// that eight FMA chains overlap; wider C four rows at a time (strips of 2
// vectors: 8 chains, few enough registers for AVX2); then single rows (strips
// of 4 vectors: 4 chains, for single-row predict).
template <class Tr>
void tiny_gemm(std::size_t m, std::size_t n, std::size_t k, typename Tr::T alpha,
               const typename Tr::T* A, std::size_t a_rs, std::size_t a_cs,
               const typename Tr::T* B, std::size_t ldb, typename Tr::T beta,
               typename Tr::T* C, std::size_t ldc) {
  using T = typename Tr::T;
  constexpr std::size_t kc = KC<T>;
  const std::size_t blocks = k == 0 ? 1 : (k + kc - 1) / kc;  // k == 0: one empty block
  for (std::size_t blk = 0; blk < blocks; ++blk) {
    const std::size_t p0 = blk * kc, p1 = p0 + kc < k ? p0 + kc : k;
    const T block_beta = blk == 0 ? beta : T(1);  // later blocks add to C
    std::size_t i = 0;
    if (n <= Tr::L)
      for (; i + 4 < m; i += 8)
        tiny_block<Tr, 8, 1>(n, p0, p1, alpha, A + i * a_rs, a_rs, a_cs, B, ldb, block_beta,
                             C + i * ldc, ldc, m - i < 8 ? m - i : 8);
    for (; i + 4 <= m; i += 4)
      tiny_rows<Tr, 4, 2>(n, p0, p1, alpha, A + i * a_rs, a_rs, a_cs, B, ldb, block_beta,
                          C + i * ldc, ldc);
    for (; i < m; ++i)
      tiny_rows<Tr, 1, 4>(n, p0, p1, alpha, A + i * a_rs, a_rs, a_cs, B, ldb, block_beta,
                          C + i * ldc, ldc);
  }
}

}  // namespace
}  // namespace fastmlp::gemm_detail
