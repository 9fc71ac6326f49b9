// The article's experiment written against the installed C++ library: read the
// Iris split, train a 4-5-3 sigmoid network (weights uniform in [0, 1) from
// seed 0, 8000 epochs of full-batch gradient descent at learning rate 0.2) and
// print its test accuracy, as `fastmlp train` does. Or load a network saved by
// Python's net.save or `fastmlp train -o` and print its accuracy on a CSV file.
//
// usage: app [DATA_DIR]   (its train.csv and test.csv; default: the installed data)
//        app TRAIN.csv TEST.csv
//        app --model MODEL.safetensors TEST.csv
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <variant>

#include <fastmlp/io_csv.hpp>
#include <fastmlp/io_safetensors.hpp>
#include <fastmlp/metrics.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/train.hpp>

namespace {

constexpr std::size_t kLabels = 3;  // the last three columns: the species, one-hot

// The article's network, trained on `data`.
fastmlp::Network<double> train_article(const fastmlp::CsvData& data) {
  fastmlp::Network<double> net({data.X.cols(), 5, kLabels}, fastmlp::Activation::Sigmoid,
                               fastmlp::Activation::Sigmoid);
  net.initialize(fastmlp::Init::Uniform, /*seed=*/0);
  fastmlp::FitOptions options;
  options.epochs = 8000;
  options.learning_rate = 0.2;
  fastmlp::fit(net, data.X.view(), data.Y.view(), options);
  return net;
}

// The fraction of the rows of `data` that `net` classifies right.
template <class T>
double accuracy(const fastmlp::Network<T>& net, const fastmlp::CsvData& data) {
  fastmlp::Matrix<T> X(data.X.rows(), data.X.cols()), P(data.X.rows(), net.n_outputs());
  std::copy(data.X.data(), data.X.data() + data.X.rows() * data.X.cols(), X.data());  // to T
  net.predict(X.view(), P.view());
  return fastmlp::accuracy(fastmlp::ConstMatrixView<T>(P.view()), data.Y.view());
}

}  // namespace

int main(int argc, char** argv) {
  const bool load = argc > 1 && std::string(argv[1]) == "--model";
  if (load ? argc != 4 : argc > 3) {
    std::fprintf(stderr, "usage: app [DATA_DIR] | app TRAIN.csv TEST.csv | app --model FILE TEST.csv\n");
    return 2;
  }
  try {
    double acc = 0;
    if (load) {  // a float64 or float32 network, as saved
      const fastmlp::Model model = fastmlp::load(argv[2]);
      const fastmlp::CsvData test = fastmlp::read_csv(argv[3], kLabels);
      acc = std::visit([&](const auto& net) { return accuracy(net, test); }, model.network);
    } else {
      const std::string dir = argc == 2 ? argv[1] : FASTMLP_DATA_DIR;
      const std::string train_path = argc == 3 ? argv[1] : dir + "/train.csv";
      const std::string test_path = argc == 3 ? argv[2] : dir + "/test.csv";
      acc = accuracy(train_article(fastmlp::read_csv(train_path, kLabels)),
                     fastmlp::read_csv(test_path, kLabels));
    }
    std::printf("Accuracy: %.2f%%\n", 100.0 * acc);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "app: %s\n", e.what());
    return 1;
  }
  return 0;
}
