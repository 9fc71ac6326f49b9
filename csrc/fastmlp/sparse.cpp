// The CSR checks, row selection and the first layer's sparse products (see
// sparse.hpp), and prediction on CSR input.
#include <fastmlp/sparse.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <fastmlp/gemm.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp {

// --- checks and copies -------------------------------------------------------------------

template <class T>
void check_csr(const CsrView<T>& X, std::size_t cols, const char* name) {
  const std::string n(name);
  if (X.rows == 0) throw std::invalid_argument(n + " has no rows");
  if (X.cols != cols)
    throw std::invalid_argument(n + " has " + std::to_string(X.cols) +
                                " columns but the network takes " + std::to_string(cols) + " inputs");
  X.visit([&](const auto* indptr, const auto* indices) {
    if (indptr[0] != 0)
      throw std::invalid_argument(n + ".indptr must start at 0; got " + std::to_string(indptr[0]));
    for (std::size_t i = 0; i < X.rows; ++i)
      if (indptr[i + 1] < indptr[i])
        throw std::invalid_argument(n + ".indptr must not decrease; it does after row " +
                                    std::to_string(i));
    // indptr[0] == 0 and non-decreasing: every entry is >= 0, so the cast is safe
    if (static_cast<std::size_t>(indptr[X.rows]) != X.nnz)
      throw std::invalid_argument(n + ".indptr must end at the number of stored values (" +
                                  std::to_string(X.nnz) + "); got " + std::to_string(indptr[X.rows]));
    for (std::size_t p = 0; p < X.nnz; ++p)
      if (indices[p] < 0 || static_cast<std::size_t>(indices[p]) >= X.cols)
        throw std::invalid_argument(n + ".indices must be in [0, " + std::to_string(X.cols) +
                                    "); found " + std::to_string(indices[p]));
  });
  for (std::size_t p = 0; p < X.nnz; ++p)
    if (!std::isfinite(X.data[p]))
      throw std::invalid_argument(n + " must be finite; found " + std::to_string(X.data[p]) +
                                  " among its stored values (position " + std::to_string(p) + ")");
}

template <class T>
Csr<T> select_rows(const CsrView<T>& X, const std::vector<std::size_t>& rows) {
  Csr<T> out;
  out.rows = rows.size();
  out.cols = X.cols;
  out.indptr.reserve(rows.size() + 1);
  X.visit([&](const auto* indptr, const auto* indices) {
    for (const std::size_t r : rows) {
      for (auto p = indptr[r]; p < indptr[r + 1]; ++p) {
        out.data.push_back(X.data[p]);
        out.indices.push_back(static_cast<std::int64_t>(indices[p]));
      }
      out.indptr.push_back(static_cast<std::int64_t>(out.data.size()));
    }
  });
  return out;
}

// --- the first layer's products ------------------------------------------------------------

namespace {

// y[0, n) += a * x[0, n): the inner loop of both kernels, over the dense side.
template <class T>
inline void axpy(T* __restrict y, T a, const T* __restrict x, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) y[j] += a * x[j];
}

}  // namespace

template <class T>
void sparse_forward(MatrixView<T> A, const CsrView<T>& X, RowMap map, ConstMatrixView<T> W,
                    const T* b, Activation f) {
  X.visit([&](const auto* indptr, const auto* indices) {
    for (std::size_t i = 0; i < A.rows; ++i) {
      T* z = A.row(i);
      std::fill(z, z + A.cols, T(0));
      const std::size_t r = map(i);
      for (auto p = indptr[r]; p < indptr[r + 1]; ++p)
        axpy(z, X.data[p], W.row(static_cast<std::size_t>(indices[p])), A.cols);
    }
  });
  bias_activation_forward(f, A, b);
}

template <class T>
void sparse_backward_weight(MatrixView<T> dW, const CsrView<T>& X, RowMap map,
                            ConstMatrixView<T> dZ, bool accumulate) {
  if (!accumulate)
    for (std::size_t k = 0; k < dW.rows; ++k) std::fill(dW.row(k), dW.row(k) + dW.cols, T(0));
  X.visit([&](const auto* indptr, const auto* indices) {
    for (std::size_t i = 0; i < dZ.rows; ++i) {
      const std::size_t r = map(i);
      for (auto p = indptr[r]; p < indptr[r + 1]; ++p)
        axpy(dW.row(static_cast<std::size_t>(indices[p])), X.data[p], dZ.row(i), dW.cols);
    }
  });
}

// --- prediction -------------------------------------------------------------------------------

namespace {
// Rows per block of sparse_predict: small enough that a block's activations stay in cache.
constexpr std::size_t kPredictBlock = 256;
}  // namespace

template <class T>
void sparse_predict(const Network<T>& net, const CsrView<T>& X, MatrixView<T> out,
                    ThreadPool* pool) {
  check_csr(X, net.n_inputs(), "X");
  if (out.rows != X.rows || out.cols != net.n_outputs())
    throw std::invalid_argument("out must have shape (" + std::to_string(X.rows) + ", " +
                                std::to_string(net.n_outputs()) + ")");
  const std::size_t L = net.n_layers();
  std::size_t widest = 0;
  for (std::size_t l = 1; l < L; ++l) widest = std::max(widest, net.sizes()[l]);
  run_tasks(pool, ceil_div(X.rows, kPredictBlock), [&](std::size_t block) {
    thread_local AlignedBuffer<T> scratch;
    const std::size_t first = block * kPredictBlock;
    const std::size_t rows = std::min(kPredictBlock, X.rows - first);
    if (scratch.size() < 2 * kPredictBlock * widest)
      scratch = AlignedBuffer<T>(2 * kPredictBlock * widest);
    auto layer_out = [&](std::size_t l) {
      return l + 1 == L ? out.rows_range(first, rows)
                        : MatrixView<T>(scratch.data() + (l % 2) * kPredictBlock * widest, rows,
                                        net.sizes()[l + 1]);
    };
    MatrixView<T> in = layer_out(0);
    sparse_forward(in, X, RowMap{nullptr, first}, net.weight(0), net.bias(0), net.activation(0));
    for (std::size_t l = 1; l < L; ++l) {
      const MatrixView<T> a = layer_out(l);
      dense_forward(a, ConstMatrixView<T>(in), net.weight(l), net.bias(l), net.activation(l));
      in = a;
    }
  });
}

// --- instantiations ---------------------------------------------------------------------------

#define FASTMLP_INSTANTIATE(T)                                                                   \
  template void check_csr<T>(const CsrView<T>&, std::size_t, const char*);                       \
  template Csr<T> select_rows<T>(const CsrView<T>&, const std::vector<std::size_t>&);            \
  template void sparse_forward<T>(MatrixView<T>, const CsrView<T>&, RowMap, ConstMatrixView<T>,  \
                                  const T*, Activation);                                         \
  template void sparse_backward_weight<T>(MatrixView<T>, const CsrView<T>&, RowMap,              \
                                          ConstMatrixView<T>, bool);                             \
  template void sparse_predict<T>(const Network<T>&, const CsrView<T>&, MatrixView<T>,           \
                                  ThreadPool*);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
