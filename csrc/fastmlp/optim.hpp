// Optimisers and learning-rate schedules: one step of each optimiser over the
// flat parameter buffer, and the rate a schedule gives each epoch.
//
// The update formulas are PyTorch's (torch.optim.SGD, Adam, AdamW; written out
// in optim.cpp); invscaling is scikit-learn's. A step walks the buffer in fixed
// chunks spread over a thread pool, so results do not depend on the thread
// count, and allocates nothing. No training loop here: that is train.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fastmlp/matrix.hpp>

namespace fastmlp {

class ThreadPool;

// --- optimisers ---------------------------------------------------------------------

// sgd: plain gradient descent (the article's W -= lr * dW); momentum: SGD with
// (optionally Nesterov) momentum; adam; adamw: Adam with decoupled weight decay.
enum class OptimizerKind { Sgd, Momentum, Adam, AdamW };

OptimizerKind optimizer_from_name(const std::string& name);
const char* optimizer_name(OptimizerKind kind);

// The values and their ranges are options (options.hpp's table).
struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::Sgd;
  double momentum = 0.9;       // momentum: mu
  bool nesterov = false;       // momentum: Nesterov's form
  double beta1 = 0.9;          // adam, adamw: decay of the first moment
  double beta2 = 0.999;        // adam, adamw: decay of the second moment
  double eps = 1e-8;           // adam, adamw: added to sqrt(v)
  bool eps_hat = false;        // adam, adamw: eps added before the bias correction (scikit-learn's)
  double weight_decay = 0.01;  // adamw: decoupled decay rate of the weights
};

// Whether state built under `a` carries over to `b`: same kind, and the same
// values of the settings that kind uses.
bool same_optimizer(const OptimizerConfig& a, const OptimizerConfig& b);

// A run [begin, end) of the flat parameters, and whether l2 and adamw's weight
// decay apply to it (weights: yes; biases: no).
struct ParamSegment {
  std::size_t begin, end;
  bool decay;
};

// What a step applies besides the optimiser's rule.
struct StepOptions {
  double learning_rate = 0.2;
  double l2 = 0;         // added to the gradient of the decayed segments as l2 * W
  double clip_norm = 0;  // > 0: the gradient (after l2) rescaled to this global norm at most
};

// An optimiser and its state (velocity; Adam's moments and step count), kept
// between fits: a fit continues where the last one stopped while the settings
// are the same (see prepare).
template <class T>
class Optimizer {
 public:
  // Ready to step `n_params` parameters under `config`: the state carries over
  // when the last prepare had the same size and same_optimizer(config), and
  // starts afresh otherwise. Allocates (before a fit's loop, never in it).
  void prepare(const OptimizerConfig& config, std::size_t n_params);

  // Forget the state: the next step is a first step.
  void reset() noexcept;

  // One step: grads (laid out as params, covered in order by `segments`) gets
  // l2 * W added and is clipped (in place when clip_norm > 0), then the params
  // move by the optimiser's rule.
  void step(T* params, T* grads, const std::vector<ParamSegment>& segments,
            const StepOptions& options, ThreadPool* pool);

  std::uint64_t steps() const noexcept { return t_; }  // steps since the state began
  const OptimizerConfig& config() const noexcept { return config_; }

  // Everything the next step depends on, so the optimiser can cross a process
  // boundary (a pickled estimator between partial_fit calls) and go on with
  // the same bits. `prepared` false: no state yet (the next fit starts afresh).
  struct State {
    bool prepared = false;
    OptimizerConfig config;
    std::size_t n_params = 0;
    std::vector<T> m, v;  // as m_ and v_: empty where the kind keeps none
    std::uint64_t t = 0;
    double beta1_t = 1, beta2_t = 1;
  };
  State state() const;
  // Becomes `s`. std::invalid_argument when its buffers' sizes do not fit its
  // kind and n_params, or its beta powers are not in [0, 1].
  void restore(const State& s);

 private:
  OptimizerConfig config_;
  bool prepared_ = false;
  std::size_t n_params_ = 0;
  AlignedBuffer<T> m_, v_;        // momentum: m_ the velocity; adam: first and second moments
  std::uint64_t t_ = 0;           // steps taken
  double beta1_t_ = 1, beta2_t_ = 1;  // beta1^t and beta2^t
  std::vector<double> partial_;   // clipping: each chunk's sum of squares
};

// --- learning-rate schedules -----------------------------------------------------------

// constant: lr. step: lr * gamma^floor(e / step_size). invscaling (scikit-
// learn's): lr / (t + 1)^power_t with t = e * rows, the samples seen before the
// epoch. cosine: lr_min + (lr - lr_min) (1 + cos(pi e / epochs)) / 2.
// e counts the epochs of the current fit from 0.
enum class ScheduleKind { Constant, Step, InvScaling, Cosine };

ScheduleKind schedule_from_name(const std::string& name);
const char* schedule_name(ScheduleKind kind);

// The values and their ranges are options (options.hpp's table).
struct Schedule {
  ScheduleKind kind = ScheduleKind::Constant;
  std::uint64_t step_size = 10;  // step: epochs between decays
  double gamma = 0.1;            // step: factor per decay
  double power_t = 0.5;          // invscaling: exponent
  double lr_min = 0;             // cosine: the rate approached at the end
};

// The learning rate of epoch `epoch` (from 0) of a fit of `epochs` epochs over
// `rows` training rows. Computed with + - * / and sqrt only (its cos and pow are
// the project's), so it is the same number on every platform.
double scheduled_rate(const Schedule& schedule, double learning_rate, std::uint64_t epoch,
                      std::uint64_t epochs, std::size_t rows);

}  // namespace fastmlp
