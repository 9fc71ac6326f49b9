// Training: the gradient of the loss, and the epoch loop that applies it.
//
// The defaults are the article's algorithm: full-batch gradient descent on the
// network's loss (mse, summed), W -= learning_rate * dW once per epoch. With a
// batch size, each epoch walks the rows in batches, reshuffled every epoch from
// the seed; options add optimisers, schedules, l2, clipping, sample weights,
// validation and early stopping. Everything a fit needs is allocated once,
// before the first epoch; the loop allocates nothing. Interruption, callbacks
// and progress are hooks, so the loop knows no Python.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fastmlp/matrix.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/optim.hpp>

namespace fastmlp {

class ThreadPool;

struct FitOptions {
  std::size_t epochs = 8000;     // passes over the data
  double learning_rate = 0.2;    // step size on the gradient (the schedule's starting rate)
  std::size_t batch_size = 0;    // rows per step; 0 (or >= n) is the full batch
  bool shuffle = true;           // reshuffle the rows every epoch (batches only)
  std::uint64_t seed = 0;        // the shuffles' seed
  std::uint64_t first_epoch = 0; // epochs already trained: resumes the shuffle sequence
  int threads = 1;               // threads to train on (results do not depend on it)
  OptimizerConfig optimizer;     // sgd: the article's W -= lr * dW
  Schedule schedule;             // the learning rate of each epoch; constant by default
  double l2 = 0;                 // l2 * W added to the weights' gradient at every step
  double clip_norm = 0;          // > 0: the gradient's global norm (after l2) clipped to it
  std::size_t early_stopping = 0;  // > 0: stop after this many epochs without improvement
  double tol = 1e-4;             // the improvement early stopping asks for
  bool stop_on_divergence = true;  // throw Diverged at a non-finite loss or parameter
};

// Called between epochs (about every few milliseconds of work, not every
// epoch): returning true stops the fit after the epoch just completed.
using StopCheck = std::function<bool()>;

// What a callback learns after an epoch. Figures that were not measured are NaN.
struct EpochLog {
  std::size_t epoch = 0;       // epochs completed in this fit, from 1
  std::size_t epochs = 0;      // the fit's number of epochs
  double loss = 0;             // the epoch's training loss
  double learning_rate = 0;    // the epoch's rate
  double val_loss = 0;         // the validation loss after the epoch
  double val_score = 0;        // validation accuracy or R^2 (validation_score_name)
  bool last = false;           // no epoch follows (the fit's last, or early stopping ends it)
};

// Returning false stops the fit after the epoch just completed.
using EpochCallback = std::function<bool(const EpochLog&)>;

// Code a fit calls between epochs; every member is optional.
struct FitHooks {
  StopCheck should_stop;          // polled every few milliseconds of work: true interrupts
  EpochCallback callback;         // after every `callback_every`-th epoch, and after the last
  std::size_t callback_every = 1;
  EpochCallback progress;         // after an epoch once `progress_seconds` have passed since
  double progress_seconds = 0.1;  // the fit began or the last call, and after the last epoch
};

// The data of a fit. Views are read in place, never copied.
template <class T>
struct FitData {
  ConstMatrixView<T> X, Y;           // (n, inputs), (n, outputs)
  const T* sample_weight = nullptr;  // (n) each row's weight, >= 0; null: every row 1
  ConstMatrixView<T> X_val, Y_val;   // validation rows; none when X_val.rows == 0
};

// What fit did: epochs completed, and the figures of each.
struct FitResult {
  std::size_t epochs = 0;
  std::vector<double> loss;  // per epoch: the sum of its batches' losses, under the
                             // network's reduction (mean: divided by n, not per batch)
  std::vector<double> learning_rate;         // per epoch
  std::vector<double> val_loss, val_score;   // per epoch, with validation data
  bool stopped = false;            // the StopCheck interrupted the fit
  bool stopped_by_callback = false;  // a callback returned false
  bool early_stopped = false;      // early stopping ended the fit
  std::size_t best_epoch = 0;      // early stopping: the epoch (from 1) whose figure was
                                   // best, whose parameters the network now holds
};

// Thrown when a loss or a parameter becomes NaN or infinite and
// FitOptions::stop_on_divergence: the network holds the parameters it had at
// the end of the last epoch that stayed finite, and result() what was done.
class Diverged : public std::runtime_error {
 public:
  Diverged(const std::string& what, std::size_t epoch, FitResult result)
      : std::runtime_error(what), epoch_(epoch), result_(std::move(result)) {}
  std::size_t epoch() const noexcept { return epoch_; }  // this fit's epoch, from 1
  const FitResult& result() const noexcept { return result_; }

