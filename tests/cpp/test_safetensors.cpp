// C++ tests of model files: round trips, the bytes against the layout written
// out independently here, hostile input of every kind, and the atomic save.
// A plain program: each failed check prints its line and the run exits 1.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include <fastmlp/io_file.hpp>
#include <fastmlp/io_safetensors.hpp>
#include <fastmlp/rng.hpp>

#include "check.hpp"

#if defined(__linux__)
#include <csignal>
#include <sys/resource.h>
#endif
#if !defined(_WIN32)
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#endif

using namespace fastmlp;
namespace fs = std::filesystem;

namespace {

using check::throws;

// A network with every parameter drawn at random (signs, tiny and huge
// magnitudes), so a round trip that loses a bit shows.
template <class T>
Network<T> randomised(Network<T> net, std::uint64_t seed) {
  Rng rng(seed);
  for (std::size_t i = 0; i < net.n_params(); ++i)
    net.params()[i] = static_cast<T>((rng.uniform() - 0.5) * std::ldexp(1.0, int(rng.next() % 80) - 40));
  return net;
}

template <class T>
Network<T> random_network(std::vector<std::size_t> sizes, Activation hidden, Activation output,
                          Loss loss, Reduction reduction, std::uint64_t seed) {
  return randomised(Network<T>(std::move(sizes), hidden, output, loss, reduction), seed);
}

template <class T>
bool same(const Network<T>& a, const Network<T>& b) {
  if (a.sizes() != b.sizes() || a.loss() != b.loss() || a.reduction() != b.reduction() ||
      a.leaky_slope() != b.leaky_slope())
    return false;
  for (std::size_t l = 0; l < a.n_layers(); ++l)
    if (a.activation(l).kind != b.activation(l).kind) return false;
  return std::memcmp(a.params(), b.params(), a.n_params() * sizeof(T)) == 0;
}

std::string u64_le(std::uint64_t v) {
  std::string s;
  for (int k = 0; k < 8; ++k) s += static_cast<char>((v >> (8 * k)) & 0xff);
  return s;
}

// A file from a header written by hand and a data section.
std::string file_of(const std::string& json, const std::string& data) {
  return u64_le(json.size()) + json + data;
}

Model parse(const std::string& bytes) { return from_safetensors(bytes.data(), bytes.size()); }

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// --- round trips ----------------------------------------------------------------------

template <class T>
void test_round_trip() {
  const Network<T> a = random_network<T>({4, 5, 3}, Activation::Tanh, Activation::Softmax,
                                         Loss::CrossEntropy, Reduction::Mean, 7);
  const Network<T> b = random_network<T>({3, 1}, Activation::Sigmoid, Activation::Identity,
                                         Loss::Mse, Reduction::Sum, 8);
  const Network<T> c = random_network<T>({6, 7, 2, 9, 1}, Activation::Relu, Activation::Sigmoid,
                                         Loss::CrossEntropy, Reduction::Sum, 9);
  // one activation per layer, and a leaky slope that is no short decimal
  const Network<T> d = randomised(
      Network<T>({5, 4, 3, 3, 2}, {Activation::LeakyRelu, Activation::Tanh, Activation::Relu, Activation::Softmax},
                 Loss::CrossEntropy, Reduction::Mean, 1.0 / 3.0),
      10);
  for (const Network<T>* net : {&a, &b, &c, &d}) {
    const Metadata extra = {{"classes", "[\"setosa\", \"v\\u00e9\"]"}, {"note", "caf\xc3\xa9\n\t\"q\""}, {"", ""}};
    const std::string bytes = to_safetensors(*net, {}, extra);
    Model m = parse(bytes);
    CHECK(std::holds_alternative<Network<T>>(m.network));
    CHECK(same(*net, std::get<Network<T>>(m.network)));
    CHECK(m.extra == extra);

    const fs::path path = fs::temp_directory_path() / "fastmlp_test_round_trip.safetensors";
    save(*net, path.string(), {}, extra);
    CHECK(read_file(path) == bytes);  // save writes exactly to_safetensors' bytes
    Model from_disk = load(path.string());
    CHECK(same(*net, std::get<Network<T>>(from_disk.network)));
    CHECK(from_disk.extra == extra);
    fs::remove(path);
    CHECK(!m.info.init && !m.info.seed);  // none written, none read
    const Model with_info = parse(to_safetensors(*net, ModelInfo{Init::HeNormal, ~std::uint64_t(0)}, extra));
    CHECK(with_info.info.init == Init::HeNormal && with_info.info.seed == ~std::uint64_t(0));
    CHECK(with_info.extra == extra);
  }
}

// The bytes of a small file against the layout, spelled out here.
void test_layout() {
  Network<double> net({2, 1}, Activation::Sigmoid, Activation::Sigmoid);
  net.weight(0)(0, 0) = 1.5;
  net.weight(0)(1, 0) = -2.0;
  net.bias(0)[0] = 0.25;
  const std::string bytes = to_safetensors(net);
  std::uint64_t n = 0;
  for (int k = 7; k >= 0; --k) n = (n << 8) | static_cast<unsigned char>(bytes[k]);
  CHECK(n % 8 == 0 && 8 + n + 24 == bytes.size());
  std::string json = bytes.substr(8, n);
  while (!json.empty() && json.back() == ' ') json.pop_back();
  CHECK(json ==
        "{\"__metadata__\":{\"activations\":\"sigmoid\",\"format\":\"fastmlp\","
        "\"format_version\":\"1\",\"leaky_slope\":\"0.01\",\"loss\":\"mse\",\"reduction\":\"sum\","
        "\"sizes\":\"2,1\"},"
        "\"layers.0.weight\":{\"dtype\":\"F64\",\"shape\":[2,1],\"data_offsets\":[0,16]},"
        "\"layers.0.bias\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[16,24]}}");
  // 1.5, -2.0, 0.25 as little-endian IEEE 754 doubles
  const unsigned char expected[24] = {0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0,
                                      0, 0, 0, 0, 0, 0, 0xd0, 0x3f};
  CHECK(std::memcmp(bytes.data() + 8 + n, expected, 24) == 0);
}

// The golden files the safetensors package wrote (tests/data/make_golden.py):
// a 4-5-3 network whose every parameter is ((k * 37) % 101 - 50) / 7, k
// counting from 10 * layer through each layer's W then b.
void test_golden_files() {
#ifdef FASTMLP_TEST_DATA_DIR
  for (const char* name : {"golden_iris.safetensors", "golden_iris_f32.safetensors"}) {
    Model m = load(std::string(FASTMLP_TEST_DATA_DIR) + "/" + name);
    CHECK(m.extra.at("classes") == "[\"setosa\", \"virginica\", \"versicolor\"]");
    auto check = [](const auto& net) {
      using T = std::remove_const_t<std::remove_pointer_t<decltype(net.params())>>;
      CHECK(net.sizes() == std::vector<std::size_t>({4, 5, 3}));
      CHECK(net.activation(0) == Activation::Sigmoid && net.activation(1) == Activation::Sigmoid);
      bool all_equal = true;
      for (std::size_t l = 0; l < 2; ++l) {
        const std::size_t in = net.sizes()[l], out = net.sizes()[l + 1];
        for (std::size_t k = 0; k < in * out + out; ++k) {
          const double kk = double(k + 10 * l);
          const T expected = static_cast<T>((std::fmod(kk * 37, 101) - 50) / 7.0);
          const T got = k < in * out ? net.weight(l).data[k] : net.bias(l)[k - in * out];
          all_equal = all_equal && got == expected;
        }
      }
      CHECK(all_equal);
    };
    std::visit(check, m.network);
    CHECK(std::string(name).find("f32") == std::string::npos
              ? std::holds_alternative<Network<double>>(m.network)
              : std::holds_alternative<Network<float>>(m.network));
  }
#endif
}

// --- headers written by hand ---------------------------------------------------------------

const std::string kMeta =
    "\"__metadata__\":{\"format\":\"fastmlp\",\"format_version\":\"1\",\"sizes\":\"2,1\","
    "\"activations\":\"sigmoid\",\"leaky_slope\":\"0.01\",\"loss\":\"mse\",\"reduction\":\"sum\"}";

std::string tensor(const std::string& name, const std::string& dtype, const std::string& shape,
                   std::uint64_t begin, std::uint64_t end) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
         ",\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(end) + "]}";
}

