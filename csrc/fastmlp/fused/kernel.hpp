// What fused.cpp hands the fused kernels (one k-block of a batch's rows at a
// time), and their per-instruction-set entry points (ref.cpp, avx2.cpp,
// avx512.cpp; the body is impl.hpp). Declarations only: the kernel files,
// compiled with instruction-set flags, include this and must not emit shared
// inline code. Include nowhere else.
#pragma once

#include <cstddef>

#include <fastmlp/activations.hpp>
#include <fastmlp/losses.hpp>

namespace fastmlp::fused_detail {

// Up to this many rows go through the layers side by side, one per SIMD lane.
inline constexpr std::size_t kLanes = 8;
// Units are handled in groups of this many (independent chains of
// multiply-adds); a layer's buffers are padded to whole groups.
inline constexpr std::size_t kGroup = 4;
// The padded values of all layers' weights (and of their gradients' per
// k-block sums), at most: both stay in L1 and on the kernel's stack.
inline constexpr std::size_t kMaxPaddedWeights = 2048;
// The widest layer and the most layers (fused.hpp's bounds, repeated here for
// the kernel's array sizes; fused.cpp checks that they agree).
inline constexpr std::size_t kMaxWidth = 32;
inline constexpr std::size_t kMaxLayers = 8;

// One dense layer: its parameters, as Network lays them out, and where its
// gradient goes (laid out the same way in the gradient buffer).
template <class T>
struct Layer {
  const T* W;  // (in, out)
  const T* b;  // (out)
  T* dW;       // (in, out)
  T* db;       // (out)
  std::size_t in, out;
  Activation f;
};

// A batch and its network. Row i of the batch is row order[first + i] of X, Y
// and weight, or row first + i without an order.
template <class T>
struct Problem {
  std::size_t layers;
  Layer<T> layer[kMaxLayers];
  Loss loss;
  const T* X;  // (rows of X, layer[0].in), row stride ldx
  std::size_t ldx;
  const T* Y;  // (rows of Y, layer[layers - 1].out), row stride ldy
  std::size_t ldy;
  const std::size_t* order;
  std::size_t first;
  const T* weight;  // per row of X, or null: every row 1
  T scale;          // the reduction's factor of dZ
  double* terms;    // (batch rows, terms_per_row), the rows' loss terms
  std::size_t terms_per_row;
};

// Rows [first_row, first_row + rows) of the batch, one k-block of the GEMM's
// (rows <= KC, first_row a multiple of KC): the loss terms of those rows into
// p.terms; each layer's dW set (`first_block`) or added to (the k-block's sum
// of A^T dZ, then added, as gemm adds its k-blocks); each db continued row by
// row (zeroed by the caller before the first k-block).
#define FASTMLP_FUSED_DECLARE(ns)                                                      \
  namespace ns {                                                                       \
  void kblock(const Problem<float>& p, std::size_t first_row, std::size_t rows,        \
              bool first_block);                                                       \
  void kblock(const Problem<double>& p, std::size_t first_row, std::size_t rows,       \
              bool first_block);                                                       \
  }
FASTMLP_FUSED_DECLARE(ref)
FASTMLP_FUSED_DECLARE(avx2)
FASTMLP_FUSED_DECLARE(avx512)
#undef FASTMLP_FUSED_DECLARE

}  // namespace fastmlp::fused_detail
