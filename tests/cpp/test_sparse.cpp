// C++ tests of CSR input (sparse.hpp): the first layer's two kernels against
// naive dense products (repeated and unsorted indices summed), the weight
// gradient split by columns and chunked by rows against one call, bit for
// bit; check_csr's refusals; the kernels' own checks of a structure that
// changed after check_csr (CsrChanged, nothing read out of bounds), and a fit
// whose callback spoils X (InputChanged, the epoch's start put back); and a
// fit on CSR input against the same fit on the dense matrix (close) and on
// another thread count (bit for bit).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <fastmlp/network.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/sparse.hpp>
#include <fastmlp/train.hpp>

#include "check.hpp"

using namespace fastmlp;

namespace {

using check::throws;

// A random CSR matrix of n x d with k values a row (every fifth row empty;
// each row's last column repeats its first) and the same matrix dense.
template <class I>
struct Sample {
  std::vector<double> data, dense;
  std::vector<I> indptr{0}, indices;
  std::size_t n, d;
  CsrView<double> view() const {
    return {n, d, data.size(), data.data(), indptr.data(), indices.data(), sizeof(I) == 8};
  }
};

template <class I>
Sample<I> sample(std::size_t n, std::size_t d, std::size_t k, std::uint64_t seed) {
  Rng rng(seed);
  Sample<I> s;
  s.n = n;
  s.d = d;
  s.dense.assign(n * d, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < (i % 5 == 4 ? 0 : k); ++j) {
      const std::size_t col = j + 1 == k ? static_cast<std::size_t>(s.indices[s.indices.size() + 1 - k])
                                         : rng.below(d);
      const double v = 2 * rng.uniform() - 1;
      s.indices.push_back(static_cast<I>(col));
      s.data.push_back(v);
      s.dense[i * d + col] += v;
    }
    s.indptr.push_back(static_cast<I>(s.data.size()));
  }
  return s;
}

template <class I>
void test_kernels_against_dense() {
  const std::size_t n = 37, d = 23, out = 11;
  const Sample<I> s = sample<I>(n, d, 4, 1);
  Rng rng(2);
  std::vector<double> W(d * out), b(out), dZ(n * out);
  for (double& w : W) w = rng.uniform() - 0.5;
  for (double& v : b) v = rng.uniform();
  for (double& v : dZ) v = rng.uniform() - 0.5;
  // forward: A = X W + b (identity), against the naive product of the dense matrix
  std::vector<double> A(n * out);
  sparse_forward<double>({A.data(), n, out}, s.view(), RowMap{}, {W.data(), d, out}, b.data(),
                         Activation::Identity);
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < out; ++j) {
      double z = b[j];
      for (std::size_t c = 0; c < d; ++c) z += s.dense[i * d + c] * W[c * out + j];
      worst = std::max(worst, std::abs(z - A[i * out + j]));
    }
  CHECK(worst < 1e-13);
  // backward: dW = X^T dZ, then by column parts and row chunks, bit for bit
  std::vector<double> dW(d * out, 7.0), parts(d * out, 7.0);
  sparse_backward_weight<double>({dW.data(), d, out}, s.view(), RowMap{}, {dZ.data(), n, out}, false);
  worst = 0;
  for (std::size_t c = 0; c < d; ++c)
    for (std::size_t j = 0; j < out; ++j) {
      double g = 0;
      for (std::size_t i = 0; i < n; ++i) g += s.dense[i * d + c] * dZ[i * out + j];
      worst = std::max(worst, std::abs(g - dW[c * out + j]));
    }
  CHECK(worst < 1e-13);
  const MatrixView<double> P(parts.data(), d, out);
  for (std::size_t first = 0; first < out; first += 4) {
    const std::size_t cols = std::min<std::size_t>(4, out - first);
    for (std::size_t row = 0; row < n; row += 10) {
      const std::size_t rows = std::min<std::size_t>(10, n - row);
      sparse_backward_weight<double>(P.cols_range(first, cols), s.view(), RowMap{nullptr, row},
                                     ConstMatrixView<double>(dZ.data(), n, out).rows_range(row, rows).cols_range(first, cols),
                                     row > 0);
    }
  }
  CHECK(std::memcmp(parts.data(), dW.data(), dW.size() * sizeof(double)) == 0);
}

