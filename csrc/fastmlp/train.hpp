// Training: the gradient of the loss, and the epoch loop that applies it.
//
// The defaults are the article's algorithm: full-batch gradient descent on the
// network's loss (mse, summed), W -= learning_rate * dW once per epoch. With a
// batch size, each epoch walks the rows in batches, reshuffled every epoch from
// the seed. Everything a fit needs is allocated once, before the first epoch;
// the loop allocates nothing. Interruption is a hook, so the loop knows no Python.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include <fastmlp/matrix.hpp>
#include <fastmlp/network.hpp>

namespace fastmlp {

class ThreadPool;

struct FitOptions {
  std::size_t epochs = 8000;     // passes over the data
  double learning_rate = 0.2;    // step size on the gradient
  std::size_t batch_size = 0;    // rows per step; 0 (or >= n) is the full batch
  bool shuffle = true;           // reshuffle the rows every epoch (batches only)
  std::uint64_t seed = 0;        // the shuffles' seed
  std::uint64_t first_epoch = 0; // epochs already trained: resumes the shuffle sequence
  int threads = 1;               // threads for the matrix products (results do not depend on it)
};

// Called between epochs (about every few milliseconds of work, not every
// epoch): returning true stops the fit after the epoch just completed.
using StopCheck = std::function<bool()>;

// What fit did: epochs completed, and the loss at each.
struct FitResult {
  std::size_t epochs = 0;
  std::vector<double> loss;  // per epoch: the sum of its batches' losses, under the
                             // network's reduction (mean: divided by n, not per batch)
  bool stopped = false;      // true when the StopCheck ended the fit early
};

// The buffers one gradient evaluation needs for a network and a batch size.
template <class T>
class Workspace {
 public:
  Workspace(const Network<T>& net, std::size_t rows, bool gather);
  std::vector<Matrix<T>> activations;  // A of every layer, (rows, units)
  Matrix<T> logits;                    // the output layer's Z, when the loss needs it
  Matrix<T> delta, delta_next;         // dZ of a layer and of the one below
  Matrix<T> X, Y;                      // a shuffled batch, gathered (when `gather`)
  AlignedBuffer<T> grads;              // laid out as Network::params()
};

// The loss on (X, Y) under the network's reduction, and its gradient with
// respect to every parameter, written to ws.grads (laid out as net.params()).
// X is (n, inputs), Y is (n, outputs), n no more than the workspace's rows;
// both assumed checked (check_fit_inputs).
template <class T>
double loss_and_gradient(const Network<T>& net, InputView<T> X, InputView<T> Y,
                         Workspace<T>& ws, ThreadPool* pool = nullptr);

// std::invalid_argument naming X or Y unless they can train `net`.
template <class T>
void check_fit_inputs(const Network<T>& net, InputView<T> X, InputView<T> Y);

// Train `net` in place on (X, Y) from its current parameters.
template <class T>
FitResult fit(Network<T>& net, InputView<T> X, InputView<T> Y, const FitOptions& options,
              const StopCheck& should_stop = nullptr);

}  // namespace fastmlp
