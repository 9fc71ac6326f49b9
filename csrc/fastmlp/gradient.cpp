// The gradient of the loss over a batch, in two phases over the pool (see
// "the gradient" below), and the checks of a fit's inputs. Not the epoch loop
// nor the optimiser's step: train.cpp and optim.cpp.
#include <fastmlp/gradient.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>

#include <fastmlp/gemm.hpp>
#include <fastmlp/fused.hpp>
#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/losses.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp {

template <class T>
Workspace<T>::Workspace(const Network<T>& net, std::size_t rows, bool gather, bool backward,
                        bool sparse_input, bool dropout) {
  const std::size_t L = net.n_layers();
  for (std::size_t l = 0; l < L; ++l) {
    const std::size_t units = net.sizes()[l + 1];
    activations.emplace_back(rows, units);
    deltas.emplace_back(backward || l + 1 == L ? rows : 0, units);
  }
  if (loss_needs_logits(net.loss())) logits = Matrix<T>(rows, net.n_outputs());
  loss_terms = Matrix<double>(rows, loss_terms_per_row(net.loss(), net.activation(L - 1),
                                                       net.n_outputs()));
  if (backward) grads = AlignedBuffer<T>(net.n_params());
  for (std::size_t l = 0; l < L; ++l) {
    const bool dropping = dropout && backward && net.dropout(l) > 0;
    masks.emplace_back(dropping ? rows : 0, net.sizes()[l + 1]);
    dropped.emplace_back(dropping ? rows : 0, net.sizes()[l + 1]);
  }
  if (gather) {
    if (!sparse_input) X = Matrix<T>(rows, net.n_inputs());
    Y = Matrix<T>(rows, net.n_outputs());
    weight = AlignedBuffer<T>(rows);
  }
}

// --- the gradient -----------------------------------------------------------------
//
// A batch's gradient goes in two phases over the pool. Phase 1 cuts the rows
// into blocks. Each block, on one thread and with single-threaded products, is
// gathered (a shuffled batch), goes forward through every layer, gets its loss
// terms and output dZ, and goes back down: dZ_{l-1} = (dZ_l W_l^T) * f'_{l-1}.
// Every value there depends on its own row alone (a row of a product on that
// row of its left operand; the sweeps work element by element or row by row),
// so neither the cut nor the thread that runs a block changes a bit. Phase 2
// sums over the rows: dW_l = A_{l-1}^T dZ_l and db_l = the column sums of dZ_l,
// each element over all the batch's rows in row order, as one thread would; it
// is cut by rows of dW and columns of db instead, and goes through the batch's
// rows in chunks of whole GEMM k-blocks, which add up to the bits of one
// product. The loss then adds the rows' terms in row order. The StopFlag is
// polled before each block of phase 1 and each chunk of phase 2, so that a
// stop is answered within milliseconds whatever the batch size.
//
// A network whose weights are large (wide layers) takes phase 1 as one block
// of the whole batch instead, its products split over the pool by columns:
// blocks of rows would each pack every layer's W (or W^T) for a few rows of
// reuse, megabytes read from memory per block, where split by columns each
// thread packs its own share of W once per batch. The cut changes no bit
// (gemm's results do not depend on its threads).

