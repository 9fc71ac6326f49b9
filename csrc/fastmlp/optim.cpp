// Optimisers' steps and learning-rate schedules.
//
// The formulas, g being the gradient after l2 and clipping, t the step count:
//   sgd       p -= lr * g
//   momentum  v = mu * v + g;  p -= lr * v,  or with Nesterov  p -= lr * (g + mu * v)
//             (PyTorch's torch.optim.SGD with dampening 0; scikit-learn's form,
//             v = mu * v - lr * g; p += v, differs when the rate changes)
//   adam      m = b1 * m + (1 - b1) g;  v = b2 * v + (1 - b2) g^2;
//             p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//             (torch.optim.Adam: its m_hat / (sqrt(v_hat) + eps), as its code computes it)
//             with eps_hat, eps enters before the correction (the Adam paper's
//             epsilon-hat; scikit-learn's AdamOptimizer, in its order of operations):
//             p += -(lr sqrt(1 - b2^t) / (1 - b1^t)) * m / (sqrt(v) + eps)
//   adamw     p -= lr * weight_decay * p on the weights, then adam (torch.optim.AdamW)
//   clipping  g *= min(1, clip_norm / (||g|| + 1e-6)), ||g|| over every parameter
//             (torch.nn.utils.clip_grad_norm_)
#include <fastmlp/optim.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <stdexcept>

#include <fastmlp/matrix.hpp>
#include <fastmlp/names.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp {

// --- names and checks -------------------------------------------------------------------

namespace {

constexpr OptimizerKind kOptimizers[] = {OptimizerKind::Sgd, OptimizerKind::Momentum,
                                         OptimizerKind::Adam, OptimizerKind::AdamW};
constexpr ScheduleKind kSchedules[] = {ScheduleKind::Constant, ScheduleKind::Step,
                                       ScheduleKind::InvScaling, ScheduleKind::Cosine};

}  // namespace

const char* optimizer_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::Sgd: return "sgd";
    case OptimizerKind::Momentum: return "momentum";
    case OptimizerKind::Adam: return "adam";
    case OptimizerKind::AdamW: return "adamw";
  }
  return "?";
}

OptimizerKind optimizer_from_name(const std::string& name) {
  return from_name("optimizer", name, kOptimizers, optimizer_name);
}

bool same_optimizer(const OptimizerConfig& a, const OptimizerConfig& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case OptimizerKind::Sgd: return true;
    case OptimizerKind::Momentum: return a.momentum == b.momentum && a.nesterov == b.nesterov;
    case OptimizerKind::Adam:
    case OptimizerKind::AdamW:
      return a.beta1 == b.beta1 && a.beta2 == b.beta2 && a.eps == b.eps && a.eps_hat == b.eps_hat &&
             (a.kind == OptimizerKind::Adam || a.weight_decay == b.weight_decay);
  }
  return false;
}

const char* schedule_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::Constant: return "constant";
    case ScheduleKind::Step: return "step";
    case ScheduleKind::InvScaling: return "invscaling";
    case ScheduleKind::Cosine: return "cosine";
  }
  return "?";
}

ScheduleKind schedule_from_name(const std::string& name) {
  return from_name("schedule", name, kSchedules, schedule_name);
}

// --- the optimiser's step -------------------------------------------------------------------

