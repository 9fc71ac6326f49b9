// The fused path's choice (the mode, what it applies to) and its driver: the
// batch's k-blocks handed one by one to the kernel of the instruction set in
// use, the stop polled between them, and the loss summed as the general path
// sums it. The kernel itself is fused/impl.hpp.
#include <fastmlp/fused.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fastmlp/fused/kernel.hpp>
#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/isa.hpp>
#include <fastmlp/losses.hpp>

namespace fastmlp {

static_assert(kFusedMaxWidth == fused_detail::kMaxWidth &&
                  kFusedMaxLayers == fused_detail::kMaxLayers,
              "fused.hpp's bounds are the kernel's array sizes");
static_assert(fused_detail::kMaxWidth % fused_detail::kGroup == 0,
              "a layer of the widest width pads to itself");

// --- the mode ---------------------------------------------------------------------------

namespace {

constexpr int kUnread = -1;
std::atomic<int> g_mode{kUnread};

FusedMode mode_from_environment() {
  const char* env = std::getenv("FASTMLP_FUSED");
  if (env == nullptr || *env == '\0' || std::strcmp(env, "auto") == 0) return FusedMode::Auto;
  if (std::strcmp(env, "off") == 0) return FusedMode::Off;
  if (std::strcmp(env, "on") == 0) return FusedMode::On;
  throw std::runtime_error(std::string("FASTMLP_FUSED=") + env + ": expected auto, off or on");
}

}  // namespace

void set_fused_mode(FusedMode mode) noexcept { g_mode.store(static_cast<int>(mode)); }

FusedMode fused_mode() {
  int mode = g_mode.load(std::memory_order_relaxed);
  if (mode == kUnread) {
    mode = static_cast<int>(mode_from_environment());
    int unread = kUnread;  // a set_fused_mode in between wins
    if (!g_mode.compare_exchange_strong(unread, mode)) mode = unread;
  }
  return static_cast<FusedMode>(mode);
}

// --- what it applies to -----------------------------------------------------------------

template <class T>
bool fused_applies(const Network<T>& net, const Batch<T>& b) noexcept {
  using namespace fused_detail;
  if (!b.X_csr.empty() || b.dropout != nullptr || net.n_layers() > kMaxLayers) return false;
  const auto pad = [](std::size_t n) { return (n + kGroup - 1) / kGroup * kGroup; };
  std::size_t weights = 0;
  for (std::size_t l = 0; l < net.n_layers(); ++l) {
    const std::size_t in = net.sizes()[l], out = net.sizes()[l + 1];
    if (in > kMaxWidth || out > kMaxWidth) return false;
    weights += pad(in) * pad(out);
  }
  return weights <= kMaxPaddedWeights;
}

template <class T>
bool fused_chosen(const Network<T>& net, const Batch<T>& b, bool threaded) {
  switch (fused_mode()) {
    case FusedMode::Off: return false;
    case FusedMode::On: return fused_applies(net, b);
    case FusedMode::Auto: break;
  }
  return !threaded && fused_applies(net, b);
}

// --- the driver -------------------------------------------------------------------------

namespace {

template <class T>
void run_kblock(const fused_detail::Problem<T>& p, std::size_t first_row, std::size_t rows,
                bool first_block) {
  switch (active_isa()) {
    case Isa::Avx512: return fused_detail::avx512::kblock(p, first_row, rows, first_block);
    case Isa::Avx2: return fused_detail::avx2::kblock(p, first_row, rows, first_block);
    case Isa::Ref: return fused_detail::ref::kblock(p, first_row, rows, first_block);
  }
}

}  // namespace

template <class T>
double fused_batch_gradient(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws, T scale,
                            StopFlag& stop) {
  fused_detail::Problem<T> p{};
  p.layers = net.n_layers();
  T* grads = ws.grads.data();
  for (std::size_t l = 0; l < p.layers; ++l) {
    const std::size_t out = net.sizes()[l + 1];
    p.layer[l] = {net.weight(l).data, net.bias(l), grads + net.weight_offset(l),
                  grads + net.bias_offset(l), net.sizes()[l], out, net.activation(l)};
    std::fill(p.layer[l].db, p.layer[l].db + out, T(0));  // the column sums start at 0
  }
  p.loss = net.loss();
  p.X = b.X.data;
  p.ldx = b.X.stride;
  p.Y = b.Y.data;
  p.ldy = b.Y.stride;
  p.order = b.order;
  p.first = b.first;
  p.weight = b.weight;
  p.scale = scale;
  p.terms = ws.loss_terms.view().data;
  p.terms_per_row = ws.loss_terms.cols();

  // k-blocks of the GEMM's KC rows: dW's sums restart at each, as gemm's do
  constexpr std::size_t kc = gemm_detail::KC<T>;
  for (std::size_t first = 0; first < b.rows; first += kc) {
    const std::size_t rows = std::min(kc, b.rows - first);
    if (stop.poll(rows * net.n_params() * 2)) return 0;
    run_kblock(p, first, rows, first == 0);
  }

  // the loss, from the rows' terms, as batch_gradient sums them
  if (b.order != nullptr && b.weight != nullptr)
    for (std::size_t i = 0; i < b.rows; ++i) ws.weight.data()[i] = b.weight[b.row(i)];
  return batch_terms_loss(net, b, ws, scale);
}

// --- instantiations ---------------------------------------------------------------------

#define FASTMLP_INSTANTIATE(T)                                                                 \
  template bool fused_applies<T>(const Network<T>&, const Batch<T>&) noexcept;                \
  template bool fused_chosen<T>(const Network<T>&, const Batch<T>&, bool);                    \
  template double fused_batch_gradient<T>(const Network<T>&, const Batch<T>&, Workspace<T>&,  \
                                          T, StopFlag&);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