namespace {

// Below this much work (rows * parameters) a batch stays on the calling
// thread: a hand-off to the pool costs about a microsecond.
constexpr std::size_t kParallelWork = std::size_t(1) << 18;
// Phase 1's blocks: the rows shared out evenly over the threads, in multiples
// of kBlockAlign rows, at most kBlockMax (whose activations stay in L2).
constexpr std::size_t kBlockAlign = 16;
constexpr std::size_t kBlockMax = 256;
// Phase 1 in one block with its products over the pool (see above) when the
// weights take more than this many bytes (several times a core's L2) and the
// batch fits one block.
constexpr std::size_t kSharedWeightsBytes = std::size_t(4) << 20;
// Phase 2's tasks per thread and layer (see parameter_gradients).
constexpr std::size_t kTasksPerThread = 2;
// Phase 2's chunks: at least this many multiply-adds (a millisecond or so on
// one thread), so that the hand-offs between them cost nothing measurable.
constexpr std::size_t kChunkWork = std::size_t(1) << 24;

// The factor of the loss and dZ: 1 under the sum reduction; under the mean,
// 1 / n, or 1 / (the sum of the weights), 0 when that is 0.
template <class T>
T reduction_scale(Reduction reduction, const Batch<T>& b) {
  if (reduction != Reduction::Mean) return T(1);
  if (b.weight == nullptr) return T(1) / static_cast<T>(b.rows);
  const double sum = b.weight_sum();
  return sum > 0 ? static_cast<T>(1.0 / sum) : T(0);
}

// Whether layer l's output goes through dropout in this batch.
template <class T>
bool drops(const Network<T>& net, const Batch<T>& b, const Workspace<T>& ws, std::size_t l) {
  return b.dropout != nullptr && net.dropout(l) > 0 && ws.masks[l].rows() != 0;
}

// Phase 1 for rows [first, first + count) of a batch (see above); without
// `backward`, up to the loss terms and the output dZ. With dropout, a hidden
// layer's A is masked into D after its activation, the layer above reads D,
// and on the way down the gradient at D is masked before f'.
template <class T>
void rows_forward_backward(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws, T scale,
                           bool backward, std::size_t first, std::size_t count,
                           ThreadPool* products = nullptr) {
  const std::size_t L = net.n_layers();
  auto rows = [&](auto& M) { return M.view().rows_range(first, count); };
  const bool sparse = !b.X_csr.empty();
  ConstMatrixView<T> X = sparse ? ConstMatrixView<T>(nullptr, count, b.X.cols)  // not read
                                : b.X.rows_range(b.first + first, count);
  ConstMatrixView<T> Y = b.Y.rows_range(b.first + first, count);
  if (b.order != nullptr) {
    const MatrixView<T> gy = rows(ws.Y);
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t from = b.row(first + i);
      if (!sparse) std::copy(b.X.row(from), b.X.row(from) + b.X.cols, ws.X.view().row(first + i));
      std::copy(b.Y.row(from), b.Y.row(from) + b.Y.cols, gy.row(i));
      if (b.weight != nullptr) ws.weight.data()[first + i] = b.weight[from];
    }
    if (!sparse) X = rows(ws.X);
    Y = gy;
  }
  const T* weight = b.weights(ws);
  if (weight != nullptr) weight += first;

  // forward: A_l = f_l(A_{l-1} W_l + b_l), with A_{-1} = X; the output layer's
  // logits Z kept when the loss needs them
  auto A = [&](std::size_t l) { return rows(ws.activations[l]); };
  auto input = [&](std::size_t l) {
    if (l == 0) return X;
    return ConstMatrixView<T>(drops(net, b, ws, l - 1) ? rows(ws.dropped[l - 1]) : A(l - 1));
  };
  // a CSR X's first layer goes over its nonzeros, reading the batch's rows in place
  auto layer_forward = [&](std::size_t l, MatrixView<T> out, Activation f) {
    if (l == 0 && sparse)
      sparse_forward(out, b.X_csr, RowMap{b.order, b.first + first}, net.weight(0), net.bias(0), f);
    else
      dense_forward(out, input(l), net.weight(l), net.bias(l), f, products);
  };
  for (std::size_t l = 0; l + 1 < L; ++l) {
    layer_forward(l, A(l), net.activation(l));
    if (!drops(net, b, ws, l)) continue;
    const MatrixView<T> mask = rows(ws.masks[l]);
    for (std::size_t i = 0; i < count; ++i)
      dropout_mask_row(mask.row(i), b.dropout->row_key(l, b.row(first + i)), mask.cols, net.dropout(l));
    dropout_forward<T>(rows(ws.dropped[l]), A(l), mask);
  }
  MatrixView<T> logits;
  if (loss_needs_logits(net.loss())) {
    logits = rows(ws.logits);
    layer_forward(L - 1, logits, Activation::Identity);
    activation_forward<T>(net.activation(L - 1), A(L - 1), logits);
  } else {
    layer_forward(L - 1, A(L - 1), net.activation(L - 1));
  }