namespace {

constexpr std::size_t kChunk = std::size_t(1) << 14;  // parameters per unit of parallel work

std::size_t chunk_count(std::size_t n) { return ceil_div(n, kChunk); }

// task(c) for every chunk c of n parameters, over the pool when there is one.
template <class F>
void for_each_chunk(std::size_t n, ThreadPool* pool, const F& task) {
  run_tasks(pool, chunk_count(n), task);
}

// f(begin, end, decay) for the part of chunk c that each segment covers.
template <class F>
void for_segments_of_chunk(std::size_t c, std::size_t n, const std::vector<ParamSegment>& segments,
                           const F& f) {
  const std::size_t first = c * kChunk, last = std::min(n, first + kChunk);
  for (const ParamSegment& s : segments) {
    const std::size_t b = std::max(first, s.begin), e = std::min(last, s.end);
    if (b < e) f(b, e, s.decay);
  }
}

// The gradient the optimiser sees at i: g + l2 * p, times the clipping scale;
// with neither, g itself, bit for bit (the article's update stays exact).
template <class T>
struct Gradient {
  const T* g;
  const T* p;
  T l2, scale;
  T operator()(std::size_t i) const {
    T x = g[i];
    if (l2 != T(0)) x += l2 * p[i];
    if (scale != T(1)) x *= scale;
    return x;
  }
};

}  // namespace

template <class T>
void Optimizer<T>::prepare(const OptimizerConfig& config, std::size_t n_params) {
  if (!prepared_ || n_params != n_params_ || !same_optimizer(config, config_)) {
    const bool first_moment = config.kind != OptimizerKind::Sgd;
    const bool second_moment = config.kind == OptimizerKind::Adam || config.kind == OptimizerKind::AdamW;
    m_ = AlignedBuffer<T>(first_moment ? n_params : 0);
    v_ = AlignedBuffer<T>(second_moment ? n_params : 0);
    n_params_ = n_params;
    t_ = 0;
    beta1_t_ = beta2_t_ = 1;
    prepared_ = true;
  }
  config_ = config;
  partial_.resize(chunk_count(n_params));
}

template <class T>
void Optimizer<T>::reset() noexcept {
  std::fill(m_.data(), m_.data() + m_.size(), T(0));
  std::fill(v_.data(), v_.data() + v_.size(), T(0));
  t_ = 0;
  beta1_t_ = beta2_t_ = 1;
}

template <class T>
typename Optimizer<T>::State Optimizer<T>::state() const {
  State s;
  s.prepared = prepared_;
  s.config = config_;
  s.n_params = n_params_;
  s.m.assign(m_.data(), m_.data() + m_.size());
  s.v.assign(v_.data(), v_.data() + v_.size());
  s.t = t_;
  s.beta1_t = beta1_t_;
  s.beta2_t = beta2_t_;
  return s;
}

template <class T>
void Optimizer<T>::restore(const State& s) {
  if (!s.prepared) {
    *this = Optimizer<T>();
    return;
  }
  const bool first_moment = s.config.kind != OptimizerKind::Sgd;
  const bool second_moment = s.config.kind == OptimizerKind::Adam || s.config.kind == OptimizerKind::AdamW;
  if (s.m.size() != (first_moment ? s.n_params : 0) || s.v.size() != (second_moment ? s.n_params : 0))
    throw std::invalid_argument("optimizer state: its moments do not match its kind and parameter count");
  if (!(s.beta1_t >= 0 && s.beta1_t <= 1 && s.beta2_t >= 0 && s.beta2_t <= 1))
    throw std::invalid_argument("optimizer state: beta powers must be in [0, 1]");
  AlignedBuffer<T> m(s.m.size()), v(s.v.size());
  std::copy(s.m.begin(), s.m.end(), m.data());
  std::copy(s.v.begin(), s.v.end(), v.data());
  m_ = std::move(m);
  v_ = std::move(v);
  config_ = s.config;
  n_params_ = s.n_params;
  t_ = s.t;
  beta1_t_ = s.beta1_t;
  beta2_t_ = s.beta2_t;
  prepared_ = true;
}