// A valid 2-1 network file with the bias first, as the safetensors package
// orders tensors (by name), metadata last and extra whitespace.
std::string hand_file(const std::string& meta = kMeta) {
  std::string data(24, '\0');
  const double values[3] = {0.5, 1.5, 2.5};  // bias, then W
  std::memcpy(&data[0], values, 24);
  return file_of(" {" + tensor("layers.0.bias", "F64", "[1]", 0, 8) + ",\n" +
                     tensor("layers.0.weight", "F64", "[ 2 , 1 ]", 8, 24) + ", " + meta + "}  ",
                 data);
}

void test_hand_written() {
  Model m = parse(hand_file());
  const auto& net = std::get<Network<double>>(m.network);
  CHECK(net.sizes() == std::vector<std::size_t>({2, 1}));
  CHECK(net.bias(0)[0] == 0.5 && net.weight(0)(0, 0) == 1.5 && net.weight(0)(1, 0) == 2.5);
  CHECK(m.extra.empty());

  // strings with escapes decode; extra keys come back untouched
  const std::string meta_extra =
      kMeta.substr(0, kMeta.size() - 1) +
      ",\"x\":\"\\u00e9\\ud83d\\ude00\\/\\n\",\"classes\":\"[1, 2]\"}";
  m = parse(hand_file(meta_extra));
  CHECK(m.extra.at("x") == "\xc3\xa9\xf0\x9f\x98\x80/\n");
  CHECK(m.extra.at("classes") == "[1, 2]");
}

