// The gradient of the loss and the epoch loop.
#include <fastmlp/train.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>

#include <fastmlp/losses.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp {

template <class T>
Workspace<T>::Workspace(const Network<T>& net, std::size_t rows, bool gather) {
  std::size_t widest = 0;
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    activations.emplace_back(rows, net.sizes()[l + 1]);
    widest = std::max(widest, net.sizes()[l + 1]);
  }
  if (loss_needs_logits(net.loss())) logits = Matrix<T>(rows, net.n_outputs());
  delta = Matrix<T>(rows, widest);
  delta_next = Matrix<T>(rows, widest);
  if (gather) {
    X = Matrix<T>(rows, net.n_inputs());
    Y = Matrix<T>(rows, net.n_outputs());
  }
  grads = AlignedBuffer<T>(net.n_params());
}

// --- the gradient -----------------------------------------------------------------

template <class T>
double loss_and_gradient(const Network<T>& net, InputView<T> X, InputView<T> Y,
                         Workspace<T>& ws, ThreadPool* pool) {
  const std::size_t n = X.rows, L = net.n_layers();
  const auto& sizes = net.sizes();
  auto A = [&](std::size_t l) { return MatrixView<T>(ws.activations[l].data(), n, sizes[l + 1]); };
  auto layer_input = [&](std::size_t l) { return l == 0 ? X : ConstMatrixView<T>(A(l - 1)); };

  // forward: A_l = f_l(A_{l-1} W_l + b_l), with A_{-1} = X; the output
  // layer's logits Z are kept when the loss needs them
  for (std::size_t l = 0; l + 1 < L; ++l)
    dense_forward(A(l), layer_input(l), net.weight(l), net.bias(l), net.activation(l), pool);
  MatrixView<T> logits(ws.logits.data(), n, sizes[L]);
  if (loss_needs_logits(net.loss())) {
    dense_forward(logits, layer_input(L - 1), net.weight(L - 1), net.bias(L - 1),
                  Activation::Identity, pool);
    activation_forward<T>(net.activation(L - 1), A(L - 1), logits);
  } else {
    dense_forward(A(L - 1), layer_input(L - 1), net.weight(L - 1), net.bias(L - 1),
                  net.activation(L - 1), pool);
  }

  // the loss and dZ at the output
  const T scale = net.reduction() == Reduction::Mean ? T(1) / static_cast<T>(n) : T(1);
  MatrixView<T> dZ(ws.delta.data(), n, sizes[L]);
  const double loss =
      loss_forward_backward<T>(net.loss(), net.activation(L - 1), dZ, logits, A(L - 1), Y, scale);

  // backward, last layer first
  for (std::size_t l = L; l-- > 0;) {
    MatrixView<T> dW(ws.grads.data() + net.weight_offset(l), sizes[l], sizes[l + 1]);
    MatrixView<T> dX = l == 0 ? MatrixView<T>() : MatrixView<T>(ws.delta_next.data(), n, sizes[l]);
    dense_backward(dX, dW, ws.grads.data() + net.bias_offset(l), ConstMatrixView<T>(dZ),
                   layer_input(l), net.weight(l), pool);
    if (l == 0) break;
    activation_backward<T>(net.activation(l - 1), dX, A(l - 1));
    std::swap(ws.delta, ws.delta_next);
    dZ = MatrixView<T>(ws.delta.data(), n, sizes[l]);
  }
  return loss;
}

// --- checks ---------------------------------------------------------------------------

template <class T>
void check_fit_inputs(const Network<T>& net, InputView<T> X, InputView<T> Y) {
  check_input(net, X, "X");
  if (Y.rows != X.rows)
    throw std::invalid_argument("X and Y must have the same number of rows; got " +
                                std::to_string(X.rows) + " and " + std::to_string(Y.rows));
  if (Y.cols != net.n_outputs())
    throw std::invalid_argument("Y has " + std::to_string(Y.cols) +
                                " columns but the network has " +
                                std::to_string(net.n_outputs()) + " outputs");
  check_finite(Y, "Y");
}

// --- the epoch loop ---------------------------------------------------------------------

