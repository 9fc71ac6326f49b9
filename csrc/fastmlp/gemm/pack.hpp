// The packers: copy a block of op(A) or op(B) into the micro-panel layout the
// micro-kernels read (kernel.hpp), zero-padding partial panels.
//
// Packing turns either transpose into the same contiguous, aligned stream, so
// the kernels never see strides or transposes. Portable C++ plus SSE2 (every
// x86-64 has it) for the transposes; no ISA flags. Included by dispatch.cpp and
// tests, never by a kernel_*.cpp.
#pragma once

#include <cstddef>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

#include <fastmlp/gemm.hpp>

namespace fastmlp::gemm_detail {

// --- layout -----------------------------------------------------------------------
//
// A packed block is a row of micro-panels, W lanes wide (W = MR for A, NR for
// B). Panel q holds `steps` (= kc) groups of W values, lane l of step p being
// op(X)'s element at lane q*W + l and step p; lanes past the end are zero:
//   panel q = [p=0: lanes 0..W-1][p=1: lanes 0..W-1] ... [p=kc-1: ...]
// Panel q starts at q * W * kc; the whole block takes ceil(lanes / W) * W * kc.

// Packs `lanes` x `steps` values whose lane l of step p is at src[p * ld + l]
// (lanes contiguous: op(A) with Trans::Yes, op(B) with Trans::No): a copy, one
// panel at a time, in fixed-size pieces that compilers turn into vector moves.
template <class T, std::size_t W>
void pack_lanes_contiguous(std::size_t lanes, std::size_t steps, const T* src, std::size_t ld,
                           T* dst) {
  for (std::size_t q = 0; q < lanes; q += W, dst += W * steps) {
    const std::size_t w = lanes - q < W ? lanes - q : W;
    const T* s = src + q;
    if (w == W) {
      for (std::size_t p = 0; p < steps; ++p) std::memcpy(dst + p * W, s + p * ld, sizeof(T) * W);
    } else {
      for (std::size_t p = 0; p < steps; ++p) {
        for (std::size_t l = 0; l < w; ++l) dst[p * W + l] = s[p * ld + l];
        for (std::size_t l = w; l < W; ++l) dst[p * W + l] = T(0);
      }
    }
  }
}

// One panel of W lanes, w <= W of them real, whose lane l of step p is at
// src[l * ld + p]: element by element (the portable way, and the edges).
template <class T, std::size_t W>
void pack_transpose_scalar(std::size_t w, std::size_t p0, std::size_t steps, const T* src,
                           std::size_t ld, T* dst) {
  for (std::size_t l = 0; l < w; ++l) {
    const T* s = src + l * ld;
    for (std::size_t p = p0; p < steps; ++p) dst[p * W + l] = s[p];
  }
  for (std::size_t l = w; l < W; ++l)
    for (std::size_t p = p0; p < steps; ++p) dst[p * W + l] = T(0);
}

#if defined(__x86_64__) || defined(_M_X64)
// The same for a full panel, 4 x 4 (float) or 2 x 2 (double) blocks at a time
// through SSE2 registers, part of every x86-64 CPU (so no ISA flags). Returns
// the number of steps done; the caller finishes the rest.
template <std::size_t W>
std::size_t pack_transpose_sse2(std::size_t steps, const float* src, std::size_t ld,
                                float* dst) {
  static_assert(W % 4 == 0, "4 x 4 blocks");
  std::size_t p = 0;
  for (; p + 4 <= steps; p += 4) {
    for (std::size_t l = 0; l < W; l += 4) {
      const float* s = src + l * ld + p;
      __m128 r0 = _mm_loadu_ps(s), r1 = _mm_loadu_ps(s + ld);
      __m128 r2 = _mm_loadu_ps(s + 2 * ld), r3 = _mm_loadu_ps(s + 3 * ld);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      float* d = dst + p * W + l;
      _mm_storeu_ps(d, r0);
      _mm_storeu_ps(d + W, r1);
      _mm_storeu_ps(d + 2 * W, r2);
      _mm_storeu_ps(d + 3 * W, r3);
    }
  }
  return p;
}

template <std::size_t W>
std::size_t pack_transpose_sse2(std::size_t steps, const double* src, std::size_t ld,
                                double* dst) {
  static_assert(W % 2 == 0, "2 x 2 blocks");
  std::size_t p = 0;
  for (; p + 2 <= steps; p += 2) {
    for (std::size_t l = 0; l < W; l += 2) {
      const double* s = src + l * ld + p;
      const __m128d r0 = _mm_loadu_pd(s), r1 = _mm_loadu_pd(s + ld);
      double* d = dst + p * W + l;
      _mm_storeu_pd(d, _mm_unpacklo_pd(r0, r1));
      _mm_storeu_pd(d + W, _mm_unpackhi_pd(r0, r1));
    }
  }
  return p;
}
#endif

// Packs `lanes` x `steps` values whose lane l of step p is at src[l * ld + p]
// (steps contiguous: op(A) with Trans::No, op(B) with Trans::Yes): a transpose,
// in small register blocks where the panel width allows.
template <class T, std::size_t W>
void pack_steps_contiguous(std::size_t lanes, std::size_t steps, const T* src, std::size_t ld,
                           T* dst) {
  for (std::size_t q = 0; q < lanes; q += W, dst += W * steps) {
    const std::size_t w = lanes - q < W ? lanes - q : W;
    std::size_t done = 0;
#if defined(__x86_64__) || defined(_M_X64)
    if constexpr (W % (16 / sizeof(T)) == 0)
      if (w == W) done = pack_transpose_sse2<W>(steps, src + q * ld, ld, dst);
#endif
    pack_transpose_scalar<T, W>(w, done, steps, src + q * ld, ld, dst);
  }
}

// --- the packers ------------------------------------------------------------------

// A block of op(A): mc rows (lanes) by kc columns (steps), MR-wide panels. `A`
// points at the block's first element as stored: row i0, column p0 of op(A) is
// A[i0 * lda + p0] (Trans::No) or A[p0 * lda + i0] (Trans::Yes).
template <class T, std::size_t MR>
void pack_a(Trans trans_a, std::size_t mc, std::size_t kc, const T* A, std::size_t lda,
            T* dst) {
  if (trans_a == Trans::No)
    pack_steps_contiguous<T, MR>(mc, kc, A, lda, dst);
  else
    pack_lanes_contiguous<T, MR>(mc, kc, A, lda, dst);
}

// A block of op(B): kc rows (steps) by nc columns (lanes), NR-wide panels. `B`
// points at the block's first element as stored, as for pack_a.
template <class T, std::size_t NR>
void pack_b(Trans trans_b, std::size_t kc, std::size_t nc, const T* B, std::size_t ldb,
            T* dst) {
  if (trans_b == Trans::No)
    pack_lanes_contiguous<T, NR>(nc, kc, B, ldb, dst);
  else
    pack_steps_contiguous<T, NR>(nc, kc, B, ldb, dst);
}

// What dispatch keeps per kernel: pack_a<T, MR> or pack_b<T, NR> with the
// kernel's widths (the arguments are pack_a's or pack_b's, in order).
template <class T>
using Packer = void (*)(Trans, std::size_t, std::size_t, const T*, std::size_t, T*);

}  // namespace fastmlp::gemm_detail
