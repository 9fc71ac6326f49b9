// The gradient of a network's loss over a batch of rows: the buffers it needs
// (Workspace), the two phases that compute it over a thread pool, and the
// StopFlag that lets a long batch be abandoned between blocks of rows.
//
// Not the epoch loop, the optimiser or validation (train.hpp, optim.hpp,
// validation.hpp): this file computes one batch's loss and gradient, nothing else.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <thread>

#include <fastmlp/dropout.hpp>
#include <fastmlp/matrix.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/sparse.hpp>

namespace fastmlp {

class ThreadPool;

// Asked while a fit runs (every few milliseconds of work): true stops it.
using StopCheck = std::function<bool()>;

// A StopCheck asked on behalf of work spread over a pool. Only the thread that
// made the flag calls the check (Python answers signals on its main thread
// alone), and only once kWork multiply-adds and kInterval have passed since it
// last did (a Python check takes the GIL); every thread reads the answer from
// an atomic flag. Without a check it never stops.
class StopFlag {
 public:
  explicit StopFlag(const StopCheck* check = nullptr)
      : check_(check != nullptr && *check ? check : nullptr), owner_(std::this_thread::get_id()),
        last_(Clock::now()) {}

  // True once the fit should stop; `work`: the multiply-adds this thread did
  // since its last call.
  bool poll(std::size_t work) {
    if (raised()) return true;
    if (check_ == nullptr || std::this_thread::get_id() != owner_) return false;
    work_ += work;
    if (work_ < kWork) return false;
    work_ = 0;
    const Clock::time_point now = Clock::now();
    if (now - last_ < kInterval) return false;
    last_ = now;
    if (!(*check_)()) return false;
    raised_.store(true, std::memory_order_relaxed);
    return true;
  }
  bool raised() const { return raised_.load(std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kWork = std::size_t(1) << 22;
  static constexpr std::chrono::milliseconds kInterval{4};
  const StopCheck* check_;
  std::thread::id owner_;
  std::size_t work_ = 0;  // the owner's, since the clock was last read
  Clock::time_point last_;
  std::atomic<bool> raised_{false};
};

// The buffers one gradient evaluation (or, without `backward`, one forward
// pass and loss) needs for a network and a number of rows; with `sparse_input`
// no gathered X (a shuffled CSR batch is read through its row order); with
// `dropout`, also the buffers of the network's dropout (for training steps).
template <class T>
class Workspace {
 public:
  Workspace(const Network<T>& net, std::size_t rows, bool gather, bool backward = true,
            bool sparse_input = false, bool dropout = false);
  std::vector<Matrix<T>> activations;  // A of every layer, (rows, units)
  Matrix<T> logits;                    // the output layer's Z, when the loss needs it
  std::vector<Matrix<T>> deltas;       // dZ of every layer, (rows, units); without
                                       // `backward` the output layer's alone
  Matrix<double> loss_terms;           // (rows, loss_terms_per_row)
  Matrix<T> X, Y;                      // a shuffled batch, gathered (when `gather`; X
                                       // only for dense input)
  AlignedBuffer<T> weight;             // its rows' weights, gathered (when `gather`)
  AlignedBuffer<T> grads;              // laid out as Network::params() (when `backward`)
  // With `dropout`, for each hidden layer l with a rate: its
  // mask (rows, units) and its output after dropout, D = A * mask, which the
  // layer above reads (activations[l] keeps A for the derivative); else empty.
  std::vector<Matrix<T>> masks, dropped;
};

// The loss on (X, Y) under the network's reduction, and its gradient with
// respect to every parameter, written to ws.grads (laid out as net.params()).
// X is (n, inputs), Y is (n, outputs), n no more than the workspace's rows;
// both assumed checked (check_fit_inputs). With `weight` (n), row i's loss and
// gradient count weight[i] times, and the mean reduction divides by the sum of
// the weights instead of n (zero when they sum to 0).
template <class T>
double loss_and_gradient(const Network<T>& net, InputView<T> X, InputView<T> Y,
                         Workspace<T>& ws, ThreadPool* pool = nullptr,
                         const T* weight = nullptr);

// The same for a CSR X (checked by check_csr); ws made with `sparse_input`.
template <class T>
double loss_and_gradient(const Network<T>& net, const CsrView<T>& X, InputView<T> Y,
                         Workspace<T>& ws, ThreadPool* pool = nullptr,
                         const T* weight = nullptr);

// std::invalid_argument naming X or Y (`x_name`, `y_name`) unless they can
// train `net`. Large inputs are scanned over `pool`.
template <class T>
void check_fit_inputs(const Network<T>& net, InputView<T> X, InputView<T> Y,
                      const char* x_name = "X", const char* y_name = "Y",
                      ThreadPool* pool = nullptr);

// The same for a CSR X (check_csr) and dense Y.
template <class T>
void check_fit_inputs(const Network<T>& net, const CsrView<T>& X, InputView<T> Y,
                      const char* x_name = "X", const char* y_name = "Y",
                      ThreadPool* pool = nullptr);

// --- for the epoch loop and the validator ---------------------------------------------

// The rows of one gradient: rows [first, first + rows) of X, Y and weight, or,
// with `order`, rows order[first] ... order[first + rows - 1], which phase 1
// gathers into the workspace. With `X_csr`, X is that CSR matrix (and the
// dense X holds only its shape).
template <class T>
struct Batch {
  ConstMatrixView<T> X, Y;
  const T* weight;  // null: every row 1
  const std::size_t* order;
  std::size_t first, rows;
  CsrView<T> X_csr = {};
  const DropoutKey* dropout = nullptr;  // while training: the epoch's masks; null: none
  bool clip_log_loss = false;           // FitOptions::clip_log_loss, for the training loss

  // The row of X that is row i of the batch.
  std::size_t row(std::size_t i) const { return order != nullptr ? order[first + i] : first + i; }
  // The batch's weights (rows), in the workspace once phase 1 has gathered them.
  const T* weights(const Workspace<T>& ws) const {
    if (weight == nullptr) return nullptr;
    return order != nullptr ? ws.weight.data() : weight + first;
  }
  // The sum of the batch's weights, in row order.
  double weight_sum() const {
    double sum = 0;
    for (std::size_t i = 0; i < rows; ++i) sum += weight[row(i)];
    return sum;
  }
};

// The batch's loss under the network's reduction, and its gradient in
// ws.grads; the loss is meaningless and ws.grads partly written once `stop`
// is raised (the caller then discards the batch).
template <class T>
double batch_gradient(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws,
                      ThreadPool* pool, StopFlag& stop);

// The batch's loss under the network's reduction, the forward pass alone:
// the outputs are left in ws.activations.back().
template <class T>
double batch_loss(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws, ThreadPool* pool);

// The batch's loss from its rows' terms in ws.loss_terms (loss_sum; with
// b.clip_log_loss and cross_entropy, clipped first as scikit-learn's log_loss).
template <class T>
double batch_terms_loss(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws, T scale);

// Sizes the gemm scratch of each of the pool's threads for the products of
// batches of up to `rows` rows (with `backward`, their gradients), so that
// the batches allocate nothing, whichever thread takes which task.
template <class T>
void reserve_scratch(const Network<T>& net, std::size_t rows, bool backward, ThreadPool* pool);

}  // namespace fastmlp