namespace {

// Row i of `from` into row j of `to`.
template <class T>
void copy_row(MatrixView<T> to, std::size_t j, ConstMatrixView<T> from, std::size_t i) {
  std::copy(from.row(i), from.row(i) + from.cols, to.row(j));
}

// The order of the rows in epoch `epoch`: a Fisher-Yates shuffle drawn from a
// stream that depends only on (seed, epoch), so a resumed fit continues the
// same sequence of shuffles.
void shuffle_rows(std::vector<std::size_t>& order, std::uint64_t seed, std::uint64_t epoch) {
  std::iota(order.begin(), order.end(), std::size_t(0));
  Rng rng(seed ^ (0x9e3779b97f4a7c15ULL * (epoch + 1)));
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
}

// params -= lr * grads, in fixed chunks spread over the pool (each element's
// arithmetic is the same whichever thread does it).
template <class T>
void update(T* params, const T* grads, T lr, std::size_t count, ThreadPool* pool) {
  constexpr std::size_t kChunk = std::size_t(1) << 14;
  auto run = [&](std::size_t chunk) {
    const std::size_t end = std::min(count, (chunk + 1) * kChunk);
    for (std::size_t i = chunk * kChunk; i < end; ++i) params[i] -= lr * grads[i];
  };
  const std::size_t chunks = (count + kChunk - 1) / kChunk;
  if (pool != nullptr && chunks > 1)
    pool->parallel_for(chunks, run);
  else
    for (std::size_t c = 0; c < chunks; ++c) run(c);
}

}  // namespace

template <class T>
FitResult fit(Network<T>& net, InputView<T> X, InputView<T> Y, const FitOptions& options,
              const StopCheck& should_stop) {
  check_fit_inputs(net, X, Y);
  if (!std::isfinite(options.learning_rate))
    throw std::invalid_argument("learning_rate must be finite");
  if (options.threads < 1) throw std::invalid_argument("threads must be at least 1");

  const std::size_t n = X.rows;
  const std::size_t batch = options.batch_size == 0 ? n : std::min(options.batch_size, n);
  const bool shuffled = options.shuffle && batch < n;
  Workspace<T> ws(net, batch, shuffled);
  std::vector<std::size_t> order(shuffled ? n : 0);
  ThreadPool* pool = options.threads > 1 ? &shared_thread_pool(options.threads) : nullptr;

  FitResult result;
  result.loss.reserve(std::min<std::size_t>(options.epochs, std::size_t(1) << 20));
  // Ask should_stop about every 2^22 multiply-adds of work (a few milliseconds).
  const std::size_t work = std::max<std::size_t>(1, n * net.n_params());
  const std::size_t check_every = std::max<std::size_t>(1, (std::size_t(1) << 22) / work);
  // Under the mean reduction a batch's loss is its mean; the epoch's is the mean
  // over all n rows, so each batch counts with its share of the rows.
  const bool mean = net.reduction() == Reduction::Mean;

  const T lr = static_cast<T>(options.learning_rate);
  T* params = net.params();
  const T* grads = ws.grads.data();
  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    if (shuffled) shuffle_rows(order, options.seed, options.first_epoch + epoch);
    double epoch_loss = 0;
    for (std::size_t first = 0; first < n; first += batch) {
      const std::size_t rows = std::min(batch, n - first);
      ConstMatrixView<T> xb = X.rows_range(first, rows), yb = Y.rows_range(first, rows);
      if (shuffled) {
        MatrixView<T> gx(ws.X.data(), rows, X.cols), gy(ws.Y.data(), rows, Y.cols);
        for (std::size_t r = 0; r < rows; ++r) {
          copy_row<T>(gx, r, X, order[first + r]);
          copy_row<T>(gy, r, Y, order[first + r]);
        }
        xb = gx;
        yb = gy;
      }
      const double loss = loss_and_gradient<T>(net, xb, yb, ws, pool);
      epoch_loss += mean && rows != n ? loss * static_cast<double>(rows) / static_cast<double>(n) : loss;
      update(params, grads, lr, net.n_params(), pool);
    }
    result.loss.push_back(epoch_loss);
    result.epochs = epoch + 1;
    if (should_stop && result.epochs % check_every == 0 && should_stop()) {
      result.stopped = true;
      break;
    }
  }
  return result;
}

// --- instantiations ---------------------------------------------------------------------

#define FASTMLP_INSTANTIATE(T)                                                                 \
  template class Workspace<T>;                                                                 \
  template double loss_and_gradient<T>(const Network<T>&, InputView<T>, InputView<T>,         \
                                       Workspace<T>&, ThreadPool*);                            \
  template void check_fit_inputs<T>(const Network<T>&, InputView<T>, InputView<T>);           \
  template FitResult fit<T>(Network<T>&, InputView<T>, InputView<T>, const FitOptions&,        \
                            const StopCheck&);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