  // the loss terms and dZ at the output, then dZ of every layer below
  loss_forward_backward<T>(net.loss(), net.activation(L - 1), rows(ws.deltas[L - 1]),
                           rows(ws.loss_terms), logits, A(L - 1), Y, scale, weight);
  if (!backward) return;
  for (std::size_t l = L - 1; l > 0; --l) {
    const MatrixView<T> dX = rows(ws.deltas[l - 1]);
    dense_backward_input(dX, ConstMatrixView<T>(rows(ws.deltas[l])), net.weight(l), products);
    if (drops(net, b, ws, l - 1)) dropout_backward<T>(dX, rows(ws.masks[l - 1]));
    activation_backward<T>(net.activation(l - 1), dX, A(l - 1));
  }
}

// Whether phase 1 of a batch of `rows` rows (not a CSR one) runs as one block
// with its products over the pool (see the gradient).
template <class T>
bool shares_weights(const Network<T>& net, std::size_t rows, ThreadPool* pool) {
  return pool != nullptr && pool->size() > 1 && rows <= kBlockMax &&
         net.n_params() * sizeof(T) > kSharedWeightsBytes;
}

// The rows of phase 1's blocks for a batch of `rows` rows.
template <class T>
std::size_t block_rows(const Network<T>& net, std::size_t rows, bool sparse, ThreadPool* pool) {
  if (!sparse && shares_weights(net, rows, pool)) return rows;
  const std::size_t threads = pool != nullptr ? static_cast<std::size_t>(pool->size()) : 1;
  return std::min(kBlockMax, ceil_div(ceil_div(rows, threads), kBlockAlign) * kBlockAlign);
}

// Phase 1 over all the batch's rows, in blocks over the pool, or in one with
// its products over the pool; the blocks after a stop are skipped.
template <class T>
void forward_backward(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws, T scale,
                      bool backward, ThreadPool* pool, StopFlag& stop) {
  const bool sparse = !b.X_csr.empty();
  if (!sparse && shares_weights(net, b.rows, pool)) {
    if (stop.poll(b.rows * net.n_params() * (backward ? 2 : 1))) return;
    rows_forward_backward(net, b, ws, scale, backward, 0, b.rows, pool);
    return;
  }
  const std::size_t block = block_rows(net, b.rows, sparse, pool);
  const std::size_t block_work = block * net.n_params() * (backward ? 2 : 1);
  run_tasks(pool, ceil_div(b.rows, block), [&](std::size_t i) {
    if (stop.poll(block_work)) return;
    const std::size_t first = i * block;
    rows_forward_backward(net, b, ws, scale, backward, first, std::min(block, b.rows - first));
  });
}

// Phase 2 cuts each layer's dW into this many parts by rows, and its db by
// columns: kTasksPerThread per thread, large products (each part packs all of
// dZ) but enough of them for the threads to even out. Without a pool, one.
std::size_t grad_parts(ThreadPool* pool) {
  return pool != nullptr ? kTasksPerThread * static_cast<std::size_t>(pool->size()) : 1;
}

// Phase 2's chunks of rows for a network: whole k-blocks of the GEMM (so that
// the chunks' products add up to one product's bits), about kChunkWork
// multiply-adds each.
template <class T>
std::size_t chunk_rows(const Network<T>& net) {
  return round_up(std::max<std::size_t>(1, kChunkWork / net.n_params()), gemm_detail::KC<T>);
}

