// C++ tests of the epoch loop's gradient and interruption: the chunked
// parameter gradient against one product per layer, and a stop in the
// middle of a gradient. Bit for bit throughout.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/losses.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/optim.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/threads.hpp>
#include <fastmlp/train.hpp>

#include "check.hpp"

using namespace fastmlp;

namespace {

using check::throws;

template <class T>
bool same_bits(const T* a, const T* b, std::size_t n) {
  return std::memcmp(a, b, n * sizeof(T)) == 0;
}

// n rows of `in` features uniform in [-1, 1) and one-hot targets over `out`
// classes (one column: 0/1), with more rows of class 0 so that balanced
// weights differ from 1; and positive sample weights.
template <class T>
struct Data {
  Matrix<T> X, Y;
  std::vector<T> weight;
  Data(std::size_t n, std::size_t in, std::size_t out, std::uint64_t seed)
      : X(n, in), Y(n, out), weight(n) {
    Rng rng(seed);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < in; ++j) X(i, j) = static_cast<T>(2 * rng.uniform() - 1);
      const std::size_t c = rng.below(2) == 0 ? 0 : rng.below(std::max<std::size_t>(out, 2));
      for (std::size_t j = 0; j < out; ++j) Y(i, j) = T(out == 1 ? c == 1 : c == j);
      weight[i] = static_cast<T>(0.25 + rng.uniform());
    }
  }
};

// loss_and_gradient on more rows than one chunk of phase 2 (whole GEMM
// k-blocks), over no pool and a pool of 2: the same bits as the layers' dense
// operations on all the rows at once, each dW and db one product or sum.
template <class T>
void test_chunked_gradient_is_one_product() {
  const std::size_t n = 1000;  // chunks of 256 rows for this network's 66563 parameters
  Network<T> trained({64, 256, 192, 3}, Activation::Tanh, Activation::Sigmoid);
  trained.initialize(Init::Glorot, 4);
  const Network<T>& net = trained;
  const Data<T> d(n, 64, 3, 8);
  const std::size_t L = net.n_layers();

  // the reference: forward, the loss's dZ, backward, over all n rows
  std::vector<Matrix<T>> A, dZ;
  for (std::size_t l = 0; l < L; ++l) {
    A.emplace_back(n, net.sizes()[l + 1]);
    dZ.emplace_back(n, net.sizes()[l + 1]);
  }
  auto input = [&](std::size_t l) { return l == 0 ? d.X.view() : ConstMatrixView<T>(A[l - 1].view()); };
  for (std::size_t l = 0; l < L; ++l)
    dense_forward(A[l].view(), input(l), net.weight(l), net.bias(l), net.activation(l));
  Matrix<double> terms(n, 3);
  loss_forward_backward<T>(net.loss(), net.activation(L - 1), dZ[L - 1].view(), terms.view(),
                           ConstMatrixView<T>(), A[L - 1].view(), d.Y.view(), T(1), d.weight.data());
  for (std::size_t l = L - 1; l > 0; --l) {
    dense_backward_input(dZ[l - 1].view(), ConstMatrixView<T>(dZ[l].view()), net.weight(l));
    activation_backward<T>(net.activation(l - 1), dZ[l - 1].view(), A[l - 1].view());
  }
  std::vector<T> want(net.n_params());
  for (std::size_t l = 0; l < L; ++l) {
    dense_backward_weight(MatrixView<T>(want.data() + net.weight_offset(l), net.sizes()[l], net.sizes()[l + 1]),
                          input(l), ConstMatrixView<T>(dZ[l].view()));
    dense_backward_bias(want.data() + net.bias_offset(l), ConstMatrixView<T>(dZ[l].view()));
  }
  CHECK(n > 2 * gemm_detail::KC<T>);

  for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &shared_thread_pool(2)}) {
    Workspace<T> ws(net, n, false);
    loss_and_gradient(net, d.X.view(), d.Y.view(), ws, pool, d.weight.data());
    CHECK(same_bits(ws.grads.data(), want.data(), want.size()));
  }
}

// A stop answered inside a full batch's gradient: the batch is discarded, so
// the network holds the parameters of the epochs completed (the same bits as
// a fit of just those epochs), and the stop comes long before the epoch would
// have ended.
void test_stop_inside_a_gradient() {
  const std::size_t n = 4096;
  const Data<double> d(n, 64, 3, 9);
  auto make = [] {
    Network<double> net({64, 256, 192, 3}, Activation::Tanh, Activation::Sigmoid);
    net.initialize(Init::Glorot, 6);
    return net;
  };
  FitOptions options;
  options.epochs = 1000000;
  options.learning_rate = 1e-4;
  for (const int stop_at : {1, 25}) {
    for (const int threads : {1, 2}) {
      options.threads = threads;
      Network<double> net = make();
      int calls = 0;
      const FitResult r = fit(net, d.X.view(), d.Y.view(), options, [&] { return ++calls == stop_at; });
      CHECK(r.stopped && calls == stop_at && r.loss.size() == r.epochs);
      if (stop_at == 1) CHECK(r.epochs == 0);  // the first check comes inside the first gradient
      Network<double> want = make();
      FitOptions just = options;
      just.epochs = r.epochs;
      fit(want, d.X.view(), d.Y.view(), just);
      CHECK(same_bits(net.params(), want.params(), want.n_params()));
    }
  }
}

}  // namespace

int main() {
  test_chunked_gradient_is_one_product<double>();
  test_chunked_gradient_is_one_product<float>();
  test_stop_inside_a_gradient();
  return check::finish("test_train");
}
