// The gradient of the loss and the epoch loop.
#include <fastmlp/train.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <fastmlp/losses.hpp>

namespace fastmlp {

template <class T>
Workspace<T>::Workspace(const Network<T>& net, std::size_t rows) {
  std::size_t widest = 0;
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    activations.emplace_back(rows, net.sizes()[l + 1]);
    widest = std::max(widest, net.sizes()[l + 1]);
  }
  delta = Matrix<T>(rows, widest);
  delta_next = Matrix<T>(rows, widest);
  grads = AlignedBuffer<T>(net.n_params());
}

// --- the gradient -----------------------------------------------------------------

template <class T>
double loss_and_gradient(const Network<T>& net, ConstMatrixView<T> X, ConstMatrixView<T> Y,
                         Workspace<T>& ws) {
  const std::size_t n = X.rows, L = net.n_layers();
  const auto& sizes = net.sizes();
  auto layer_input = [&](std::size_t l) -> ConstMatrixView<T> {
    return l == 0 ? X : ConstMatrixView<T>(ws.activations[l - 1].view());
  };

  // forward: A_l = f_l(A_{l-1} W_l + b_l), with A_{-1} = X
  for (std::size_t l = 0; l < L; ++l)
    dense_forward(ws.activations[l].view(), layer_input(l), net.weight(l), net.bias(l),
                  net.activation(l));

  // loss and dA at the output, then dZ = dA * f'(Z)
  MatrixView<T> dZ(ws.delta.data(), n, sizes[L]);
  const double loss = mse_forward_backward(dZ, ConstMatrixView<T>(ws.activations[L - 1].view()), Y);
  activation_backward<T>(net.activation(L - 1), dZ, ws.activations[L - 1].view());

  // backward, last layer first; grads are laid out as the network's params
  for (std::size_t l = L; l-- > 0;) {
    const std::size_t offset_w = static_cast<std::size_t>(net.weight(l).data - net.params());
    const std::size_t offset_b = static_cast<std::size_t>(net.bias(l) - net.params());
    MatrixView<T> dW(ws.grads.data() + offset_w, sizes[l], sizes[l + 1]);
    MatrixView<T> dX = l == 0 ? MatrixView<T>() : MatrixView<T>(ws.delta_next.data(), n, sizes[l]);
    dense_backward(dX, dW, ws.grads.data() + offset_b, ConstMatrixView<T>(dZ), layer_input(l),
                   net.weight(l));
    if (l == 0) break;
    activation_backward<T>(net.activation(l - 1), dX, ws.activations[l - 1].view());
    std::swap(ws.delta, ws.delta_next);
    dZ = MatrixView<T>(ws.delta.data(), n, sizes[l]);
  }
  return loss;
}

// --- checks ---------------------------------------------------------------------------

template <class T>
void check_fit_inputs(const Network<T>& net, ConstMatrixView<T> X, ConstMatrixView<T> Y) {
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

template <class T>
FitResult fit(Network<T>& net, ConstMatrixView<T> X, ConstMatrixView<T> Y,
              const FitOptions& options, const StopCheck& should_stop) {
  check_fit_inputs(net, X, Y);
  if (!std::isfinite(options.learning_rate))
    throw std::invalid_argument("learning_rate must be finite");

  Workspace<T> ws(net, X.rows);
  FitResult result;
  result.loss.reserve(std::min<std::size_t>(options.epochs, std::size_t(1) << 20));
  // Ask should_stop about every 2^22 multiply-adds of work (a few milliseconds).
  const std::size_t work = std::max<std::size_t>(1, X.rows * net.n_params());
  const std::size_t check_every = std::max<std::size_t>(1, (std::size_t(1) << 22) / work);

  const T lr = static_cast<T>(options.learning_rate);
  T* params = net.params();
  const T* grads = ws.grads.data();
  for (std::size_t epoch = 0; epoch < options.epochs; ++epoch) {
    result.loss.push_back(loss_and_gradient<T>(net, X, Y, ws));
    for (std::size_t i = 0; i < net.n_params(); ++i) params[i] -= lr * grads[i];
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
  template double loss_and_gradient<T>(const Network<T>&, ConstMatrixView<T>,                 \
                                       ConstMatrixView<T>, Workspace<T>&);                     \
  template void check_fit_inputs<T>(const Network<T>&, ConstMatrixView<T>, ConstMatrixView<T>); \
  template FitResult fit<T>(Network<T>&, ConstMatrixView<T>, ConstMatrixView<T>,               \
                            const FitOptions&, const StopCheck&);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