void test_check_csr() {
  Sample<std::int64_t> s = sample<std::int64_t>(6, 5, 3, 3);
  CHECK(throws<std::invalid_argument>([&] { check_csr(s.view(), 4, "X"); }, "columns"));
  s.indices[2] = 5;
  CHECK(throws<std::invalid_argument>([&] { check_csr(s.view(), 5, "X"); }, "indices must be in"));
  s.indices[2] = -1;
  CHECK(throws<std::invalid_argument>([&] { check_csr(s.view(), 5, "X"); }, "indices must be in"));
  s.indices[2] = 0;
  s.indptr[2] += 100;
  CHECK(throws<std::invalid_argument>([&] { check_csr(s.view(), 5, "X"); }, "must not decrease"));
  s.indptr[2] -= 100;
  s.indptr.back() -= 1;
  CHECK(throws<std::invalid_argument>([&] { check_csr(s.view(), 5, "X"); }, "must end at"));
  s.indptr.back() += 1;
  s.data[0] = std::nan("");
  CHECK(throws<std::invalid_argument>([&] { check_csr(s.view(), 5, "X"); }, "finite"));
}

// Each way of spoiling a checked structure, for the kernels' checks: a
// mutation of the sample and the words CsrChanged's message must hold.
template <class I>
std::vector<std::pair<std::function<void(Sample<I>&)>, std::string>> spoilers() {
  const I most = std::numeric_limits<I>::max(), least = std::numeric_limits<I>::min();
  return {
      {[](Sample<I>& s) { s.indices[5] = static_cast<I>(s.d); }, "X.indices[5] = 23 (row 1) is not in [0, 23)"},
      {[=](Sample<I>& s) { s.indices[5] = most; }, "is not in [0, 23)"},
      {[](Sample<I>& s) { s.indices[5] = -1; }, "X.indices[5] = -1 (row 1)"},
      {[=](Sample<I>& s) { s.indices.back() = least; }, "is not in [0, 23)"},
      {[](Sample<I>& s) { s.indptr[3] = s.indptr[4] + 2; }, "indptr decreases after row 3"},
      {[](Sample<I>& s) { s.indptr[3] = -7; }, "row 2's entries are not within [0, "},
      {[](Sample<I>& s) { s.indptr[3] = 1000000; }, "row 2's entries are not within [0, "},
      {[](Sample<I>& s) { s.indptr[0] = 1; }, "indptr[0] = 1, not 0"},
      {[](Sample<I>& s) { s.indptr.back() += 1; }, "not within"},
      {[](Sample<I>& s) { s.indptr.back() -= 1; }, "not the number of stored values"},
  };
}

// The kernels on structures check_csr would refuse: each throws CsrChanged
// naming the matrix, row and position, and reads nothing out of bounds (run
// under ASan: tests/sanitize/run.sh).
template <class I>
void test_kernels_check_what_they_read() {
  const std::size_t n = 37, d = 23, out = 11;
  std::vector<double> W(d * out, 0.5), b(out, 0.0), A(n * out), dZ(n * out, 0.25), dW(d * out);
  std::vector<std::size_t> every(n);
  for (std::size_t i = 0; i < n; ++i) every[i] = i;
  for (const auto& [spoil, words] : spoilers<I>()) {
    Sample<I> s = sample<I>(n, d, 4, 1);
    spoil(s);
    const std::string prefix = "X's sparse structure changed since it was checked, or is malformed: ";
    CHECK(throws<CsrChanged>([&] {
      sparse_forward<double>({A.data(), n, out}, s.view(), RowMap{}, {W.data(), d, out}, b.data(),
                             Activation::Identity);
    }, prefix));
    CHECK(throws<CsrChanged>([&] {
      sparse_forward<double>({A.data(), n, out}, s.view(), RowMap{}, {W.data(), d, out}, b.data(),
                             Activation::Identity);
    }, words));
    CHECK(throws<CsrChanged>([&] {
      sparse_backward_weight<double>({dW.data(), d, out}, s.view(), RowMap{}, {dZ.data(), n, out}, false);
    }, words));
    CHECK(throws<CsrChanged>([&] { select_rows(s.view(), every); }, words));
    CHECK(throws<std::invalid_argument>([&] { check_csr(s.view(), d, "X"); }, "X"));
  }
  // the view's name is the one the message gives
  Sample<I> s = sample<I>(n, d, 4, 1);
  s.indices[0] = -1;
  CsrView<double> v = s.view();
  v.name = "X_val";
  CHECK(throws<CsrChanged>([&] {
    sparse_forward<double>({A.data(), n, out}, v, RowMap{}, {W.data(), d, out}, b.data(), Activation::Identity);
  }, "X_val's sparse structure changed"));
}