template <class T>
void Optimizer<T>::step(T* p, T* g, const std::vector<ParamSegment>& segments,
                        const StepOptions& options, ThreadPool* pool) {
  const std::size_t n = n_params_;
  T l2 = static_cast<T>(options.l2), scale = T(1);

  if (options.clip_norm > 0) {
    // g += l2 * W in place, each chunk's sum of squares, then their sum in chunk
    // order: the norm does not depend on the thread count.
    const auto sum_squares = [&](std::size_t c) {
      double sum = 0;
      for_segments_of_chunk(c, n, segments, [&](std::size_t b, std::size_t e, bool decay) {
        const T decay_l2 = decay ? l2 : T(0);
        for (std::size_t i = b; i < e; ++i) {
          if (decay_l2 != T(0)) g[i] += decay_l2 * p[i];
          sum += static_cast<double>(g[i]) * static_cast<double>(g[i]);
        }
      });
      partial_[c] = sum;
    };
    for_each_chunk(n, pool, sum_squares);
    double total = 0;
    for (double s : partial_) total += s;
    const double coef = options.clip_norm / (std::sqrt(total) + 1e-6);
    if (coef < 1) scale = static_cast<T>(coef);
    l2 = T(0);  // already in g
  }

  ++t_;
  const T lr = static_cast<T>(options.learning_rate);
  const OptimizerConfig& c = config_;
  T* m = m_.data();
  T* v = v_.data();
  // Each optimiser as f(b, e, G, decay) over one run of parameters.
  const auto run = [&](const auto& update) {
    const auto task = [&](std::size_t chunk) {
      for_segments_of_chunk(chunk, n, segments, [&](std::size_t b, std::size_t e, bool decay) {
        update(b, e, Gradient<T>{g, p, decay ? l2 : T(0), scale}, decay);
      });
    };
    for_each_chunk(n, pool, task);
  };

  switch (c.kind) {
    case OptimizerKind::Sgd:
      run([&](std::size_t b, std::size_t e, const Gradient<T>& G, bool) {
        for (std::size_t i = b; i < e; ++i) p[i] -= lr * G(i);
      });
      return;
    case OptimizerKind::Momentum: {
      const T mu = static_cast<T>(c.momentum);
      if (c.nesterov)
        run([&](std::size_t b, std::size_t e, const Gradient<T>& G, bool) {
          for (std::size_t i = b; i < e; ++i) {
            const T gi = G(i);
            m[i] = mu * m[i] + gi;
            p[i] -= lr * (gi + mu * m[i]);
          }
        });
      else
        run([&](std::size_t b, std::size_t e, const Gradient<T>& G, bool) {
          for (std::size_t i = b; i < e; ++i) {
            m[i] = mu * m[i] + G(i);
            p[i] -= lr * m[i];
          }
        });
      return;
    }
    case OptimizerKind::Adam:
    case OptimizerKind::AdamW: {
      beta1_t_ *= c.beta1;
      beta2_t_ *= c.beta2;
      const T b1 = static_cast<T>(c.beta1), one_minus_b1 = static_cast<T>(1 - c.beta1);
      const T b2 = static_cast<T>(c.beta2), one_minus_b2 = static_cast<T>(1 - c.beta2);
      const T step_size = static_cast<T>(options.learning_rate / (1 - beta1_t_));
      const T correction2 = static_cast<T>(std::sqrt(1 - beta2_t_));
      const T eps = static_cast<T>(c.eps);
      const T decay_rate =
          c.kind == OptimizerKind::AdamW ? static_cast<T>(options.learning_rate * c.weight_decay) : T(0);
      if (c.eps_hat) {
        const T neg_rate = static_cast<T>(-(options.learning_rate * std::sqrt(1 - beta2_t_) / (1 - beta1_t_)));
        run([&](std::size_t b, std::size_t e, const Gradient<T>& G, bool decay) {
          const T wd = decay ? decay_rate : T(0);
          for (std::size_t i = b; i < e; ++i) {
            const T gi = G(i);
            if (wd != T(0)) p[i] -= wd * p[i];
            m[i] = b1 * m[i] + one_minus_b1 * gi;
            v[i] = b2 * v[i] + one_minus_b2 * (gi * gi);
            p[i] += neg_rate * m[i] / (std::sqrt(v[i]) + eps);
          }
        });
        return;
      }
      run([&](std::size_t b, std::size_t e, const Gradient<T>& G, bool decay) {
        const T wd = decay ? decay_rate : T(0);
        for (std::size_t i = b; i < e; ++i) {
          const T gi = G(i);  // before the decay: g was taken at the old p
          if (wd != T(0)) p[i] -= wd * p[i];
          m[i] = b1 * m[i] + one_minus_b1 * gi;
          v[i] = b2 * v[i] + one_minus_b2 * gi * gi;
          p[i] -= step_size * m[i] / (std::sqrt(v[i]) / correction2 + eps);
        }
      });
      return;
    }
  }
}