 private:
  std::size_t epoch_;
  FitResult result_;
};

// The validation figure besides the loss: "accuracy" (outputs and targets of
// the same class, by class_of_row in metrics.hpp) after a
// softmax or sigmoid output layer, "r2" (the coefficient of determination,
// averaged over the outputs as scikit-learn's r2_score) after any other.
const char* validation_score_name(Activation output);

// A seeded split of n rows: round(fraction * n) rows (at least 1) for
// validation, the rest for training, each list in increasing order; the rows
// are drawn by a Fisher-Yates shuffle from Rng(seed ^ 0x5851f42d4c957f2d).
// std::invalid_argument unless 0 < fraction < 1 and both parts have rows.
struct RowSplit {
  std::vector<std::size_t> train, validation;
};
RowSplit validation_split(std::size_t n, double fraction, std::uint64_t seed);

// Each row's weight from its class, for a fit's sample weights. A row's
// class is class_of_row's (metrics.hpp) for its Y row; there are
// max(Y.cols, 2) classes.
// `per_class` holds one weight per class; empty, the weights are
// scikit-learn's "balanced": n / (classes present * count[class]) over the
// classes present in Y. std::invalid_argument for a per_class of another
// length or with a weight that is negative or not finite.
template <class T>
std::vector<T> class_weights(ConstMatrixView<T> Y, const std::vector<double>& per_class = {});

// The buffers one gradient evaluation (or, without `backward`, one forward
// pass and loss) needs for a network and a number of rows.
template <class T>
class Workspace {
 public:
  Workspace(const Network<T>& net, std::size_t rows, bool gather, bool backward = true);
  std::vector<Matrix<T>> activations;  // A of every layer, (rows, units)
  Matrix<T> logits;                    // the output layer's Z, when the loss needs it
  std::vector<Matrix<T>> deltas;       // dZ of every layer, (rows, units); without
                                       // `backward` the output layer's alone
  Matrix<double> loss_terms;           // (rows, loss_terms_per_row)
  Matrix<T> X, Y;                      // a shuffled batch, gathered (when `gather`)
  AlignedBuffer<T> weight;             // its rows' weights, gathered (when `gather`)
  AlignedBuffer<T> grads;              // laid out as Network::params() (when `backward`)
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

// std::invalid_argument naming X or Y (`x_name`, `y_name`) unless they can
// train `net`. Large inputs are scanned over `pool`.
template <class T>
void check_fit_inputs(const Network<T>& net, InputView<T> X, InputView<T> Y,
                      const char* x_name = "X", const char* y_name = "Y",
                      ThreadPool* pool = nullptr);

// Train `net` in place from its current parameters. `optimizer` carries its
// state from the last fit when the settings are the same (Optimizer::prepare).
// Throws Diverged (see FitOptions::stop_on_divergence), std::invalid_argument
// for bad data or options, before anything changes.
template <class T>
FitResult fit(Network<T>& net, const FitData<T>& data, const FitOptions& options,
              Optimizer<T>& optimizer, const FitHooks& hooks = {});

// The same on (X, Y) with a fresh optimiser and only a StopCheck.
template <class T>
FitResult fit(Network<T>& net, InputView<T> X, InputView<T> Y, const FitOptions& options,
              const StopCheck& should_stop = nullptr);

}  // namespace fastmlp