// Feature, class and target names and the task: written as JSON arrays that a
// plain JSON reading of the header shows, read back equal, and checked both ways.
void test_model_info() {
  Network<double> net({3, 4, 3}, Activation::Tanh, Activation::Softmax, Loss::CrossEntropy, Reduction::Mean);
  ModelInfo info;
  info.feature_names = {"sepal length", "a,b \"q\"", "caf\xc3\xa9 \xe6\xa8\xa1"};
  info.task = Task::Classification;
  info.class_names = {"Iris-setosa", "", "\\x\n"};
  info.classes_type = "str";
  const Metadata extra = {{"note", "kept"}};
  const std::string bytes = to_safetensors(net, info, extra);
  // The header's text, as any JSON reader sees it: the list is one escaped string.
  CHECK(bytes.find("\"feature_names\":\"[\\\"sepal length\\\",\\\"a,b \\\\\\\"q\\\\\\\"\\\",") !=
        std::string::npos);
  CHECK(bytes.find("\"task\":\"classification\"") != std::string::npos);
  Model m = parse(bytes);
  CHECK(m.info.feature_names == info.feature_names);
  CHECK(m.info.class_names == info.class_names);
  CHECK(m.info.classes_type == "str" && m.info.task == Task::Classification);
  CHECK(m.info.target_names.empty());
  CHECK(m.extra == extra);  // the names are the format's, not extra entries

  // one sigmoid output: two classes (output > 0.5 is the second)
  Network<double> binary({2, 1}, Activation::Sigmoid, Activation::Sigmoid);
  ModelInfo two;
  two.task = Task::Classification;
  two.class_names = {"0", "1"};
  two.classes_type = "int";
  CHECK(parse(to_safetensors(binary, two)).info.class_names == two.class_names);
  two.class_names = {"yes"};  // one name for the one output is also consistent
  two.classes_type = "str";
  CHECK(parse(to_safetensors(binary, two)).info.class_names == two.class_names);
  // classes of a number type or bool must read back as distinct values of it
  two.class_names = {"-3", "9223372036854775807"};
  two.classes_type = "int";
  CHECK(parse(to_safetensors(binary, two)).info.class_names == two.class_names);
  two.class_names = {"1e-05", "2.5"};
  two.classes_type = "float";
  CHECK(parse(to_safetensors(binary, two)).info.class_names == two.class_names);
  auto bad_classes = [&](std::vector<std::string> names, const char* type, const std::string& message) {
    ModelInfo b = two;
    b.class_names = std::move(names);
    b.classes_type = type;
    return throws<std::invalid_argument>([&] { to_safetensors(binary, b); }, message);
  };
  CHECK(bad_classes({"1", "01"}, "int", "metadata 'classes' holds '1' and '01', one int value twice"));
  CHECK(bad_classes({"1", "+2"}, "int", "holds '+2', which is not an integer within int64"));
  CHECK(bad_classes({"-9223372036854775809", "0"}, "int", "which is not an integer within int64"));
  CHECK(bad_classes({"0", "-0.0"}, "float", "holds '0' and '-0.0', one float value twice"));
  CHECK(bad_classes({"nan", "1"}, "float", "holds 'nan', which is not a finite number"));
  CHECK(bad_classes({"True", "true"}, "bool", "holds 'true', which is not 'True' or 'False'"));

  ModelInfo reg;
  reg.task = Task::Regression;
  reg.target_names = {"y"};
  reg.feature_names = {"a", "b"};
  m = parse(to_safetensors(binary, reg));
  CHECK(m.info.task == Task::Regression && m.info.target_names == reg.target_names);
  CHECK(m.info.class_names.empty() && m.info.classes_type.empty());

  // writing refuses what reading would refuse
  auto refused = [&](ModelInfo i, const std::string& message) {
    return throws<std::invalid_argument>([&] { to_safetensors(net, i); }, message);
  };
  ModelInfo i = info;
  i.feature_names.pop_back();
  CHECK(refused(i, "metadata 'feature_names' lists 2 name(s); the network needs 3"));
  i = info;
  i.feature_names[2] = i.feature_names[0];
  CHECK(refused(i, "metadata 'feature_names' names 'sepal length' twice"));
  i = info;
  i.task = Task::Regression;
  CHECK(refused(i, "metadata 'classes' needs task 'classification'"));
  i = info;
  i.task.reset();
  CHECK(refused(i, "metadata 'classes' needs task 'classification'"));
  i = info;
  i.class_names.push_back("extra");
  CHECK(refused(i, "metadata 'classes' lists 4 name(s); the network needs 3"));
  i = info;
  i.classes_type = "list";
  CHECK(refused(i, "'classes_type' must be one of"));
  i = {};
  i.classes_type = "str";
  CHECK(refused(i, "'classes_type' needs 'classes'"));
  i = {};
  i.task = Task::Classification;
  i.target_names = {"a", "b", "c"};
  CHECK(refused(i, "'target_names' needs task 'regression'"));
  i = info;
  i.feature_names[1] = "\xff";
  CHECK(refused(i, "not valid UTF-8"));
  CHECK(throws<std::invalid_argument>([&] { to_safetensors(net, info, {{"classes", "[]"}}); },
                                      "metadata key 'classes' is reserved"));
  CHECK(throws<std::invalid_argument>([&] { to_safetensors(net, {}, {{"feature_names", "[]"}}); },
                                      "metadata key 'feature_names' is reserved"));
  // Without a task, entries named classes belong to whoever wrote them (older files).
  m = parse(to_safetensors(net, {}, {{"classes", "whatever"}}));
  CHECK(m.extra.at("classes") == "whatever" && m.info.class_names.empty());

  // reading refuses inconsistent entries, naming the key
  auto bad = [](const std::string& entries, const std::string& message) {
    const std::string meta = kMeta.substr(0, kMeta.size() - 1) + "," + entries + "}";
    return throws<ModelFileError>([&] { parse(hand_file(meta)); }, message);
  };
  const std::string cls = "\"task\":\"classification\",";
  CHECK(bad("\"feature_names\":\"[\\\"a\\\"]\"", "'feature_names' lists 1 name(s); the network needs 2"));
  CHECK(bad("\"feature_names\":\"[\\\"a\\\",\\\"a\\\"]\"", "'feature_names' names 'a' twice"));
  CHECK(bad("\"feature_names\":\"a,b\"", "'feature_names' must be a JSON array of strings"));
  CHECK(bad("\"feature_names\":\"{}\"", "'feature_names' must be a JSON array of strings; got an object"));
  CHECK(bad("\"feature_names\":\"[1,2]\"", "must be a JSON array of strings; it holds an integer"));
  CHECK(bad("\"feature_names\":\"[\\\"a\\\",\\\"b\\\"\"", "'feature_names' must be a JSON array"));
  CHECK(bad("\"task\":\"clustering\"", "metadata 'task' must be one of 'classification', 'regression'"));
  CHECK(bad(cls + "\"classes\":\"[\\\"a\\\",\\\"b\\\",\\\"c\\\"]\"", "'classes' lists 3 name(s)"));
  CHECK(bad(cls + "\"classes\":\"[\\\"a\\\",\\\"a\\\"]\"", "'classes' names 'a' twice"));
  CHECK(bad("\"task\":\"regression\",\"classes\":\"[\\\"a\\\",\\\"b\\\"]\"", "'classes' needs task 'classification'"));
  CHECK(bad(cls + "\"classes_type\":\"str\"", "'classes_type' needs 'classes'"));
  CHECK(bad(cls + "\"classes_type\":\"\"", "'classes_type' is empty"));
  CHECK(bad(cls + "\"target_names\":\"[\\\"y\\\"]\"", "'target_names' needs task 'regression'"));
  std::string many = "\"feature_names\":\"[";
  for (int k = 0; k < 300000; ++k) many += "1,";
  CHECK(bad(many + "1]\"", "'feature_names' must be a JSON array of strings; too many values"));
}

