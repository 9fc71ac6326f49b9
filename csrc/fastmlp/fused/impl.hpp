// The fused kernel, written once and compiled by ref.cpp, avx2.cpp and
// avx512.cpp with their own instruction-set flags (lanes and groups of units
// are vectors of that set's intrinsics, below); include nowhere else. Like
// the element-wise sweeps it uses (elementwise/impl.hpp), everything here has
// internal linkage, so that no copy compiled for one instruction set serves
// another's callers; for the same reason activations are told apart by
// their kind, not Activation's (inline, shared) operators.
//
// Rows go through in lane blocks of kLanes: a layer's activations are (units,
// kLanes), one row per lane, so each step of a product is a multiply-add over
// all lanes. The arithmetic of each value is the general path's, step by step:
//   Z = A W: for each row and unit, a chain of fused multiply-adds over the
//     layer's inputs in ascending order, from 0 (gemm's k-block, k <= KC);
//     then + b, then the activation's sweep (activate / softmax_row);
//   the loss and the output dZ: loss_forward_backward's operations per row;
//   dX = dZ W^T: a chain over the layer's units in ascending order, from 0;
//     then activate_backward;
//   dW = A^T dZ: per element a chain over the k-block's rows in row order,
//     from 0, then set or added to dW; db: a chain over all rows in order.
// Widths are padded to groups of kGroup units with zero weights; a padded
// unit never enters a real value's chain (chains run over real inputs only).
#pragma once

#include <math.h>

#include <cstddef>

#include <fastmlp/elementwise/impl.hpp>
#include <fastmlp/fused/kernel.hpp>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define FASTMLP_FUSED_X86 1
#endif