// Phase 2: every layer's dW and db into ws.grads, from the batch's inputs X
// (rows, inputs) and the dZ phase 1 left, chunk by chunk of rows, each chunk
// in tasks over the pool; the chunks after a stop are skipped. A layer's
// input is the output of the layer below after dropout, when it drops. With a
// CSR input (the batch's X_csr), the first layer's dW is cut by columns and
// goes over the nonzeros.
template <class T>
void parameter_gradients(const Network<T>& net, const Batch<T>& b, ConstMatrixView<T> X,
                         Workspace<T>& ws, ThreadPool* pool, StopFlag& stop) {
  const CsrView<T>& csr = b.X_csr;
  const RowMap map{b.order, b.first};
  const std::size_t n = X.rows, parts = grad_parts(pool), chunk = chunk_rows(net);
  const auto& sizes = net.sizes();
  T* grads = ws.grads.data();
  // Part `part` of layer l's dW (part < parts), or of its db (the rest), over
  // rows [first_row, first_row + rows); a layer narrower than `parts` leaves
  // some parts empty.
  const auto task = [&](std::size_t l, std::size_t part, std::size_t first_row, std::size_t rows) {
    const ConstMatrixView<T> dZ = ws.deltas[l].view().rows_range(first_row, rows);
    const bool weight = part < parts, accumulate = first_row > 0;
    const bool sparse = l == 0 && !csr.empty();
    const std::size_t units = weight && !sparse ? sizes[l] : sizes[l + 1];
    const std::size_t size = ceil_div(units, parts), first = (weight ? part : part - parts) * size;
    if (first >= units) return;
    const std::size_t count = std::min(size, units - first);
    if (weight && sparse) {
      const MatrixView<T> dW(grads + net.weight_offset(0), sizes[0], sizes[1]);
      sparse_backward_weight(dW.cols_range(first, count), csr,
                             RowMap{map.order, map.first + first_row}, dZ.cols_range(first, count),
                             accumulate);
    } else if (weight) {
      const ConstMatrixView<T> input =
          l == 0 ? X
                 : (drops(net, b, ws, l - 1) ? ws.dropped[l - 1] : ws.activations[l - 1]).view().rows_range(0, n);
      const MatrixView<T> dW(grads + net.weight_offset(l), sizes[l], sizes[l + 1]);
      dense_backward_weight(dW.rows_range(first, count),
                            input.rows_range(first_row, rows).cols_range(first, count), dZ,
                            accumulate);
    } else {
      dense_backward_bias(grads + net.bias_offset(l) + first, dZ.cols_range(first, count),
                          accumulate);
    }
  };
  const std::size_t tasks = net.n_layers() * 2 * parts;
  std::size_t first_row = 0;
  do {  // at least once: no rows still writes zeros
    const std::size_t rows = std::min(chunk, n - first_row);
    if (stop.poll(rows * net.n_params())) return;
    run_tasks(pool, tasks,
              [&](std::size_t t) { task(t / (2 * parts), t % (2 * parts), first_row, rows); });
  } while ((first_row += chunk) < n);
}

// The pool for a batch of `rows` rows: none when the work is too small.
template <class T>
ThreadPool* pool_for(const Network<T>& net, std::size_t rows, ThreadPool* pool) {
  return rows * net.n_params() < kParallelWork ? nullptr : pool;
}

}  // namespace

template <class T>
void reserve_scratch(const Network<T>& net, std::size_t rows, bool backward, ThreadPool* pool) {
  pool = pool_for(net, rows, pool);
  if (pool == nullptr) return;
  // A dense batch's block (the whole batch where its products are split);
  // a CSR batch's blocks are no larger.
  const std::size_t block = block_rows(net, rows, false, pool);
  const std::size_t chunk = std::min(rows, chunk_rows(net));
  const auto& sizes = net.sizes();
  const auto reserve = [&] {
    for (std::size_t l = 0; l < net.n_layers(); ++l) {
      const std::size_t in = sizes[l], out = sizes[l + 1];
      gemm_reserve<T>(Trans::No, block, out, in);  // A_{l-1} W_l
      if (!backward) continue;
      if (l > 0) gemm_reserve<T>(Trans::Yes, block, in, out);  // dZ_l W_l^T
      gemm_reserve<T>(Trans::No, ceil_div(in, grad_parts(pool)), out,
                      chunk);  // part of A_{l-1}^T dZ_l, a chunk of rows
    }
  };
  pool->on_every_thread(std::cref(reserve));
}

template <class T>
double batch_gradient(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws,
                      ThreadPool* pool, StopFlag& stop) {
  pool = pool_for(net, b.rows, pool);
  const T scale = reduction_scale(net.reduction(), b);
  if (fused_chosen(net, b, pool != nullptr)) return fused_batch_gradient(net, b, ws, scale, stop);
  forward_backward(net, b, ws, scale, true, pool, stop);
  if (stop.raised()) return 0;
  const double loss = batch_terms_loss(net, b, ws, scale);
  const ConstMatrixView<T> X = !b.X_csr.empty() ? ConstMatrixView<T>(nullptr, b.rows, b.X.cols)
                                : b.order != nullptr
                                    ? ConstMatrixView<T>(ws.X.view()).rows_range(0, b.rows)
                                    : b.X.rows_range(b.first, b.rows);
  parameter_gradients(net, b, X, ws, pool, stop);
  return loss;
}