// A fit whose callback spoils X after epoch 2 of 5 (threads 1 and 2: the
// kernels then throw on the pool's workers): InputChanged naming epoch 3, the
// network back at the parameters the callback saw, the result the two epochs
// before; then it trains again on a good X.
void test_a_fit_whose_callback_spoils_X() {
  const std::size_t n = 300, d = 200, k = 3;
  std::vector<double> Y(n * k, 0.0);
  for (std::size_t i = 0; i < n; ++i) Y[i * k + i % k] = 1;
  for (const int threads : {1, 2}) {
    for (const bool index : {true, false}) {
      Sample<std::int64_t> s = sample<std::int64_t>(n, d, 6, 4);
      Network<double> net({d, 40, k}, Activation::Tanh, Activation::Softmax, Loss::CrossEntropy,
                          Reduction::Mean);
      net.initialize(Init::Glorot, 5);
      FitData<double> data;
      data.Y = {Y.data(), n, k};
      data.X_csr = s.view();
      data.X = {nullptr, n, d};
      FitOptions options;
      options.epochs = 5;
      options.batch_size = 128;
      options.learning_rate = 0.1;
      options.threads = threads;
      std::vector<double> seen;
      FitHooks hooks;
      hooks.callback = [&](const EpochLog& log) {
        if (log.epoch == 2) {
          seen.assign(net.params(), net.params() + net.n_params());
          if (index)
            s.indices[s.indices.size() / 2] = 1 << 30;
          else
            s.indptr[n / 2] = 1 << 30;
        }
        return true;
      };
      Optimizer<double> optimizer;
      bool thrown = false;
      try {
        fit(net, data, options, optimizer, hooks);
      } catch (const InputChanged& e) {
        thrown = true;
        CHECK(e.epoch() == 3);
        CHECK(e.result().epochs == 2 && e.result().loss.size() == 2);
        CHECK(std::string(e.what()).find("in epoch 3 of this fit; the network keeps its parameters "
                                         "from the end of epoch 2") != std::string::npos);
      }
      CHECK(thrown);
      CHECK(seen.size() == net.n_params() &&
            std::memcmp(seen.data(), net.params(), seen.size() * sizeof(double)) == 0);
      const Sample<std::int64_t> good = sample<std::int64_t>(n, d, 6, 4);
      data.X_csr = good.view();
      options.epochs = 1;
      fit(net, data, options, optimizer);
      bool finite = true;
      for (std::size_t p = 0; p < net.n_params(); ++p) finite = finite && std::isfinite(net.params()[p]);
      CHECK(finite);
    }
  }
}

void test_fit_on_csr() {
  const std::size_t n = 300, d = 200, k = 3;
  const Sample<std::int32_t> s = sample<std::int32_t>(n, d, 6, 4);
  std::vector<double> Y(n * k, 0.0);
  for (std::size_t i = 0; i < n; ++i) Y[i * k + i % k] = 1;
  FitOptions options;
  options.epochs = 3;
  options.batch_size = 64;
  options.learning_rate = 0.1;
  auto trained = [&](bool sparse, int threads) {
    Network<double> net({d, 40, k}, Activation::Tanh, Activation::Softmax, Loss::CrossEntropy,
                        Reduction::Mean);
    net.initialize(Init::Glorot, 5);
    FitData<double> data;
    data.Y = {Y.data(), n, k};
    if (sparse) {
      data.X_csr = s.view();
      data.X = {nullptr, n, d};
    } else {
      data.X = {s.dense.data(), n, d};
    }
    Optimizer<double> optimizer;
    options.threads = threads;
    fit(net, data, options, optimizer);
    return net;
  };
  const Network<double> one = trained(true, 1), two = trained(true, 2), dense = trained(false, 1);
  CHECK(std::memcmp(one.params(), two.params(), one.n_params() * sizeof(double)) == 0);
  double worst = 0;
  for (std::size_t p = 0; p < one.n_params(); ++p)
    worst = std::max(worst, std::abs(one.params()[p] - dense.params()[p]));
  CHECK(worst < 1e-12);
}

}  // namespace

int main() {
  test_kernels_against_dense<std::int32_t>();
  test_kernels_against_dense<std::int64_t>();
  test_check_csr();
  test_kernels_check_what_they_read<std::int32_t>();
  test_kernels_check_what_they_read<std::int64_t>();
  test_a_fit_whose_callback_spoils_X();
  test_fit_on_csr();
  return check::finish("test_sparse");
}
