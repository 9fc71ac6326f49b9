// Training: the gradient of the loss, and the epoch loop that applies it.
//
// The defaults are the article's algorithm: full-batch gradient descent on the
// summed squared error, W -= learning_rate * dW every epoch. Everything a fit
// needs is allocated once, before the first epoch; the loop allocates nothing.
// Progress, interruption and history are hooks, so the loop knows no Python.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include <fastmlp/matrix.hpp>
#include <fastmlp/network.hpp>

namespace fastmlp {

struct FitOptions {
  std::size_t epochs = 8000;   // full passes over the data
  double learning_rate = 0.2;  // step size on the summed gradient
};

// Called between epochs (about every few milliseconds of work, not every
// epoch): returning true stops the fit after the epoch just completed.
using StopCheck = std::function<bool()>;

// What fit did: epochs completed, and the loss at each (before its update).
struct FitResult {
  std::size_t epochs = 0;
  std::vector<double> loss;
  bool stopped = false;  // true when the StopCheck ended the fit early
};

// The buffers one gradient evaluation needs for a network and a row count.
template <class T>
class Workspace {
 public:
  Workspace(const Network<T>& net, std::size_t rows);
  std::vector<Matrix<T>> activations;  // A of every layer, (rows, units)
  Matrix<T> delta, delta_next;         // dZ of a layer and of the one below
  AlignedBuffer<T> grads;              // laid out as Network::params()
};

// The loss for (X, Y) and its gradient with respect to every parameter,
// written to ws.grads (laid out as net.params()). X is (n, inputs), Y is
// (n, outputs); both are assumed checked (check_fit_inputs).
template <class T>
double loss_and_gradient(const Network<T>& net, ConstMatrixView<T> X, ConstMatrixView<T> Y,
                         Workspace<T>& ws);

// std::invalid_argument naming X or Y unless they can train `net`.
template <class T>
void check_fit_inputs(const Network<T>& net, ConstMatrixView<T> X, ConstMatrixView<T> Y);

// Train `net` in place on (X, Y) from its current parameters.
template <class T>
FitResult fit(Network<T>& net, ConstMatrixView<T> X, ConstMatrixView<T> Y,
              const FitOptions& options, const StopCheck& should_stop = nullptr);

}  // namespace fastmlp