template <class T>
double batch_loss(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws, ThreadPool* pool) {
  pool = pool_for(net, b.rows, pool);
  const T scale = reduction_scale(net.reduction(), b);
  StopFlag never;
  forward_backward(net, b, ws, scale, false, pool, never);
  return batch_terms_loss(net, b, ws, scale);
}

template <class T>
double batch_terms_loss(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws, T scale) {
  const MatrixView<double> terms = ws.loss_terms.view().rows_range(0, b.rows);
  if (b.clip_log_loss && net.loss() == Loss::CrossEntropy) clip_log_loss_terms<T>(terms);
  return loss_sum(ConstMatrixView<double>(terms), scale, b.weights(ws));
}

template <class T>
double loss_and_gradient(const Network<T>& net, InputView<T> X, InputView<T> Y,
                         Workspace<T>& ws, ThreadPool* pool, const T* weight) {
  StopFlag never;
  return batch_gradient(net, Batch<T>{X, Y, weight, nullptr, 0, X.rows}, ws, pool, never);
}

template <class T>
double loss_and_gradient(const Network<T>& net, const CsrView<T>& X, InputView<T> Y,
                         Workspace<T>& ws, ThreadPool* pool, const T* weight) {
  StopFlag never;
  Batch<T> b{ConstMatrixView<T>(nullptr, X.rows, X.cols), Y, weight, nullptr, 0, X.rows};
  b.X_csr = X;
  return batch_gradient(net, b, ws, pool, never);
}

// --- checks ---------------------------------------------------------------------------

namespace {

// check_fit_inputs' part about Y, for X of `rows` rows.
template <class T>
void check_targets(const Network<T>& net, std::size_t rows, InputView<T> Y, const char* x_name,
                   const char* y_name, ThreadPool* pool) {
  if (Y.rows != rows)
    throw std::invalid_argument(std::string(x_name) + " and " + y_name +
                                " must have the same number of rows; got " +
                                std::to_string(rows) + " and " + std::to_string(Y.rows));
  if (Y.cols != net.n_outputs())
    throw std::invalid_argument(std::string(y_name) + " has " + std::to_string(Y.cols) +
                                " columns but the network has " +
                                std::to_string(net.n_outputs()) + " outputs");
  check_finite(Y, y_name, pool);
  check_targets(net.loss(), Y, y_name);
}

}  // namespace

template <class T>
void check_fit_inputs(const Network<T>& net, InputView<T> X, InputView<T> Y, const char* x_name,
                      const char* y_name, ThreadPool* pool) {
  check_input(net, X, x_name, pool);
  check_targets(net, X.rows, Y, x_name, y_name, pool);
}

template <class T>
void check_fit_inputs(const Network<T>& net, const CsrView<T>& X, InputView<T> Y,
                      const char* x_name, const char* y_name, ThreadPool* pool) {
  check_csr(X, net.n_inputs(), x_name);
  check_targets(net, X.rows, Y, x_name, y_name, pool);
}

// --- instantiations ---------------------------------------------------------------------

#define FASTMLP_INSTANTIATE(T)                                                                 \
  template class Workspace<T>;                                                                 \
  template double loss_and_gradient<T>(const Network<T>&, InputView<T>, InputView<T>,         \
                                       Workspace<T>&, ThreadPool*, const T*);                  \
  template double loss_and_gradient<T>(const Network<T>&, const CsrView<T>&, InputView<T>,    \
                                       Workspace<T>&, ThreadPool*, const T*);                  \
  template void check_fit_inputs<T>(const Network<T>&, InputView<T>, InputView<T>,            \
                                    const char*, const char*, ThreadPool*);                    \
  template void check_fit_inputs<T>(const Network<T>&, const CsrView<T>&, InputView<T>,       \
                                    const char*, const char*, ThreadPool*);                    \
  template double batch_gradient<T>(const Network<T>&, const Batch<T>&, Workspace<T>&,        \
                                    ThreadPool*, StopFlag&);                                   \
  template double batch_loss<T>(const Network<T>&, const Batch<T>&, Workspace<T>&,            \
                                ThreadPool*);                                                  \
  template double batch_terms_loss<T>(const Network<T>&, const Batch<T>&, Workspace<T>&, T);  \
  template void reserve_scratch<T>(const Network<T>&, std::size_t, bool, ThreadPool*);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