// Each mutation of the hand-written file must throw ModelFileError with `message`.
void test_hostile_headers() {
  auto bad = [](const std::string& bytes, const std::string& message) {
    return throws<ModelFileError>([&] { parse(bytes); }, message);
  };
  auto with_meta = [](const std::string& from, const std::string& to) {
    std::string meta = kMeta;
    meta.replace(meta.find(from), from.size(), to);
    return hand_file(meta);
  };
  const std::string data(24, '\0');
  auto two = [&](const std::string& a, const std::string& b, const std::string& d = std::string(24, '\0')) {
    return file_of("{" + a + "," + b + "," + kMeta + "}", d);
  };
  const std::string w = tensor("layers.0.weight", "F64", "[2,1]", 0, 16);
  const std::string b = tensor("layers.0.bias", "F64", "[1]", 16, 24);

  // header length
  CHECK(bad(std::string(7, '\0'), "too few"));
  CHECK(bad(u64_le(0), "too short for a JSON object"));
  CHECK(bad(u64_le(100) + "{}", "runs past the end"));
  CHECK(bad(u64_le(~std::uint64_t(0)) + "{}", "exceeds the limit"));
  CHECK(bad(u64_le(kMaxHeaderBytes + 1) + "{}", "exceeds the limit"));
  // JSON
  CHECK(bad(file_of("{} x", ""), "unexpected text after"));
  CHECK(bad(file_of("{\"a\":1,\"a\":2}", ""), "duplicate key 'a'"));
  CHECK(bad(file_of("{\"a\":[[[[[[[[[[1]]]]]]]]]]}", ""), "nested too deeply"));
  CHECK(bad(file_of("{\"a\":18446744073709551616}", ""), "does not fit 64 bits"));
  CHECK(bad(file_of("{\"a\":18446744073709551615}", ""), "no __metadata__"));
  CHECK(bad(file_of("{\"a\":-1}", ""), "unsupported value"));
  CHECK(bad(file_of("{\"a\":1.5}", ""), "non-integer"));
  CHECK(bad(file_of("{\"a\":01}", ""), "leading zero"));
  CHECK(bad(file_of("{\"a\":true}", ""), "unsupported value"));
  CHECK(bad(file_of("{\"a\":\"\\ud800\"}", ""), "unpaired surrogate"));
  CHECK(bad(file_of("{\"a\":\"\xc0\xaf\"}", ""), "not valid UTF-8"));
  CHECK(bad(file_of("{\"a\":\"x\ny\"}", ""), "control character"));
  CHECK(bad(file_of("{\"a\":\"\\q\"}", ""), "bad escape"));
  CHECK(bad(file_of("{\"a\" 1}", ""), "expected ':'"));
  CHECK(bad(file_of("{\"a\":1", ""), "expected '}'"));
  CHECK(bad(file_of("[1]", ""), "must be a JSON object"));
  CHECK(bad(file_of("{\"a\":\"unterminated}", ""), "unterminated string"));
  std::string many = "{\"a\":[";
  for (int i = 0; i < 300000; ++i) many += "1,";
  many += "1]}";
  CHECK(bad(file_of(many, ""), "too many values"));
  // metadata
  CHECK(bad(file_of("{" + w + "," + b + "}", data), "no __metadata__"));
  CHECK(bad(with_meta("\"format\":\"fastmlp\",", ""), "metadata has no 'format'"));
  CHECK(bad(with_meta("fastmlp", "torch"), "not a fastmlp model"));
  CHECK(bad(with_meta("\"format_version\":\"1\"", "\"format_version\":\"2\""),
            "format_version '2' is not supported"));
  CHECK(bad(with_meta(",\"leaky_slope\":\"0.01\"", ""), "metadata has no 'leaky_slope'"));
  CHECK(bad(with_meta("0.01", "nan"), "'leaky_slope' must be a finite number"));
  CHECK(bad(with_meta("0.01", "-0.5"), "'leaky_slope' must be a finite number >= 0"));
  CHECK(bad(with_meta("\"2,1\"", "\"2,0\""), "layer widths"));
  CHECK(bad(with_meta("\"2,1\"", "\"2, 1\""), "layer widths"));
  CHECK(bad(with_meta("\"2,1\"", "\"2\""), "at least an input and an output"));
  CHECK(bad(with_meta("\"2,1\"", "\"99999999999999999999,1\""), "layer widths"));
  CHECK(bad(with_meta("\"sigmoid\"", "\"sigmoid,sigmoid\""), "one per layer"));
  CHECK(bad(with_meta("\"sigmoid\"", "\"swish\""), "'swish'"));
  CHECK(bad(with_meta("\"mse\"", "\"hinge\""), "loss must be one of"));
  CHECK(bad(with_meta("\"sum\"", "\"max\""), "reduction must be one of"));
  {
    std::string meta = kMeta;
    meta.replace(meta.find("\"sigmoid\""), 9, "\"identity\"");
    meta.replace(meta.find("\"mse\""), 5, "\"cross_entropy\"");
    CHECK(bad(hand_file(meta), "needs output 'softmax' or 'sigmoid'"));
  }
  CHECK(bad(with_meta("\"format\":\"fastmlp\"", "\"format\":1"), "metadata 'format' must be a string"));
  // tensors
  CHECK(bad(two(w, tensor("layers.1.bias", "F64", "[1]", 16, 24)), "unexpected tensor 'layers.1.bias'"));
  CHECK(bad(two(w, tensor("layers.00.bias", "F64", "[1]", 16, 24)), "unexpected tensor"));
  CHECK(bad(file_of("{" + w + "," + kMeta + "}", std::string(16, '\0')), "no tensor 'layers.0.bias'"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F16", "[1]", 16, 24)), "dtype 'F16'"));
  CHECK(bad(two(w, tensor("layers.0.bias", "I64", "[1]", 16, 24)), "dtype 'I64'"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F32", "[1]", 16, 20), std::string(20, '\0')),
            "all tensors must share one"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F64", "[2]", 16, 24)), "has shape [2]"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F64", "[1,1]", 16, 24)), "has shape [1,1]"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F64", "[]", 16, 24)), "has shape []"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F64", "[1,1,1,1,1]", 16, 24)), "[1,1,1]..."));
  CHECK(bad(two(w, tensor("layers.0.bias", "F64", "[\"1\"]", 16, 24)), "shape must hold integers"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F64", "[1]", 8, 16)), "overlap"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F64", "[1]", 0, 8)), "overlap"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F64", "[1]", 16, 24), std::string(32, '\0')),
            "the tensors fill 24"));
  CHECK(bad(two(tensor("layers.0.weight", "F64", "[2,1]", 8, 24), tensor("layers.0.bias", "F64", "[1]", 24, 32),
                std::string(32, '\0')),
            "unused bytes [0, 8)"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F64", "[1]", 16, 100)), "outside the data section"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F64", "[1]", 24, 16)), "outside the data section"));
  CHECK(bad(two(w, tensor("layers.0.bias", "F64", "[1]", 16, 20)), "span 4 bytes"));
  CHECK(bad(two(w, "\"layers.0.bias\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[16]}"),
            "data_offsets must be two integers"));
  CHECK(bad(two(w, "\"layers.0.bias\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[16,24],\"x\":1}"),
            "unexpected entry 'x'"));
  CHECK(bad(two(w, "\"layers.0.bias\":{\"shape\":[1],\"data_offsets\":[16,24]}"), "has no 'dtype'"));
  CHECK(bad(two(w, "\"layers.0.bias\":[]"), "must be a JSON object"));
  // Huge shapes consistent with huge sizes: refused by the offsets before any
  // allocation (a 2^32 x 2^32 network would need 2^67 bytes).
  {
    std::string meta = kMeta;
    meta.replace(meta.find("\"2,1\""), 5, "\"4294967296,4294967296\"");
    const std::string huge_w = tensor("layers.0.weight", "F64", "[4294967296,4294967296]", 0,
                                      std::uint64_t(1) << 62);
    const std::string huge_b = tensor("layers.0.bias", "F64", "[4294967296]", 16, 24);
    CHECK(bad(file_of("{" + huge_w + "," + huge_b + "," + meta + "}", data), "outside the data section"));
    const std::string wrapped = tensor("layers.0.weight", "F64", "[4294967296,4294967296]", 0, 0);
    CHECK(bad(file_of("{" + wrapped + "," + huge_b + "," + meta + "}", data),
              "tensor 'layers.0.weight' is too large"));
  }
  // reserved keys cannot be smuggled in through `extra`
  Network<double> net({2, 1}, Activation::Sigmoid, Activation::Sigmoid);
  CHECK(throws<std::invalid_argument>([&] { to_safetensors(net, {}, {{"sizes", "9"}}); }, "reserved"));
  CHECK(throws<std::invalid_argument>([&] { to_safetensors(net, {}, {{"k", "\xff"}}); }, "UTF-8"));
}