// --- schedules --------------------------------------------------------------------------

namespace {

// std::cos and std::pow differ in their last bits between C libraries; these
// (with rng.hpp's portable_log) use + - * / only (and frexp/ldexp, which are
// exact), so a rate is the same number everywhere. Accurate to a few ulp over
// the ranges used here.

constexpr double kPi = 3.141592653589793;
constexpr double kLn2Hi = 0.693145751953125;  // few bits: k * kLn2Hi is exact
constexpr double kLn2Lo = 1.4286068203094173e-06;

// cos(pi x) for x in [0, 1]: Taylor's series in pi x up to x <= 1/2 (|pi x| <=
// pi/2; 12 terms leave less than 1e-19), then cos(pi x) = -cos(pi (1 - x)).
double cos_pi(double x) {
  if (x > 0.5) return -cos_pi(1 - x);
  const double t2 = (kPi * x) * (kPi * x);
  double sum = 1;  // 1 - t^2/(1*2) (1 - t^2/(3*4) (1 - ...)), innermost first
  for (int k = 12; k >= 1; --k) sum = 1 - sum * t2 / ((2.0 * k - 1) * (2.0 * k));
  return sum;
}

// e^y for |y| < 700: y = n ln 2 + r, |r| <= 0.35, Taylor's series in r (17
// terms), scaled by 2^n.
double exp_portable(double y) {
  y = std::min(std::max(y, -740.0), 710.0);  // beyond: 0 or inf all the same
  const double n = std::floor(y * 1.4426950408889634 + 0.5);
  const double r = (y - n * kLn2Hi) - n * kLn2Lo;
  double sum = 1;  // 1 + r (1 + r/2 (1 + r/3 (...)))
  for (int j = 17; j >= 1; --j) sum = 1 + sum * r / j;
  return std::ldexp(sum, static_cast<int>(n));
}

// base^k by squaring.
double power(double base, std::uint64_t k) {
  double result = 1;
  for (; k != 0; k >>= 1, base *= base)
    if (k & 1) result *= base;
  return result;
}

}  // namespace

double scheduled_rate(const Schedule& s, double lr, std::uint64_t epoch, std::uint64_t epochs,
                      std::size_t rows) {
  switch (s.kind) {
    case ScheduleKind::Constant:
      return lr;
    case ScheduleKind::Step:
      return lr * power(s.gamma, epoch / s.step_size);
    case ScheduleKind::InvScaling: {
      // scikit-learn's MLP: t_ += n_samples after each epoch, then
      // learning_rate = learning_rate_init / (t_ + 1) ** power_t
      const double t = static_cast<double>(epoch) * static_cast<double>(rows);
      return lr / exp_portable(s.power_t * portable_log(t + 1));
    }
    case ScheduleKind::Cosine: {
      // torch.optim.lr_scheduler.CosineAnnealingLR with T_max = the fit's epochs
      const double x = epochs == 0 ? 0 : static_cast<double>(epoch) / static_cast<double>(epochs);
      return s.lr_min + (lr - s.lr_min) * (1 + cos_pi(x)) / 2;
    }
  }
  return lr;
}

// --- instantiations -----------------------------------------------------------------------

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace fastmlp
