// libFuzzer target: the model-file reader on arbitrary bytes.
//
// Any input must either load or throw ModelFileError with a printable message
// (one line of UTF-8); anything else (another exception, a sanitizer report, a
// failed invariant) aborts. A file that loads also predicts on a small input
// and survives a round trip bit for bit; on Linux, load() on the same bytes (a
// memory file) must agree with from_safetensors. Built by tests/fuzz/run.sh
// with clang and libFuzzer, and replayed over the corpus by replay.cpp in
// every CTest run. Not a test of what the loaded values mean:
// tests/cpp/test_safetensors.cpp does that.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <variant>

#include <fastmlp/io_safetensors.hpp>

#include "fuzz_common.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

using namespace fastmlp;
using fuzz::broken;

namespace {

// --- invariants ---------------------------------------------------------------------

template <class T>
bool same_network(const Network<T>& a, const Network<T>& b) {
  const double slope_a = a.leaky_slope(), slope_b = b.leaky_slope();
  if (a.sizes() != b.sizes() || a.loss() != b.loss() || a.reduction() != b.reduction() ||
      std::memcmp(&slope_a, &slope_b, sizeof(double)) != 0)
    return false;
  for (std::size_t l = 0; l < a.n_layers(); ++l)
    if (a.activation(l).kind != b.activation(l).kind) return false;
  return std::memcmp(a.params(), b.params(), a.n_params() * sizeof(T)) == 0;
}

bool same_model(const Model& a, const Model& b) {
  if (a.network.index() != b.network.index() || a.extra != b.extra) return false;
  return std::visit(
      [&](const auto& net) {
        using Net = std::decay_t<decltype(net)>;
        return same_network(net, std::get<Net>(b.network));
      },
      a.network);
}

// Equal bits, or both NaN (a NaN's payload may depend on operand order).
template <class T>
bool same_value(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0 || (std::isnan(a) && std::isnan(b));
}

// Predicts three rows drawn from the file's bytes, then the middle row alone:
// a row's outputs must not depend on the rows around it.
template <class T>
void check_predict(const Network<T>& net, const std::uint8_t* data, std::size_t size) {
  const std::size_t rows = 3, in = net.n_inputs(), out = net.n_outputs();
  Matrix<T> X(rows, in), P(rows, out), one(1, out);
  for (std::size_t i = 0; i < rows * in; ++i)
    X.data()[i] = static_cast<T>((static_cast<int>(data[i % size]) - 128) / 32.0);
  net.predict(X.view(), P.view());
  net.predict(X.view().rows_range(1, 1), one.view());
  for (std::size_t j = 0; j < out; ++j)
    if (!same_value(one(0, j), P(1, j))) broken("a row predicted alone differs from the same row in a block");
}

#if defined(__linux__)
// load() on `size` bytes at `data`, through a memory file and its /proc path.
Model load_from_memory(const std::uint8_t* data, std::size_t size, std::string& path) {
  static const int fd = memfd_create("fuzz.safetensors", 0);
  if (fd < 0) broken("memfd_create failed");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))
    broken("cannot write the memory file");
  path = "/proc/self/fd/" + std::to_string(fd);
  return load(path);
}
#endif

}  // namespace

// --- the target ---------------------------------------------------------------------

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string error;
  std::optional<Model> model;
  try {
    model.emplace(from_safetensors(data, size));
  } catch (const ModelFileError& e) {
    error = e.what();
    fuzz::check_message(error);
  }

#if defined(__linux__)
  // The file reader (sequential reads) agrees with the memory reader: the
  // same network, or the same message after the path it adds.
  std::string path;
  try {
    const Model loaded = load_from_memory(data, size, path);
    if (!error.empty()) broken("load() accepted what from_safetensors refused");
    if (!same_model(*model, loaded)) broken("load() and from_safetensors read different models");
  } catch (const ModelFileError& e) {
    if (error.empty()) broken("load() refused what from_safetensors accepted");
    if (std::string(e.what()) != path + ": " + error) broken("load() and from_safetensors differ in their message");
  }
#endif
  if (!error.empty()) return 0;

  std::visit(
      [&](const auto& net) {
        check_predict(net, data, size);
        // A round trip keeps every bit, and writing again gives the same bytes.
        const std::string bytes = to_safetensors(net, model->info, model->extra);
        const Model again = from_safetensors(bytes.data(), bytes.size());
        if (!same_model(*model, again)) broken("a round trip changed the model");
        std::visit([&](const auto& net2) {
          if (to_safetensors(net2, again.info, again.extra) != bytes) broken("writing a loaded file again changed its bytes");
        }, again.network);
      },
      model->network);
  return 0;
}