// Messages quote the file's text: always one line of well-formed UTF-8, any
// other byte escaped (a mutation test found a bad escape that echoed a raw 0xa2,
// which Python could not decode into the ValueError's message).
void test_messages_are_printable() {
  CHECK(utf8_sequence("a") == 1 && utf8_sequence("\xc3\xa9") == 2 && utf8_sequence("\xe6\xa8\xa1") == 3 &&
        utf8_sequence("\xf0\x9f\x98\x80") == 4);
  for (const char* bad : {"\xa2", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", ""})
    CHECK(utf8_sequence(bad) == 0);
  CHECK(printable("caf\xc3\xa9 \xe6\xa8\xa1") == "caf\xc3\xa9 \xe6\xa8\xa1");
  CHECK(printable("a\nb\xa2\xc3") == "a\\x0ab\\xa2\\xc3");
  const std::string bad_escape = "{\"__metadata__\":{\"x\":\"\\\xa2\"}}";
  CHECK(throws<ModelFileError>([&] { parse(file_of(bad_escape, "")); }, "bad escape '\\\\xa2'"));
  // the name tables quote what they refuse the same way (a fuzzer found a DEL)
  std::string meta = kMeta;
  meta.replace(meta.find("\"mse\""), 5, "\"ms\x7f\"");
  CHECK(throws<ModelFileError>([&] { parse(hand_file(meta)); }, "got 'ms\\x7f'"));
}

// Every prefix of a valid file is refused, and every single-byte change either
// loads or is refused: never a crash (the sanitizer builds make this sharp).
void test_truncation_and_flips() {
  const Network<float> net = random_network<float>({3, 2, 2}, Activation::Relu, Activation::Softmax,
                                                   Loss::CrossEntropy, Reduction::Mean, 3);
  const std::string bytes = to_safetensors(net, {}, {{"classes", "[\"a\",\"b\"]"}});
  bool all_refused = true;
  for (std::size_t k = 0; k < bytes.size(); ++k) {
    try {
      from_safetensors(bytes.data(), k);
      all_refused = false;
    } catch (const ModelFileError&) {
    }
  }
  CHECK(all_refused);
  bool only_model_errors = true;
  std::size_t loaded = 0;
  for (std::size_t k = 0; k < bytes.size(); ++k)
    for (unsigned char flip : {0x01, 0x20, 0x80, 0xff}) {
      std::string changed = bytes;
      changed[k] = static_cast<char>(changed[k] ^ flip);
      try {
        parse(changed);
        ++loaded;
      } catch (const ModelFileError&) {
      } catch (...) {
        only_model_errors = false;
      }
    }
  CHECK(only_model_errors);
  CHECK(loaded >= 4 * net.n_params() * sizeof(float));  // flips in the data section load
}

// --- files -------------------------------------------------------------------------------------

bool no_temporaries(const fs::path& dir) {
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().rfind(".fastmlp-", 0) == 0) return false;
  return true;
}

void test_files() {
  const fs::path dir = fs::temp_directory_path() / "fastmlp_test_files";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "model.safetensors";
  const Network<double> net = random_network<double>({4, 5, 3}, Activation::Sigmoid, Activation::Sigmoid,
                                                     Loss::Mse, Reduction::Sum, 1);

  // load: what cannot be read is a FileError naming the file and the reason
  CHECK(throws<FileError>([&] { load((dir / "missing").string()); }, "missing: cannot open for reading"));
  try {
    load((dir / "missing").string());
  } catch (const FileError& e) {
    CHECK(e.error_code() == ENOENT && e.path() == (dir / "missing").string());
  }
  CHECK(throws<FileError>([&] { load(dir.string()); }, "Is a directory"));
  // a truncated file on disk: ModelFileError naming it
  const std::string bytes = to_safetensors(net);
  for (std::size_t cut : {std::size_t(0), std::size_t(5), std::size_t(8), std::size_t(40), bytes.size() - 1}) {
    std::ofstream(path, std::ios::binary) << bytes.substr(0, cut);
    CHECK(throws<ModelFileError>([&] { load(path.string()); }, path.string() + ": "));
  }
  {
    std::ofstream(path, std::ios::binary) << bytes << "x";
    CHECK(throws<ModelFileError>([&] { load(path.string()); }, "the tensors fill"));
  }

  // save into a missing directory, or over a directory: FileError, nothing left behind
  CHECK(throws<FileError>([&] { save(net, (dir / "no" / "m.st").string()); }, "cannot save there"));
  fs::create_directories(dir / "sub");
  CHECK(throws<FileError>([&] { save(net, (dir / "sub").string()); }, "cannot replace"));
  CHECK(fs::is_directory(dir / "sub") && no_temporaries(dir));
  // a path with a NUL byte names another file to the system: refused, nothing written
  const std::string nul_path = (dir / "a").string() + std::string(1, '\0') + "b";
  CHECK(throws<std::invalid_argument>([&] { save(net, nul_path); }, "contains a NUL byte"));
  CHECK(throws<std::invalid_argument>([&] { load(nul_path); }, "'" + (dir / "a").string() + "\\x00b'"));
  CHECK(!fs::exists(dir / "a") && no_temporaries(dir));

#if defined(__linux__)
  // A write that fails half-way (the file-size limit, EFBIG) leaves the previous
  // file as it was and no temporary behind.
  const Network<double> old_net = random_network<double>({2, 1}, Activation::Sigmoid, Activation::Sigmoid,
                                                         Loss::Mse, Reduction::Sum, 2);
  save(old_net, path.string());
  const std::string before = read_file(path);
  const Network<double> big = random_network<double>({64, 64, 8}, Activation::Sigmoid, Activation::Sigmoid,
                                                     Loss::Mse, Reduction::Sum, 3);
  rlimit saved;
  getrlimit(RLIMIT_FSIZE, &saved);
  rlimit small = saved;
  small.rlim_cur = 4096;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &small);
  const bool failed = throws<FileError>([&] { save(big, path.string()); }, "File too large");
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  CHECK(failed);
  CHECK(read_file(path) == before);
  CHECK(no_temporaries(dir));
  save(big, path.string());  // and without the limit it replaces the file
  CHECK(same(big, std::get<Network<double>>(load(path.string()).network)));
  CHECK(no_temporaries(dir));
#endif
  fs::remove_all(dir);
}


