// Row-major matrices: an owning Matrix<T> and a non-owning MatrixView<T>.
//
// A view is (data, rows, cols, stride): element (i, j) lives at
// data[i * stride + j]. Views are how arrays cross every boundary in the core
// (NumPy arrays arrive as views, without copying). Matrix<T> owns a 64-byte
// aligned buffer, sized once; there is no resizing and no expression algebra.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace fastmlp {

// --- errors --------------------------------------------------------------------

// A buffer that cannot be had: std::bad_alloc with a message saying which.
class OutOfMemory : public std::bad_alloc {
 public:
  explicit OutOfMemory(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// --- size arithmetic ----------------------------------------------------------

// ceil(a / b) for b > 0, without overflow for any a.
inline std::size_t ceil_div(std::size_t a, std::size_t b) { return a == 0 ? 0 : 1 + (a - 1) / b; }

// x rounded up to a multiple of `to` (> 0).
inline std::size_t round_up(std::size_t x, std::size_t to) { return ceil_div(x, to) * to; }

// a * b, or std::length_error naming `what` if the product overflows size_t.
inline std::size_t checked_mul(std::size_t a, std::size_t b, const char* what) {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a)
    throw std::length_error(std::string(what) + " is too large (size overflows)");
  return a * b;
}

// a + b, or std::length_error naming `what` if the sum overflows size_t.
inline std::size_t checked_add(std::size_t a, std::size_t b, const char* what) {
  if (b > std::numeric_limits<std::size_t>::max() - a)
    throw std::length_error(std::string(what) + " is too large (size overflows)");
  return a + b;
}

// --- aligned storage ------------------------------------------------------------

struct AlignedFree {
  void operator()(void* p) const noexcept { ::operator delete(p, std::align_val_t{64}); }
};

// An owning, zero-initialised, 64-byte aligned array of n T's.
template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::size_t n) : size_(n) {
    if (n == 0) return;
    const std::size_t bytes = checked_mul(n, sizeof(T), "buffer");
    const std::size_t rounded = checked_add(bytes, 63, "buffer") / 64 * 64;
    void* p = ::operator new(rounded, std::align_val_t{64}, std::nothrow);
    if (p == nullptr)
      throw OutOfMemory("cannot allocate " + std::to_string(rounded) + " bytes");
    ptr_.reset(p);
    for (std::size_t i = 0; i < n; ++i) data()[i] = T(0);
  }
  T* data() noexcept { return static_cast<T*>(ptr_.get()); }
  const T* data() const noexcept { return static_cast<const T*>(ptr_.get()); }
  std::size_t size() const noexcept { return size_; }

 private:
  std::unique_ptr<void, AlignedFree> ptr_;
  std::size_t size_ = 0;
};

// --- views ------------------------------------------------------------------------

// A non-owning row-major view; T may be const.
template <class T>
struct MatrixView {
  T* data = nullptr;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::size_t stride = 0;  // elements between the starts of consecutive rows

  MatrixView() = default;
  MatrixView(T* d, std::size_t r, std::size_t c) : data(d), rows(r), cols(c), stride(c) {}
  MatrixView(T* d, std::size_t r, std::size_t c, std::size_t s)
      : data(d), rows(r), cols(c), stride(s) {}
  // A mutable view converts to a const one.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T>>>
  MatrixView(const MatrixView<U>& v) : data(v.data), rows(v.rows), cols(v.cols), stride(v.stride) {}

  T* row(std::size_t i) const noexcept { return data + i * stride; }
  T& operator()(std::size_t i, std::size_t j) const noexcept { return data[i * stride + j]; }
  // Rows [begin, begin + count) of this view.
  MatrixView rows_range(std::size_t begin, std::size_t count) const noexcept {
    return MatrixView(data + begin * stride, count, cols, stride);
  }
  // Columns [begin, begin + count) of this view.
  MatrixView cols_range(std::size_t begin, std::size_t count) const noexcept {
    return MatrixView(data + begin, rows, count, stride);
  }
};

template <class T>
using ConstMatrixView = MatrixView<const T>;

// T, in a form template deduction skips: functions taking a Network<T> and
// views of its data deduce T from the network alone, so mutable views and
// matrices convert to const views at the call.
template <class T>
struct NonDeduced {
  using type = T;
};
template <class T>
using InputView = ConstMatrixView<typename NonDeduced<T>::type>;

// --- owning matrix ------------------------------------------------------------------

// An owning, contiguous (stride == cols), zero-initialised matrix.
template <class T>
class Matrix {
 public:
  Matrix() = default;
  Matrix(std::size_t rows, std::size_t cols)
      : buf_(checked_mul(rows, cols, "matrix")), rows_(rows), cols_(cols) {}

  std::size_t rows() const noexcept { return rows_; }
  std::size_t cols() const noexcept { return cols_; }
  T* data() noexcept { return buf_.data(); }
  const T* data() const noexcept { return buf_.data(); }
  T& operator()(std::size_t i, std::size_t j) noexcept { return buf_.data()[i * cols_ + j]; }
  T operator()(std::size_t i, std::size_t j) const noexcept { return buf_.data()[i * cols_ + j]; }
  MatrixView<T> view() noexcept { return {buf_.data(), rows_, cols_}; }
  ConstMatrixView<T> view() const noexcept { return {buf_.data(), rows_, cols_}; }

 private:
  AlignedBuffer<T> buf_;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
};

}  // namespace fastmlp
