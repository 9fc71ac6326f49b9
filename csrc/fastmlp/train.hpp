// Training: the epoch loop that applies a batch's gradient (gradient.hpp)
// through an optimiser (optim.hpp), and the options, hooks and results of a fit.
//
// The defaults are the article's algorithm: full-batch gradient descent on the
// network's loss (mse, summed), W -= learning_rate * dW once per epoch. With a
// batch size, each epoch walks the rows in batches, reshuffled every epoch from
// the seed; options add optimisers, schedules, l2, clipping, sample and class
// weights, validation and early stopping. The network's dropout acts here
// alone, with masks from the seed and the epoch (dropout.hpp). Everything a fit needs is allocated
// once, before the first epoch; the loop allocates nothing. Interruption,
// callbacks and progress are hooks, so the loop knows no Python.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fastmlp/gradient.hpp>
#include <fastmlp/matrix.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/optim.hpp>
#include <fastmlp/options.hpp>
#include <fastmlp/sparse.hpp>
#include <fastmlp/validation.hpp>

namespace fastmlp {

class ThreadPool;


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

// Code a fit calls as it runs; every member is optional.
struct FitHooks {
  StopCheck should_stop;          // polled every few milliseconds of work, between batches and
                                  // inside them: true interrupts (see fit)
  EpochCallback callback;         // after every FitOptions::callback_every-th epoch, and the last
  EpochCallback progress;         // after an epoch once `progress_seconds` have passed since
  double progress_seconds = 0.1;  // the fit began or the last call, and after the last epoch
};

// The data of a fit. Views are read in place, never copied (but see
// FitOptions::validation_fraction and class_weight). With X_csr, the input is
// that CSR matrix and X holds only its shape (data null); the same for X_val.
template <class T>
struct FitData {
  ConstMatrixView<T> X, Y;           // (n, inputs), (n, outputs)
  const T* sample_weight = nullptr;  // (n) each row's weight, >= 0; null: every row 1
  ConstMatrixView<T> X_val, Y_val;   // validation rows; none when X_val.rows == 0
  CsrView<T> X_csr, X_val_csr;       // sparse X and X_val; dense when empty()
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
  bool restored = false;           // early stopping put those best parameters back (none
                                   // is best when every figure was NaN)
};

// Thrown when a loss or a parameter becomes NaN or infinite (a parameter also
// when too large to square) and
// FitOptions::stop_on_divergence: the network holds the parameters it had at
// the end of the last epoch that stayed finite, the optimiser's state is reset
// (its moments held the diverged steps), and result() says what was done.
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

// Thrown when a kernel finds the fit's CSR X or X_val changed since the fit
// checked it (CsrChanged: a callback, or another thread, rewrote its indptr
// or indices in place): the network holds the parameters it had at the start
// of the epoch in which it was found, result() the epochs completed before
// it. The optimiser's state is that of the last step taken.
class InputChanged : public CsrChanged {
 public:
  InputChanged(const std::string& what, std::size_t epoch, FitResult result)
      : CsrChanged(what), epoch_(epoch), result_(std::move(result)) {}
  std::size_t epoch() const noexcept { return epoch_; }  // this fit's epoch, from 1
  const FitResult& result() const noexcept { return result_; }

 private:
  std::size_t epoch_;
  FitResult result_;
};

// Train `net` in place from its current parameters. `optimizer` carries its
// state from the last fit when the settings are the same (Optimizer::prepare).
// With options.validation_fraction, fit trains on copies of the rows
// validation_split keeps for training and validates on the others (data's own
// validation rows must then be empty); with options.class_weight, each
// training row's weight (sample_weight's, or 1) is multiplied, in T, by
// class_weights of the training rows. When should_stop interrupts, the batch
// under way is discarded: the network keeps its parameters from the last
// completed step, and the result holds the epochs completed before it.
// Throws Diverged (see FitOptions::stop_on_divergence), std::invalid_argument
// for bad data or options, before anything changes, and InputChanged for a
// CSR input that changes while the fit reads it in place.
template <class T>
FitResult fit(Network<T>& net, const FitData<T>& data, const FitOptions& options,
              Optimizer<T>& optimizer, const FitHooks& hooks = {});

// The same on (X, Y) with a fresh optimiser and only a StopCheck.
template <class T>
FitResult fit(Network<T>& net, InputView<T> X, InputView<T> Y, const FitOptions& options,
              const StopCheck& should_stop = nullptr);

// How early stopping ended a fit, in the words of every progress display (the
// command line's and Python's): "stopped at epoch N; best epoch M (val_loss x)",
// x the figure it watched (the validation loss, else the training loss) at its
// best, or "stopped at epoch N; no epoch was best (val_loss never a number)".
// "" for a fit that early stopping did not end.
std::string early_stopping_summary(const FitResult& result);

}  // namespace fastmlp
