// The packers: copy a block of op(A) or op(B) into the micro-panel layout the
// micro-kernels read (kernel.hpp), zero-padding partial panels.
//
// Packing turns either transpose into the same contiguous, aligned stream, so
// the kernels never see strides or transposes. Portable C++, compiled without
// ISA flags (included by dispatch.cpp and tests, never by a kernel_*.cpp).
#pragma once

#include <cstddef>

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
// (lanes contiguous: op(A) with Trans::Yes, op(B) with Trans::No).
template <class T, std::size_t W>
void pack_lanes_contiguous(std::size_t lanes, std::size_t steps, const T* src, std::size_t ld,
                           T* dst) {
  for (std::size_t q = 0; q < lanes; q += W, dst += W * steps) {
    const std::size_t w = lanes - q < W ? lanes - q : W;
    const T* s = src + q;
    if (w == W) {
      for (std::size_t p = 0; p < steps; ++p)
        for (std::size_t l = 0; l < W; ++l) dst[p * W + l] = s[p * ld + l];
    } else {
      for (std::size_t p = 0; p < steps; ++p) {
        for (std::size_t l = 0; l < w; ++l) dst[p * W + l] = s[p * ld + l];
        for (std::size_t l = w; l < W; ++l) dst[p * W + l] = T(0);
      }
    }
  }
}

// Packs `lanes` x `steps` values whose lane l of step p is at src[l * ld + p]
// (steps contiguous: op(A) with Trans::No, op(B) with Trans::Yes). Each source
// row is read front to back; the writes stride through one panel, which
// (W * steps values) stays in L1.
template <class T, std::size_t W>
void pack_steps_contiguous(std::size_t lanes, std::size_t steps, const T* src, std::size_t ld,
                           T* dst) {
  for (std::size_t q = 0; q < lanes; q += W, dst += W * steps) {
    const std::size_t w = lanes - q < W ? lanes - q : W;
    for (std::size_t l = 0; l < w; ++l) {
      const T* s = src + (q + l) * ld;
      for (std::size_t p = 0; p < steps; ++p) dst[p * W + l] = s[p];
    }
    for (std::size_t l = w; l < W; ++l)
      for (std::size_t p = 0; p < steps; ++p) dst[p * W + l] = T(0);
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
