// The CSR checks, row selection and the first layer's sparse products (see
// sparse.hpp), and prediction on CSR input.
#include <fastmlp/sparse.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <fastmlp/gemm.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp {

// --- reading the structure in the kernels --------------------------------------------------
//
// check_csr passes X before any kernel runs, but X is the caller's and may
// change after (a fit's callback, or another thread, writing into indptr or
// indices). So each kernel reads a row's two indptr entries once, into
// locals, and checks them (a few compares a row), and checks each index as it
// reads it (one unsigned compare a nonzero, which also catches a negative
// one): a changed structure throws CsrChanged, never an access out of bounds.
// A row read twice (forward, then backward) may see two different valid
// structures; that is the caller's race, and reads nothing out of bounds.

#if defined(__GNUC__)
#define FASTMLP_COLD __attribute__((noinline, cold))
#elif defined(_MSC_VER)
#define FASTMLP_COLD __declspec(noinline)
#else
#define FASTMLP_COLD
#endif

namespace {

std::string changed_prefix(const char* name) {
  return std::string(name) + "'s sparse structure changed since it was checked, or is malformed: ";
}

// CsrChanged for row `row`, whose indptr entries read `begin` and `end`.
[[noreturn]] FASTMLP_COLD void bad_row(const char* name, std::size_t rows, std::size_t nnz,
                                       std::size_t row, long long begin, long long end) {
  const std::string r = std::to_string(row), r1 = std::to_string(row + 1);
  const std::string at = "indptr[" + r + "] = " + std::to_string(begin) + ", indptr[" + r1 +
                         "] = " + std::to_string(end);
  std::string why;
  const auto within = [nnz](long long e) { return e >= 0 && static_cast<unsigned long long>(e) <= nnz; };
  if (row == 0 && begin != 0)
    why = "indptr[0] = " + std::to_string(begin) + ", not 0";
  else if (!within(begin) || !within(end))
    why = "row " + r + "'s entries are not within [0, " + std::to_string(nnz) + "] (" + at + ")";
  else if (end < begin)
    why = "indptr decreases after row " + r + " (" + at + ")";
  else
    why = "indptr[" + std::to_string(rows) + "] = " + std::to_string(end) +
          ", not the number of stored values (" + std::to_string(nnz) + ")";
  throw CsrChanged(changed_prefix(name) + why);
}

// CsrChanged for index `index` at position `p`, in row `row`.
[[noreturn]] FASTMLP_COLD void bad_index(const char* name, std::size_t cols, std::size_t row,
                                         std::size_t p, long long index) {
  throw CsrChanged(changed_prefix(name) + name + ".indices[" + std::to_string(p) + "] = " +
                   std::to_string(index) + " (row " + std::to_string(row) + ") is not in [0, " +
                   std::to_string(cols) + ")");
}

// Row r's nonzeros [begin, end), its two indptr entries read once each and
// checked: begin <= end <= nnz (begin, end >= 0), begin == 0 for row 0 and
// end == nnz for the last row.
struct RowSpan {
  std::size_t begin, end;
};
template <class T, class I>
inline RowSpan row_span(const CsrView<T>& X, const I* indptr, std::size_t r) {
  using U = std::make_unsigned_t<I>;
  const I begin = indptr[r], end = indptr[r + 1];
  const U b = static_cast<U>(begin), e = static_cast<U>(end);  // a negative one: huge
  if (b > e || e > X.nnz || (r == 0 && b != 0) || (r + 1 == X.rows && e != X.nnz))
    bad_row(X.name, X.rows, X.nnz, r, static_cast<long long>(begin), static_cast<long long>(end));
  return {static_cast<std::size_t>(b), static_cast<std::size_t>(e)};
}

// indices[p] of row r, read once and checked to be in [0, cols).
template <class T, class I>
inline std::size_t column(const CsrView<T>& X, const I* indices, std::size_t r, std::size_t p) {
  const I k = indices[p];
  if (static_cast<std::make_unsigned_t<I>>(k) >= X.cols)
    bad_index(X.name, X.cols, r, p, static_cast<long long>(k));
  return static_cast<std::size_t>(k);
}

}  // namespace

// --- checks and copies -------------------------------------------------------------------

template <class T>
void check_csr(const CsrView<T>& X, std::size_t cols, const char* name) {
  const std::string n(name);
  if (X.rows == 0) throw std::invalid_argument(n + " has no rows");
  if (X.cols != cols)
    throw std::invalid_argument(n + " has " + std::to_string(X.cols) +
                                " columns but the network takes " + std::to_string(cols) + " inputs");
  // each entry read once, so that a message names the value that failed even
  // while another thread writes into X (the kernels check again as they read)
  X.visit([&](const auto* indptr, const auto* indices) {
    const auto first = indptr[0];
    if (first != 0)
      throw std::invalid_argument(n + ".indptr must start at 0; got " + std::to_string(first));
    auto last = first;
    for (std::size_t i = 0; i < X.rows; ++i) {
      const auto next = indptr[i + 1];
      if (next < last)
        throw std::invalid_argument(n + ".indptr must not decrease; it does after row " +
                                    std::to_string(i));
      last = next;
    }
    // indptr[0] == 0 and non-decreasing: every entry is >= 0, so the cast is safe
    if (static_cast<std::size_t>(last) != X.nnz)
      throw std::invalid_argument(n + ".indptr must end at the number of stored values (" +
                                  std::to_string(X.nnz) + "); got " + std::to_string(last));
    for (std::size_t p = 0; p < X.nnz; ++p) {
      const auto k = indices[p];
      if (k < 0 || static_cast<std::size_t>(k) >= X.cols)
        throw std::invalid_argument(n + ".indices must be in [0, " + std::to_string(X.cols) +
                                    "); found " + std::to_string(k));
    }
  });
  for (std::size_t p = 0; p < X.nnz; ++p) {
    const T v = X.data[p];
    if (!std::isfinite(v))
      throw std::invalid_argument(n + " must be finite; found " + std::to_string(v) +
                                  " among its stored values (position " + std::to_string(p) + ")");
  }
}

template <class T>
Csr<T> select_rows(const CsrView<T>& X, const std::vector<std::size_t>& rows) {
  Csr<T> out;
  out.rows = rows.size();
  out.cols = X.cols;
  out.indptr.reserve(rows.size() + 1);
  X.visit([&](const auto* indptr, const auto* indices) {
    for (const std::size_t r : rows) {
      const RowSpan row = row_span(X, indptr, r);
      for (std::size_t p = row.begin; p < row.end; ++p) {
        out.indices.push_back(static_cast<std::int64_t>(column(X, indices, r, p)));
        out.data.push_back(X.data[p]);
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
      const RowSpan row = row_span(X, indptr, r);
      for (std::size_t p = row.begin; p < row.end; ++p)
        axpy(z, X.data[p], W.row(column(X, indices, r, p)), A.cols);
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
      const RowSpan row = row_span(X, indptr, r);
      for (std::size_t p = row.begin; p < row.end; ++p)
        axpy(dW.row(column(X, indices, r, p)), X.data[p], dZ.row(i), dW.cols);
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