#if !defined(_WIN32)
// The error code of the FileError `f` throws, or -1.
template <class F>
int file_error_code(F&& f) {
  try {
    f();
  } catch (const FileError& e) {
    return e.error_code();
  } catch (...) {
  }
  return -1;
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<unsigned>(st.st_mode & 07777) : 0u;
}

// What a save does with what it finds at its path (io_file.hpp): special files
// refused with a real error code and left as they are, a FIFO never waited on,
// modes kept, symbolic links followed, loops refused.
void test_special_files() {
  const fs::path dir = fs::temp_directory_path() / "fastmlp_test_special_files";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const Network<double> net = random_network<double>({3, 4, 2}, Activation::Sigmoid, Activation::Sigmoid,
                                                     Loss::Mse, Reduction::Sum, 5);
  const std::string bytes = to_safetensors(net);

  const fs::path fifo = dir / "fifo";
  CHECK(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK(throws<FileError>([&] { save(net, fifo.string()); }, "cannot replace a FIFO, not a regular file"));
  CHECK(file_error_code([&] { write_file_atomically(fifo.string(), "x"); }) == EINVAL);
  CHECK(file_error_code([&] { check_replaceable(fifo.string()); }) == EINVAL);
  CHECK(fs::is_fifo(fs::symlink_status(fifo)));
  // no writer: the load answers instead of waiting for one
  CHECK(file_error_code([&] { load(fifo.string()); }) == EINVAL);
  CHECK(throws<FileError>([&] { load("/dev/zero"); }, "/dev/zero: cannot read a character device"));
  CHECK(file_error_code([&] { save(net, dir.string()); }) == EISDIR);

  // a replaced file keeps its mode; a new one gets 0666 less the umask, as std::ofstream's
  const fs::path path = dir / "m.st";
  std::ofstream(path) << "old";
  CHECK(::chmod(path.c_str(), 0600) == 0);
  save(net, path.string());
  CHECK(mode_of(path) == 0600u && read_file(path) == bytes);
  const mode_t old_umask = ::umask(027);
  std::ofstream(dir / "by_ofstream") << "x";
  save(net, (dir / "new.st").string());
  ::umask(old_umask);
  CHECK(mode_of(dir / "new.st") == mode_of(dir / "by_ofstream") && mode_of(dir / "new.st") == 0640u);

  // a symbolic link: the file it names is replaced; the link stays
  fs::create_directories(dir / "sub");
  fs::create_symlink(fs::path("sub") / "real.st", dir / "link.st");
  save(net, (dir / "link.st").string());
  CHECK(fs::is_symlink(dir / "link.st") && read_file(dir / "sub" / "real.st") == bytes);
  CHECK(no_temporaries(dir) && no_temporaries(dir / "sub"));
  // a loop: ELOOP, nothing created
  fs::create_symlink("loop_b", dir / "loop_a");
  fs::create_symlink("loop_a", dir / "loop_b");
  CHECK(file_error_code([&] { save(net, (dir / "loop_a").string()); }) == ELOOP);
  CHECK(fs::is_symlink(dir / "loop_a") && fs::is_symlink(dir / "loop_b") && no_temporaries(dir));
  fs::remove_all(dir);
}
#endif

}  // namespace

int main() {
  test_round_trip<double>();
  test_round_trip<float>();
  test_layout();
  test_golden_files();
  test_hand_written();
  test_model_info();
  test_hostile_headers();
  test_messages_are_printable();
  test_truncation_and_flips();
  test_files();
#if !defined(_WIN32)
  test_special_files();
#endif
  return check::finish("test_safetensors");
}
