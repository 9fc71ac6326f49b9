// Sparse input: a CSR view of a caller's matrix, its checks, and the first
// layer's two products with it, run over the nonzeros.
//
// Dimension letters as network.hpp: X is (n, in) in CSR form, W (in, out).
// The kernels never densify X: Z = X W + b walks each row's nonzeros and adds
// x_ik * W[k, :] into row i of Z (vectorised over the dense side, out), and
// dW = X^T dZ scatters x_ik * dZ[i, :] into row k of dW, rows in order. Not the
// dense layers (network.hpp) nor the batch loop (gradient.hpp), which call these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <fastmlp/activations.hpp>
#include <fastmlp/matrix.hpp>

namespace fastmlp {

template <class T>
class Network;
class ThreadPool;

// A non-owning CSR matrix, as scipy.sparse keeps one: row i's nonzeros are
// data[p] at column indices[p] for p in [indptr[i], indptr[i + 1]). indptr and
// indices are both int32 or both int64 (`wide`). Columns within a row may be
// unsorted or repeated (repeats add up, as in scipy's products). Empty (no
// indptr) when the input is dense. `name` names it in the kernels' errors.
//
// The arrays are the caller's, read in place, and may change after check_csr
// has passed them (a fit's callback, or another thread, writing into them):
// every kernel below checks each row's indptr entries and each index it
// reads, and throws CsrChanged rather than read or write out of bounds.
template <class T>
struct CsrView {
  std::size_t rows = 0, cols = 0, nnz = 0;
  const T* data = nullptr;
  const void* indptr = nullptr;   // (rows + 1)
  const void* indices = nullptr;  // (nnz)
  bool wide = false;
  const char* name = "X";         // a string that outlives the view

  bool empty() const noexcept { return indptr == nullptr; }

  // f(indptr, indices) with the pointers of their real type.
  template <class F>
  decltype(auto) visit(F&& f) const {
    if (wide)
      return f(static_cast<const std::int64_t*>(indptr), static_cast<const std::int64_t*>(indices));
    return f(static_cast<const std::int32_t*>(indptr), static_cast<const std::int32_t*>(indices));
  }
};

// An owning CSR matrix (int64 indices), for rows a fit copies out.
template <class T>
struct Csr {
  std::size_t rows = 0, cols = 0;
  std::vector<T> data;
  std::vector<std::int64_t> indptr{0}, indices;

  CsrView<T> view(const char* name = "X") const noexcept {
    return {rows, cols, data.size(), data.data(), indptr.data(), indices.data(), true, name};
  }
};

// What a kernel (select_rows, sparse_forward, sparse_backward_weight,
// sparse_predict) throws when the structure it reads is not a well-formed CSR
// matrix of its shape: an indptr entry out of order or outside [0, nnz] (or
// indptr[0] != 0, indptr[rows] != nnz), an index outside [0, cols). Its
// message names the matrix, the row and the position. check_csr passed the
// structure before, so it changed since (or the kernel was called on one
// that was never checked); the kernel read nothing out of bounds. Thrown
// from a pool's worker, it reaches the caller (ThreadPool::parallel_for).
class CsrChanged : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// std::invalid_argument naming `name` unless X is a well-formed CSR matrix of
// `cols` columns and at least one row: indptr starts at 0, never decreases and
// ends at nnz; every index in [0, cols); every value finite. Runs before any
// kernel reads X: nothing out of bounds is ever read.
template <class T>
void check_csr(const CsrView<T>& X, std::size_t cols, const char* name);

// Rows `rows` of X, in that order, as an owning matrix; CsrChanged as the kernels.
template <class T>
Csr<T> select_rows(const CsrView<T>& X, const std::vector<std::size_t>& rows);

// --- the first layer's products --------------------------------------------------------

// The rows of X a batch reads: row i of the batch is X's row order[first + i],
// or first + i without `order`.
struct RowMap {
  const std::size_t* order = nullptr;
  std::size_t first = 0;
  std::size_t operator()(std::size_t i) const { return order != nullptr ? order[first + i] : first + i; }
};

// A (rows, out) = f(X W + b) over the batch's rows `map` of X (A.rows of them),
// each row's nonzeros added in storage order. CsrChanged when the rows'
// structure is not well formed (A then holds some rows' results).
template <class T>
void sparse_forward(MatrixView<T> A, const CsrView<T>& X, RowMap map, ConstMatrixView<T> W,
                    const T* b, Activation f);

// dW (in, cols) = X^T dZ over the batch's rows `map` of X (dZ.rows of them),
// dZ (rows, cols) holding some columns of the layer's dZ and dW the same
// columns of its weight gradient; with `accumulate`, dW += X^T dZ. Each
// element sums its rows in row order, so splitting the columns (over threads)
// or the rows (into chunks, accumulating) changes no bit. CsrChanged as
// sparse_forward (dW then holds a partial sum).
template <class T>
void sparse_backward_weight(MatrixView<T> dW, const CsrView<T>& X, RowMap map,
                            ConstMatrixView<T> dZ, bool accumulate);

// out (n, outputs) = the network's output for X (n, inputs), checked by
// check_csr; rows in blocks over `pool`, each row's result independent of
// the blocks. CsrChanged when X changes under it (out then holds some rows).
template <class T>
void sparse_predict(const Network<T>& net, const CsrView<T>& X, MatrixView<T> out,
                    ThreadPool* pool = nullptr);

}  // namespace fastmlp
