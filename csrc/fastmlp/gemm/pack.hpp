// The packers: copy a block of op(A) or op(B) into the micro-panel layout the
// micro-kernels read (kernel.hpp), zero-padding partial panels.
//
// Packing turns either transpose into the same contiguous, aligned stream, so
// the kernels never see strides or transposes. Portable C++ plus SSE2 (every
// x86-64 has it) for the transposes; no ISA flags. Included by paths.hpp and
// tests, never by a kernel_*.cpp.
#pragma once

#include <cstddef>
#include <cstring>

#include <fastmlp/isa.hpp>

#if defined(FASTMLP_X86)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

#include <fastmlp/gemm.hpp>

namespace fastmlp::gemm_detail {

// --- layout -----------------------------------------------------------------------
//
// A packed block is a row of micro-panels, W lanes wide (W = MR for A, NR for
// B). Panel q holds `kc` steps of W values, lane l of step p being op(X)'s
// element at lane q*W + l and step p; lanes past the end are zero:
//   panel q = [p=0: lanes 0..W-1][p=1: lanes 0..W-1] ... [p=kc-1: ...]
// Panel q starts at q * W * kc; the whole block takes ceil(lanes / W) * W * kc.
//
// A block can be packed in parts (by several threads): part i of n covers a
// share of the panels or of the steps, whichever keeps each part reading whole
// runs of contiguous source memory.

// --- lanes contiguous: a copy -----------------------------------------------------

// Steps [p0, p1) of all `lanes`, whose lane l of step p is at src[p * ld + l]
// (op(A) with Trans::Yes, op(B) with Trans::No). A few steps at a time, each
// source row is copied into every panel, W values per fixed-size memcpy (which
// compilers turn into vector moves): reads run along whole rows, writes along
// short stretches of each panel.
template <class T, std::size_t W>
void pack_lanes_contiguous(std::size_t lanes, std::size_t kc, std::size_t p0, std::size_t p1,
                           const T* src, std::size_t ld, T* dst) {
  constexpr std::size_t kStepsAtOnce = 8;
  const std::size_t full = lanes / W, rest = lanes % W;
  for (std::size_t pb = p0; pb < p1; pb += kStepsAtOnce) {
    const std::size_t pe = pb + kStepsAtOnce < p1 ? pb + kStepsAtOnce : p1;
    for (std::size_t q = 0; q < full; ++q) {
      T* d = dst + q * W * kc;
      for (std::size_t p = pb; p < pe; ++p)
        std::memcpy(d + p * W, src + p * ld + q * W, sizeof(T) * W);
    }
    if (rest != 0) {
      T* d = dst + full * W * kc;
      for (std::size_t p = pb; p < pe; ++p) {
        for (std::size_t l = 0; l < rest; ++l) d[p * W + l] = src[p * ld + full * W + l];
        for (std::size_t l = rest; l < W; ++l) d[p * W + l] = T(0);
      }
    }
  }
}

// --- steps contiguous: a transpose ------------------------------------------------

// One panel, w <= W lanes real, steps [p0, kc), lane l of step p at
// src[l * ld + p]: element by element (the portable way, and the edges).
template <class T, std::size_t W>
void pack_transpose_scalar(std::size_t w, std::size_t p0, std::size_t kc, const T* src,
                           std::size_t ld, T* dst) {
  for (std::size_t l = 0; l < w; ++l) {
    const T* s = src + l * ld;
    for (std::size_t p = p0; p < kc; ++p) dst[p * W + l] = s[p];
  }
  for (std::size_t l = w; l < W; ++l)
    for (std::size_t p = p0; p < kc; ++p) dst[p * W + l] = T(0);
}

#if defined(FASTMLP_X86)
// The same for a full panel, 4 x 4 (float) or 2 x 2 (double) blocks at a time
// through SSE2 registers. Returns how many steps it did; the caller does the rest.
template <std::size_t W>
std::size_t pack_transpose_sse2(std::size_t kc, const float* src, std::size_t ld,
                                float* dst) {
  static_assert(W % 4 == 0, "4 x 4 blocks");
  std::size_t p = 0;
  for (; p + 4 <= kc; p += 4) {
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
std::size_t pack_transpose_sse2(std::size_t kc, const double* src, std::size_t ld,
                                double* dst) {
  static_assert(W % 2 == 0, "2 x 2 blocks");
  std::size_t p = 0;
  for (; p + 2 <= kc; p += 2) {
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

// Panels [q0, q1) of `lanes` x kc values whose lane l of step p is at
// src[l * ld + p] (op(A) with Trans::No, op(B) with Trans::Yes): each source
// row runs along the steps, so a part takes whole panels.
template <class T, std::size_t W>
void pack_steps_contiguous(std::size_t lanes, std::size_t kc, std::size_t q0, std::size_t q1,
                           const T* src, std::size_t ld, T* dst) {
  for (std::size_t q = q0; q < q1; ++q) {
    const std::size_t w = lanes - q * W < W ? lanes - q * W : W;
    const T* s = src + q * W * ld;
    T* d = dst + q * W * kc;
    std::size_t done = 0;
#if defined(FASTMLP_X86)
    if constexpr (W % (16 / sizeof(T)) == 0)
      if (w == W) done = pack_transpose_sse2<W>(kc, s, ld, d);
#endif
    pack_transpose_scalar<T, W>(w, done, kc, s, ld, d);
  }
}

// --- the packers ------------------------------------------------------------------

// Part `part` of `parts` of a packed block of `lanes` x kc values (see layout),
// lanes along a row of the source (`lanes_contiguous`) or along a column.
template <class T, std::size_t W>
void pack_block(bool lanes_contiguous, std::size_t lanes, std::size_t kc, const T* src,
                std::size_t ld, T* dst, std::size_t part, std::size_t parts) {
  if (lanes_contiguous) {
    pack_lanes_contiguous<T, W>(lanes, kc, kc * part / parts, kc * (part + 1) / parts, src, ld,
                                dst);
  } else {
    const std::size_t panels = (lanes + W - 1) / W;
    pack_steps_contiguous<T, W>(lanes, kc, panels * part / parts, panels * (part + 1) / parts,
                                src, ld, dst);
  }
}

// A block of op(A): mc rows (lanes) by kc columns (steps), MR-wide panels. `A`
// points at the block's first element as stored: row i0, column p0 of op(A) is
// A[i0 * lda + p0] (Trans::No) or A[p0 * lda + i0] (Trans::Yes). Packs part
// `part` of `parts` (all of it by default).
template <class T, std::size_t MR>
void pack_a(Trans trans_a, std::size_t mc, std::size_t kc, const T* A, std::size_t lda, T* dst,
            std::size_t part = 0, std::size_t parts = 1) {
  pack_block<T, MR>(trans_a == Trans::Yes, mc, kc, A, lda, dst, part, parts);
}

// A block of op(B): kc rows (steps) by nc columns (lanes), NR-wide panels. `B`
// points at the block's first element as stored, as for pack_a.
template <class T, std::size_t NR>
void pack_b(Trans trans_b, std::size_t kc, std::size_t nc, const T* B, std::size_t ldb, T* dst,
            std::size_t part = 0, std::size_t parts = 1) {
  pack_block<T, NR>(trans_b == Trans::No, nc, kc, B, ldb, dst, part, parts);
}

// What a KernelSet (paths.hpp) keeps per kernel: pack_a<T, MR> or pack_b<T, NR> with the
// kernel's widths, called as packer(trans, rows, cols, src, ld, dst, part, parts).
template <class T>
using Packer = void (*)(Trans, std::size_t, std::size_t, const T*, std::size_t, T*,
                        std::size_t, std::size_t);

}  // namespace fastmlp::gemm_detail
