// Proves that training allocates nothing per epoch or per batch: the global
// operator new (plain and aligned: every buffer of the core comes from one of
// them) is counted, and a fit of many epochs must allocate exactly as
// often as a fit of few (its buffers are sized once, before the first epoch).
// The full configuration adds Adam, l2, clipping, sample weights, validation,
// early stopping and a callback, on a network whose update spans several chunks.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include <fastmlp/network.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/train.hpp>

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t align) {
  ++g_allocations;
  const std::size_t a = static_cast<std::size_t>(align);
  if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  try {
    return operator new(size, align);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace fastmlp;

namespace {

// Allocations made by one fit of `epochs` epochs; `full`: every option on.
template <class T>
long allocations_of_fit(std::size_t epochs, std::size_t batch, int threads, bool full) {
  const std::size_t n = 300, in = 40, out = 10;
  std::vector<T> X(n * in), Y(n * out, T(0)), w(n);
  Rng rng(1);
  for (auto& x : X) x = static_cast<T>(rng.uniform());
  for (auto& x : w) x = static_cast<T>(rng.uniform());
  for (std::size_t i = 0; i < n; ++i) Y[i * out + i % out] = T(1);
  // 40*256 + 256*64 + 64*10 weights: two chunks of the parallel update
  Network<T> net(full ? std::vector<std::size_t>{in, 256, 64, out} : std::vector<std::size_t>{in, 64, 32, out},
                 Activation::Relu, Activation::Softmax, Loss::CrossEntropy, Reduction::Mean);
  net.initialize(Init::He, 3);
  FitOptions options;
  options.epochs = epochs;
  options.learning_rate = 0.01;
  options.batch_size = batch;
  options.threads = threads;
  FitData<T> data;
  data.X = ConstMatrixView<T>(X.data(), n, in);
  data.Y = ConstMatrixView<T>(Y.data(), n, out);
  FitHooks hooks;
  std::size_t calls = 0;
  if (full) {
    options.optimizer.kind = OptimizerKind::Adam;
    options.l2 = 1e-3;
    options.clip_norm = 0.1;
    options.schedule.kind = ScheduleKind::Cosine;
    options.early_stopping = 1000;
    data.sample_weight = w.data();
    data.X_val = data.X.rows_range(0, 50);
    data.Y_val = data.Y.rows_range(0, 50);
    hooks.callback = [&calls](const EpochLog&) { return ++calls > 0; };
    hooks.progress = hooks.callback;
    hooks.progress_seconds = 0;
  }
  Optimizer<T> optimizer;
  const long before = g_allocations.load();
  fit(net, data, options, optimizer, hooks);
  return g_allocations.load() - before;
}

template <class T>
int check(const char* name, std::size_t batch, int threads, bool full = false) {
  allocations_of_fit<T>(2, batch, threads, full);  // warm-up: thread pools, per-thread scratch
  const long few = allocations_of_fit<T>(2, batch, threads, full);
  const long many = allocations_of_fit<T>(40, batch, threads, full);
  std::printf("%s batch=%zu threads=%d%s: %ld allocations for 2 epochs, %ld for 40\n", name, batch,
              threads, full ? " adam+l2+clip+weights+validation" : "", few, many);
  return few == many ? 0 : 1;
}

}  // namespace

int main() {
  int failed = 0;
  for (int threads : {1, 2}) {
    failed += check<float>("float32", 0, threads);
    failed += check<float>("float32", 32, threads);
    failed += check<double>("float64", 0, threads);
    failed += check<double>("float64", 7, threads);
    failed += check<float>("float32", 32, threads, true);
    failed += check<double>("float64", 0, threads, true);
  }
  if (failed) std::fprintf(stderr, "test_no_alloc: %d configuration(s) allocate per epoch\n", failed);
  return failed ? 1 : 0;
}