namespace fastmlp::fused_detail {
namespace {

constexpr std::size_t R = kLanes, G = kGroup;

// --- vectors ---------------------------------------------------------------------------
//
// Lanes<T>: kLanes values, one per row of a lane block; Quad<T>: kGroup
// values, a group of units. Written with the intrinsics of the file's
// instruction set (the compiler does not vectorise fused multiply-adds over
// such short arrays), else as plain arrays; the operations are IEEE's either
// way: fma rounds once, add and mul as written.

static_assert(R == 8 && G == 4, "the vectors below hold 8 lanes and 4 units");

template <class T, std::size_t N>
struct Vec {  // portable: an array
  T v[N];
  static Vec load(const T* p) {
    Vec a;
    for (std::size_t i = 0; i < N; ++i) a.v[i] = p[i];
    return a;
  }
  static Vec set1(T x) {
    Vec a;
    for (std::size_t i = 0; i < N; ++i) a.v[i] = x;
    return a;
  }
  void store(T* p) const {
    for (std::size_t i = 0; i < N; ++i) p[i] = v[i];
  }
  friend Vec fma(Vec a, Vec b, Vec c) {
    for (std::size_t i = 0; i < N; ++i) c.v[i] = elementwise_detail::fused(a.v[i], b.v[i], c.v[i]);
    return c;
  }
  friend Vec operator+(Vec a, Vec b) {
    for (std::size_t i = 0; i < N; ++i) a.v[i] = a.v[i] + b.v[i];
    return a;
  }
};
template <class T>
using Lanes = Vec<T, R>;  // a value per row of a block
template <class T>
using Quad = Vec<T, G>;  // a value per unit of a group

#if defined(FASTMLP_FUSED_X86)
#if defined(__AVX512F__)
template <>
struct Vec<double, R> {
  __m512d v;
  static Vec load(const double* p) { return {_mm512_loadu_pd(p)}; }
  static Vec set1(double x) { return {_mm512_set1_pd(x)}; }
  void store(double* p) const { _mm512_storeu_pd(p, v); }
  friend Vec fma(Vec a, Vec b, Vec c) { return {_mm512_fmadd_pd(a.v, b.v, c.v)}; }
  friend Vec operator+(Vec a, Vec b) { return {_mm512_add_pd(a.v, b.v)}; }
};
#else
template <>
struct Vec<double, R> {
  __m256d lo, hi;
  static Vec load(const double* p) { return {_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4)}; }
  static Vec set1(double x) { return {_mm256_set1_pd(x), _mm256_set1_pd(x)}; }
  void store(double* p) const {
    _mm256_storeu_pd(p, lo);
    _mm256_storeu_pd(p + 4, hi);
  }
  friend Vec fma(Vec a, Vec b, Vec c) {
    return {_mm256_fmadd_pd(a.lo, b.lo, c.lo), _mm256_fmadd_pd(a.hi, b.hi, c.hi)};
  }
  friend Vec operator+(Vec a, Vec b) {
    return {_mm256_add_pd(a.lo, b.lo), _mm256_add_pd(a.hi, b.hi)};
  }
};
#endif
template <>
struct Vec<float, R> {
  __m256 v;
  static Vec load(const float* p) { return {_mm256_loadu_ps(p)}; }
  static Vec set1(float x) { return {_mm256_set1_ps(x)}; }
  void store(float* p) const { _mm256_storeu_ps(p, v); }
  friend Vec fma(Vec a, Vec b, Vec c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
  friend Vec operator+(Vec a, Vec b) { return {_mm256_add_ps(a.v, b.v)}; }
};
template <>
struct Vec<double, G> {
  __m256d v;
  static Vec load(const double* p) { return {_mm256_loadu_pd(p)}; }
  static Vec set1(double x) { return {_mm256_set1_pd(x)}; }
  void store(double* p) const { _mm256_storeu_pd(p, v); }
  friend Vec fma(Vec a, Vec b, Vec c) { return {_mm256_fmadd_pd(a.v, b.v, c.v)}; }
  friend Vec operator+(Vec a, Vec b) { return {_mm256_add_pd(a.v, b.v)}; }
};
template <>
struct Vec<float, G> {
  __m128 v;
  static Vec load(const float* p) { return {_mm_loadu_ps(p)}; }
  static Vec set1(float x) { return {_mm_set1_ps(x)}; }
  void store(float* p) const { _mm_storeu_ps(p, v); }
  friend Vec fma(Vec a, Vec b, Vec c) { return {_mm_fmadd_ps(a.v, b.v, c.v)}; }
  friend Vec operator+(Vec a, Vec b) { return {_mm_add_ps(a.v, b.v)}; }
};
#endif

using elementwise_detail::fused;

inline std::size_t padded(std::size_t n) { return (n + G - 1) / G * G; }
inline std::size_t smaller(std::size_t a, std::size_t b) { return a < b ? a : b; }
// std::max's choice, NaN included: the second only when the first is less.
template <class T>
inline T larger(T a, T b) {
  return a < b ? b : a;
}

// --- one layer -------------------------------------------------------------------------

// Z (jp, R) = X (in, R) W + b: W padded to (in, jp), b to (jp). JP: jp when
// fixed at compile time (a small layer, fully unrolled), else 0.
template <class T, std::size_t JP>
void layer_forward(T* Z, const T* X, std::size_t in, const T* W, std::size_t jp_, const T* b) {
  using V = Lanes<T>;
  const std::size_t jp = JP != 0 ? JP : jp_;
  for (std::size_t j0 = 0; j0 < jp; j0 += G) {
    V acc[G];
#pragma GCC unroll 4
    for (std::size_t q = 0; q < G; ++q) acc[q] = V::set1(T(0));
    for (std::size_t p = 0; p < in; ++p) {
      const V x = V::load(X + p * R);
      const T* w = W + p * jp + j0;
#pragma GCC unroll 4
      for (std::size_t q = 0; q < G; ++q) acc[q] = fma(x, V::set1(w[q]), acc[q]);
    }
#pragma GCC unroll 4
    for (std::size_t q = 0; q < G; ++q) (acc[q] + V::set1(b[j0 + q])).store(Z + (j0 + q) * R);
  }
}

// dX (padded(in), R) = dZ (out, R) W^T, W padded to (padded(in), jp).
template <class T, std::size_t JP>
void layer_backward_input(T* dX, const T* dZ, std::size_t out, const T* W, std::size_t jp_,
                          std::size_t in) {
  using V = Lanes<T>;
  const std::size_t jp = JP != 0 ? JP : jp_;
  for (std::size_t p0 = 0; p0 < in; p0 += G) {
    V acc[G];
#pragma GCC unroll 4
    for (std::size_t q = 0; q < G; ++q) acc[q] = V::set1(T(0));
    for (std::size_t j = 0; j < out; ++j) {
      const V d = V::load(dZ + j * R);
#pragma GCC unroll 4
      for (std::size_t q = 0; q < G; ++q) acc[q] = fma(d, V::set1(W[(p0 + q) * jp + j]), acc[q]);
    }
#pragma GCC unroll 4
    for (std::size_t q = 0; q < G; ++q) acc[q].store(dX + (p0 + q) * R);
  }
}

// The first `count` lanes' share of a layer's gradient, in row order: db (jp)
// += dZ's rows, and dW's k-block sums S (in, jp) += X^T dZ. Each group of
// units of a row of S is held in a register while the block's rows go by.
template <class T, std::size_t JP, std::size_t COUNT>
void layer_gradient_rows(T* S, T* db, const T* X, std::size_t in, const T* dZ, std::size_t jp_,
                         std::size_t count_) {
  using Q = Quad<T>;
  const std::size_t count = COUNT != 0 ? COUNT : count_;
  constexpr std::size_t kMaxQuads = kMaxWidth / G;
  const std::size_t jp = JP != 0 ? JP : jp_, quads = jp / G;
  T rows[R * kMaxWidth];  // dZ as (R, jp): each row's units side by side
  for (std::size_t j = 0; j < jp; ++j)
    for (std::size_t r = 0; r < R; ++r) rows[r * jp + j] = dZ[j * R + r];
  Q acc[kMaxQuads];
  for (std::size_t g = 0; g < quads; ++g) acc[g] = Q::load(db + g * G);
  for (std::size_t r = 0; r < count; ++r)
    for (std::size_t g = 0; g < quads; ++g) acc[g] = acc[g] + Q::load(rows + r * jp + g * G);
  for (std::size_t g = 0; g < quads; ++g) acc[g].store(db + g * G);
  for (std::size_t p = 0; p < in; ++p) {
    T* const s = S + p * jp;
    for (std::size_t g = 0; g < quads; ++g) acc[g] = Q::load(s + g * G);
    for (std::size_t r = 0; r < count; ++r) {
      const Q a = Q::set1(X[p * R + r]);
      for (std::size_t g = 0; g < quads; ++g) acc[g] = fma(a, Q::load(rows + r * jp + g * G), acc[g]);
    }
    for (std::size_t g = 0; g < quads; ++g) acc[g].store(s + g * G);
  }
}

// layer_gradient_rows, its loops over rows unrolled for a full block.
template <class T, std::size_t JP>
void layer_gradient(T* S, T* db, const T* X, std::size_t in, const T* dZ, std::size_t jp,
                    std::size_t count) {
  if (count == R)
    layer_gradient_rows<T, JP, R>(S, db, X, in, dZ, jp, count);
  else
    layer_gradient_rows<T, JP, 0>(S, db, X, in, dZ, jp, count);
}

// The three above for a layer of padded width jp: fixed for the narrowest
// widths (whose loops then unroll completely), else a loop.
template <class T>
struct LayerOps {
  void (*forward)(T*, const T*, std::size_t, const T*, std::size_t, const T*);
  void (*backward_input)(T*, const T*, std::size_t, const T*, std::size_t, std::size_t);
  void (*gradient)(T*, T*, const T*, std::size_t, const T*, std::size_t, std::size_t);
};

template <class T, std::size_t JP>
constexpr LayerOps<T> ops_of() {
  return {&layer_forward<T, JP>, &layer_backward_input<T, JP>, &layer_gradient<T, JP>};
}

template <class T>
LayerOps<T> layer_ops(std::size_t jp) {
  switch (jp) {
    case 4: return ops_of<T, 4>();
    case 8: return ops_of<T, 8>();
    default: return ops_of<T, 0>();
  }
}

// --- the output layer --------------------------------------------------------------------

// softmax_row on each lane of A (out, R), in place.
template <class T>
void softmax_lanes(T* A, std::size_t out) {
  T top[R], sum[R];
  for (std::size_t r = 0; r < R; ++r) top[r] = A[r];
  for (std::size_t j = 1; j < out; ++j)
    for (std::size_t r = 0; r < R; ++r) top[r] = larger(top[r], A[j * R + r]);
  for (std::size_t j = 0; j < out; ++j)
    for (std::size_t r = 0; r < R; ++r) A[j * R + r] = A[j * R + r] - top[r];
  elementwise_detail::exp_inplace(A, out * R);
  for (std::size_t r = 0; r < R; ++r) sum[r] = T(0);
  for (std::size_t j = 0; j < out; ++j)
    for (std::size_t r = 0; r < R; ++r) sum[r] = sum[r] + A[j * R + r];
  for (std::size_t r = 0; r < R; ++r) sum[r] = T(1) / sum[r];
  for (std::size_t j = 0; j < out; ++j)
    for (std::size_t r = 0; r < R; ++r) A[j * R + r] = A[j * R + r] * sum[r];
}

// A (out, R) = f(Z) for the output layer, Z already holding its bias.
template <class T>
void activate_output(Activation f, T* A, std::size_t out) {
  if (f.kind == Activation::Softmax)
    softmax_lanes(A, out);
  else
    elementwise_detail::activate(f, A, out * R);
}

// loss_forward_backward for the first `count` lanes: dZ (out, R) and the
// terms of rows first_row.. (each p.terms_per_row long), from A, the logits Z
// (when the loss reads them), the targets Y (out, R) and the lanes' weights.
template <class T>
void loss_lanes(const Problem<T>& p, T* dZ, const T* A, const T* Z, const T* Y, const T* weight,
                std::size_t out, std::size_t count, std::size_t first_row) {
  const Activation f = p.layer[p.layers - 1].f;
  for (std::size_t r = 0; r < count; ++r) {
    double* term = p.terms + (first_row + r) * p.terms_per_row;
    if (p.loss == Loss::Mse) {
      break;  // below, unit by unit over the lanes
    } else if (p.loss == Loss::Poisson) {
      for (std::size_t j = 0; j < out; ++j) {  // poisson_term's operations
        const double a = A[j * R + r], y = Y[j * R + r], z = Z[j * R + r];
        term[j] = y > 0 ? a + y * (::log(y) - 1.0 - z) : a;
        dZ[j * R + r] = A[j * R + r] - Y[j * R + r];
      }
    } else if (f.kind == Activation::Softmax) {
      T top = Z[r];
      for (std::size_t j = 1; j < out; ++j) top = larger(top, Z[j * R + r]);
      double sum_exp = 0, sum_y = 0, sum_yz = 0;
      for (std::size_t j = 0; j < out; ++j) {
        sum_exp += ::exp(static_cast<double>(Z[j * R + r] - top));
        sum_y += Y[j * R + r];
        sum_yz += static_cast<double>(Y[j * R + r]) * static_cast<double>(Z[j * R + r] - top);
      }
      term[0] = sum_y * ::log(sum_exp) - sum_yz;
      for (std::size_t j = 0; j < out; ++j)
        dZ[j * R + r] = A[j * R + r] * static_cast<T>(sum_y) - Y[j * R + r];
    } else {  // cross-entropy after sigmoid
      for (std::size_t j = 0; j < out; ++j) {
        const double zj = Z[j * R + r];
        term[j] = larger(zj, 0.0) - Y[j * R + r] * zj + ::log1p(::exp(-::fabs(zj)));
        dZ[j * R + r] = A[j * R + r] - Y[j * R + r];
      }
    }
  }
  if (p.loss == Loss::Mse) {
    for (std::size_t j = 0; j < out; ++j) {
      double* term = p.terms + first_row * p.terms_per_row + j;
      for (std::size_t r = 0; r < count; ++r) {
        const T d = A[j * R + r] - Y[j * R + r];
        dZ[j * R + r] = d;
        term[r * p.terms_per_row] = 0.5 * static_cast<double>(d) * static_cast<double>(d);
      }
    }
    // activation_backward of the output layer
    if (f.kind == Activation::Softmax) {
      for (std::size_t r = 0; r < count; ++r) {
        T dot = 0;
        for (std::size_t j = 0; j < out; ++j) dot += dZ[j * R + r] * A[j * R + r];
        for (std::size_t j = 0; j < out; ++j)
          dZ[j * R + r] = A[j * R + r] * (dZ[j * R + r] - dot);
      }
    } else {
      elementwise_detail::activate_backward(f, dZ, A, out * R);
    }
  }
  if (p.weight != nullptr) {
    for (std::size_t r = 0; r < count; ++r) {
      const T factor = weight[r] * p.scale;
      for (std::size_t j = 0; j < out; ++j) dZ[j * R + r] *= factor;
    }
  } else if (p.scale != T(1)) {
    for (std::size_t r = 0; r < count; ++r)
      for (std::size_t j = 0; j < out; ++j) dZ[j * R + r] *= p.scale;
  }
}

// --- a k-block ---------------------------------------------------------------------------

// kernel.hpp's kblock.
template <class T>
void run_kblock(const Problem<T>& p, std::size_t first_row, std::size_t rows, bool first_block) {
  const std::size_t L = p.layers;
  const Layer<T>& last = p.layer[L - 1];
  const bool logits = p.loss != Loss::Mse;  // loss_needs_logits, not called: shared inline code

  // Each layer's W and b padded with zeros (ip, jp) and (jp); its dW sums
  // over this k-block, S (in, jp), from 0; its db sums carried on.
  alignas(64) T W[kMaxPaddedWeights];
  alignas(64) T S[kMaxPaddedWeights];
  alignas(64) T b[kMaxLayers][kMaxWidth];
  alignas(64) T db[kMaxLayers][kMaxWidth];
  std::size_t offset[kMaxLayers], jp[kMaxLayers];
  LayerOps<T> ops[kMaxLayers];
  for (std::size_t l = 0, at = 0; l < L; ++l) {
    const Layer<T>& layer = p.layer[l];
    const std::size_t ip = padded(layer.in);
    offset[l] = at;
    jp[l] = padded(layer.out);
    ops[l] = layer_ops<T>(jp[l]);
    for (std::size_t i = 0; i < ip; ++i)
      for (std::size_t j = 0; j < jp[l]; ++j) {
        W[at + i * jp[l] + j] = i < layer.in && j < layer.out ? layer.W[i * layer.out + j] : T(0);
        S[at + i * jp[l] + j] = T(0);
      }
    for (std::size_t j = 0; j < jp[l]; ++j) {
      b[l][j] = j < layer.out ? layer.b[j] : T(0);
      db[l][j] = j < layer.out ? layer.db[j] : T(0);
    }
    at += ip * jp[l];
  }

  // A lane block's inputs, targets and weights, each layer's activations, the
  // output's logits, and dZ / dX on the way down.
  alignas(64) T X[kMaxWidth * R], Y[kMaxWidth * R], weight[R];
  alignas(64) T A[kMaxLayers][kMaxWidth * R];
  alignas(64) T Z[kMaxWidth * R];
  alignas(64) T delta[2][kMaxWidth * R];
  const std::size_t in = p.layer[0].in, out = last.out;
  for (std::size_t base = 0; base < rows; base += R) {
    const std::size_t count = smaller(R, rows - base);
    // lanes past `count` repeat the block's first row; they reach no sum
    const T* x[R];
    const T* y[R];
    for (std::size_t r = 0; r < R; ++r) {
      const std::size_t i = first_row + base + (r < count ? r : 0);
      const std::size_t row = p.order != nullptr ? p.order[p.first + i] : p.first + i;
      x[r] = p.X + row * p.ldx;
      y[r] = p.Y + row * p.ldy;
      weight[r] = p.weight != nullptr ? p.weight[row] : T(1);
    }
    for (std::size_t q = 0; q < in; ++q)
      for (std::size_t r = 0; r < R; ++r) X[q * R + r] = x[r][q];
    for (std::size_t j = 0; j < out; ++j)
      for (std::size_t r = 0; r < R; ++r) Y[j * R + r] = y[r][j];

    // forward
    const T* input = X;
    for (std::size_t l = 0; l + 1 < L; ++l) {
      const Layer<T>& layer = p.layer[l];
      ops[l].forward(A[l], input, layer.in, W + offset[l], jp[l], b[l]);
      elementwise_detail::activate(layer.f, A[l], layer.out * R);  // padded units are never read
      input = A[l];
    }
    T* const out_A = A[L - 1];
    if (logits) {
      ops[L - 1].forward(Z, input, last.in, W + offset[L - 1], jp[L - 1], b[L - 1]);
      for (std::size_t e = 0; e < jp[L - 1] * R; ++e) out_A[e] = Z[e];
    } else {
      ops[L - 1].forward(out_A, input, last.in, W + offset[L - 1], jp[L - 1], b[L - 1]);
    }
    activate_output(last.f, out_A, out);

    // the loss and the output dZ (padded units and unused lanes 0), then down
    T* dZ = delta[0];
    T* dX = delta[1];
    for (std::size_t e = 0; e < jp[L - 1] * R; ++e) dZ[e] = T(0);
    loss_lanes(p, dZ, out_A, Z, Y, weight, out, count, first_row + base);
    for (std::size_t l = L; l-- > 0;) {
      const Layer<T>& layer = p.layer[l];
      const T* below = l == 0 ? X : A[l - 1];
      ops[l].gradient(S + offset[l], db[l], below, layer.in, dZ, jp[l], count);
      if (l == 0) break;
      ops[l].backward_input(dX, dZ, layer.out, W + offset[l], jp[l], layer.in);
      elementwise_detail::activate_backward(p.layer[l - 1].f, dX, A[l - 1], layer.in * R);
      T* const t = dZ;
      dZ = dX;
      dX = t;
    }
  }

  // the k-block's dW sums set, or added as gemm adds a k-block (C = S + C)
  for (std::size_t l = 0; l < L; ++l) {
    const Layer<T>& layer = p.layer[l];
    for (std::size_t i = 0; i < layer.in; ++i)
      for (std::size_t j = 0; j < layer.out; ++j) {
        const T s = S[offset[l] + i * jp[l] + j];
        T& dw = layer.dW[i * layer.out + j];
        dw = first_block ? s : s + dw;
      }
    for (std::size_t j = 0; j < layer.out; ++j) layer.db[j] = db[l][j];
  }
}

}  // namespace
}  // namespace fastmlp::fused_detail
