// Prints a hash of the parameters of networks trained from fixed seeds: the
// article's (float64, full batch), a deeper float32 one (tanh, softmax,
// cross-entropy, mini-batches, 2 threads) trained by SGD and again by Adam
// (l2, clipping, a cosine schedule), and the article's network by Nesterov
// momentum on the invscaling schedule. Equal output on two machines, or under
// two GEMM kernels, means bit-identical training. Used by
// tests/cross/aarch64.sh; not a test by itself.
#include <cstdint>
#include <cstdio>
#include <vector>

#include <fastmlp/io_csv.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/train.hpp>

using namespace fastmlp;

namespace {

// FNV-1a over the bytes of n values.
template <class T>
std::uint64_t fnv1a(const T* values, std::size_t n) {
  std::uint64_t h = 1469598103934665603ULL;
  const auto* bytes = reinterpret_cast<const unsigned char*>(values);
  for (std::size_t i = 0; i < n * sizeof(T); ++i) h = (h ^ bytes[i]) * 1099511628211ULL;
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fingerprint data/train.csv\n");
    return 2;
  }
  const CsvData iris = read_csv(argv[1], 3);
  Network<double> article({4, 5, 3}, Activation::Sigmoid, Activation::Sigmoid);
  article.initialize(Init::Uniform, 1);
  fit(article, iris.X.view(), iris.Y.view(), FitOptions{});
  std::printf("article %016llx\n",
              static_cast<unsigned long long>(fnv1a(article.params(), article.n_params())));

  const std::size_t n = 600, in = 50, out = 10;
  std::vector<float> X(n * in), Y(n * out, 0.0f);
  for (std::size_t i = 0; i < X.size(); ++i) X[i] = float((i * 2654435761u) % 1000) / 1000.0f;
  for (std::size_t i = 0; i < n; ++i) Y[i * out + i % out] = 1.0f;
  Network<float> deep({in, 300, 200, out}, Activation::Tanh, Activation::Softmax,
                      Loss::CrossEntropy, Reduction::Mean);
  deep.initialize(Init::Glorot, 2);
  FitOptions options;
  options.epochs = 5;
  options.learning_rate = 0.05;
  options.batch_size = 64;
  options.threads = 2;
  fit(deep, ConstMatrixView<float>(X.data(), n, in), ConstMatrixView<float>(Y.data(), n, out),
      options);
  std::printf("deep    %016llx\n",
              static_cast<unsigned long long>(fnv1a(deep.params(), deep.n_params())));

  deep.initialize(Init::Glorot, 3);
  options.optimizer.kind = OptimizerKind::Adam;
  options.learning_rate = 1e-3;
  options.l2 = 1e-4;
  options.clip_norm = 1.0;
  options.schedule.kind = ScheduleKind::Cosine;
  fit(deep, ConstMatrixView<float>(X.data(), n, in), ConstMatrixView<float>(Y.data(), n, out),
      options);
  std::printf("adam    %016llx\n",
              static_cast<unsigned long long>(fnv1a(deep.params(), deep.n_params())));

  article.initialize(Init::Uniform, 4);
  FitOptions momentum;
  momentum.epochs = 500;
  momentum.batch_size = 16;
  momentum.optimizer.kind = OptimizerKind::Momentum;
  momentum.optimizer.nesterov = true;
  momentum.schedule.kind = ScheduleKind::InvScaling;
  momentum.schedule.power_t = 0.3;
  fit(article, iris.X.view(), iris.Y.view(), momentum);
  std::printf("nesterov %016llx\n",
              static_cast<unsigned long long>(fnv1a(article.params(), article.n_params())));
  return 0;
}
