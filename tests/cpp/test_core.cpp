// C++ tests of the core outside the GEMM: RNG, CSV reader, network, training.
// A plain program: each failed check prints its line and the run exits 1.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fastmlp/elementwise.hpp>
#include <fastmlp/errors.hpp>
#include <fastmlp/io_csv.hpp>
#include <fastmlp/metrics.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/optim.hpp>
#include <fastmlp/rng.hpp>
#include <fastmlp/threads.hpp>
#include <fastmlp/train.hpp>

#include "check.hpp"

using namespace fastmlp;

namespace {

using check::throws;

double sigmoid_d(double z) { return 1.0 / (1.0 + std::exp(-z)); }

// --- rng ----------------------------------------------------------------------------

void test_rng() {
  Rng a(42), b(42), c(43);
  bool all_equal = true, any_differs = false, in_range = true;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t x = a.next(), y = b.next(), z = c.next();
    all_equal = all_equal && x == y;
    any_differs = any_differs || x != z;
  }
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = a.uniform();
    const float f = a.uniform_float();
    in_range = in_range && u >= 0 && u < 1 && f >= 0 && f < 1;
    sum += u;
  }
  CHECK(all_equal);
  CHECK(any_differs);
  CHECK(in_range);
  CHECK(std::abs(sum / 100000 - 0.5) < 0.01);
}

// portable_log against the C library's log: within 2 ulp over many magnitudes,
// subnormals included; and the normal draws it feeds have mean 0, variance 1.
void test_portable_log_and_normal() {
  double worst_ulps = 0;
  Rng r(7);
  for (int i = 0; i < 200000; ++i) {
    const double x = std::ldexp(0.5 + r.uniform(), static_cast<int>(r.below(2100)) - 1074);
    if (!(x > 0) || !std::isfinite(x)) continue;
    const double want = std::log(x), got = portable_log(x);
    const double ulp = std::nextafter(std::abs(want), INFINITY) - std::abs(want);
    worst_ulps = std::max(worst_ulps, std::abs(got - want) / ulp);
  }
  CHECK(worst_ulps <= 2);
  CHECK(portable_log(1.0) == 0.0);
  double sum = 0, squares = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double z = r.normal();
    sum += z;
    squares += z * z;
  }
  CHECK(std::abs(sum / n) < 0.01);
  CHECK(std::abs(squares / n - 1) < 0.01);
}

// --- exp and the activations at the edges ---------------------------------------------

// NaN in, NaN out (a NaN weight in a loaded file reaches exp); +infinity and
// the largest finite values give infinity, as std::exp; -infinity and the
// lowest clamp to a tiny normal number; either side of the overflow edge is
// std::exp's; nothing in between is undefined behaviour (tests/sanitize/run.sh
// runs this under UBSan, where a fuzzer found exp(NaN) shifting a negative
// number).
template <class T>
void test_exp_edges() {
  const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
  const T big = std::numeric_limits<T>::max();
  std::vector<T> x = {nan, -nan, inf, -inf, big, -big, T(0), T(-0.0), T(1)};
  exp_inplace(x.data(), x.size());
  CHECK(std::isnan(x[0]) && std::isnan(x[1]));
  CHECK(std::isinf(x[2]) && x[2] > T(0) && x[2] == x[4]);
  CHECK(x[3] > T(0) && x[3] == x[5] && x[3] < T(1e-30));
  CHECK(x[6] == T(1) && x[7] == T(1) && std::abs(x[8] - T(2.718281828459045)) < T(1e-6));
  // the largest finite e^x is at x = log(max): just below, std::exp's value to
  // a few ulp; just above, infinity
  const T edge = std::log(big);
  std::vector<T> near = {std::nextafter(edge, T(0)), edge - T(0.5), std::nextafter(edge, inf), edge + T(0.5)};
  exp_inplace(near.data(), near.size());
  CHECK(std::abs(near[0] / std::exp(std::nextafter(edge, T(0))) - T(1)) < 8 * std::numeric_limits<T>::epsilon());
  CHECK(std::abs(near[1] / std::exp(edge - T(0.5)) - T(1)) < 8 * std::numeric_limits<T>::epsilon());
  CHECK(std::isinf(near[2]) && std::isinf(near[3]));
  for (const Activation f : {Activation::Sigmoid, Activation::Tanh}) {
    std::vector<T> y = {nan, -nan, inf, -inf};
    activate(f, y.data(), y.size());
    CHECK(std::isnan(y[0]) && std::isnan(y[1]));
    CHECK(y[2] == T(1));
    CHECK(f == Activation::Sigmoid ? y[3] >= T(0) && y[3] < T(1e-30) : y[3] == T(-1));
  }
}

// --- csv ------------------------------------------------------------------------------

void test_csv() {
  std::istringstream good("a,b,c\r\n1, 2,0\n\n  -3.5,+4e1,1\n");
  CsvData d = read_csv(good, "good.csv", 1);
  CHECK(d.header.size() == 3 && d.header[1] == "b");
  CHECK(d.X.rows() == 2 && d.X.cols() == 2 && d.Y.cols() == 1);
  CHECK(d.X(0, 1) == 2.0 && d.X(1, 0) == -3.5 && d.X(1, 1) == 40.0 && d.Y(1, 0) == 1.0);

  std::istringstream no_header("1,2,3\n4,5,6\n");
  CHECK(read_csv(no_header, "n.csv", 1).header.empty());

  auto parse = [](const std::string& text) {
    std::istringstream in(text);
    read_csv(in, "t.csv", 1);
  };
  CHECK(throws<std::invalid_argument>([&] { parse("1,2\n3,x\n"); }, "t.csv, line 2, column 2: 'x'"));
  CHECK(throws<std::invalid_argument>([&] { parse("1,2\n3,inf\n"); }, "not a finite number"));
  CHECK(throws<std::invalid_argument>([&] { parse("1,2\n3\n"); }, "line 2: expected 2 fields"));
  CHECK(throws<std::invalid_argument>([&] { parse("1,2\n3,4,\n"); }, "expected 2 fields, found 3"));
  CHECK(throws<std::invalid_argument>([&] { parse("a,b\n"); }, "no data rows"));
  CHECK(throws<std::invalid_argument>([&] { parse("1\n2\n"); }, "leave no features"));
  CHECK(throws<std::runtime_error>([] { read_csv("/nonexistent.csv", 1); }, "cannot open"));
  CHECK(throws<FileError>([] { read_csv(std::filesystem::temp_directory_path().string(), 1); },
                          "cannot read: Is a directory"));
  CHECK(throws<std::invalid_argument>([] { read_csv(std::string("a\0b", 3), 1); }, "contains a NUL byte"));

  // Streaming: rows in blocks into the caller's buffer; blank lines skipped,
  // the last line without its newline.
  std::istringstream stream("x,y\n1,2\n3,4\n\n5,6");
  CsvReader reader(stream, "s.csv");
  CHECK(reader.columns() == 2 && reader.header().size() == 2);
  double block[4] = {};
  CHECK(reader.read(block, 2) == 2 && block[0] == 1 && block[3] == 4);
  CHECK(reader.read(block, 2) == 1 && block[0] == 5 && block[1] == 6);
  CHECK(reader.read(block, 2) == 0);
  // Read a byte at a time, the same rows: lines and fields straddle the blocks.
  std::istringstream bytewise("x,y\n1,2\n3,4\n\n5,6");
  CsvReader slow(bytewise, "s.csv", 1);
  double rows[6] = {};
  CHECK(slow.header().size() == 2 && slow.read(rows, 3) == 3 && rows[0] == 1 && rows[3] == 4 && rows[5] == 6);
  // far past the reader's 64 KiB buffer, line numbers stay exact
  std::string many;
  for (int i = 0; i < 30000; ++i) many += "1,2\n";
  CHECK(throws<std::invalid_argument>([&] { parse(many + "3,x\n"); }, "t.csv, line 30001, column 2: 'x'"));
  std::istringstream many_rows(many);
  CHECK(read_csv(many_rows, "m.csv", 1).X.rows() == 30000);
  // a line without end is refused at the limit, not buffered whole
  std::istringstream endless(std::string(CsvReader::kMaxLineBytes + 1, '1'));
  CHECK(throws<std::invalid_argument>([&] { CsvReader r(endless, "e.csv"); }, "e.csv, line 1: longer than"));
  // The first row: a header only when none of its fields is a number, data when
  // all are, an error naming the field otherwise (it was once taken as a header).
  auto rows_of = [](const std::string& text, std::size_t block = CsvReader::kBlockBytes) {
    std::istringstream in(text);
    CsvReader r(in, "t.csv", block);
    std::vector<double> values(16 * std::max<std::size_t>(r.columns(), 1));
    const std::size_t n = r.read(values.data(), 16);
    values.resize(n * r.columns());
    return std::make_pair(r.header(), values);
  };
  CHECK(throws<std::invalid_argument>([&] { parse("0.5,O.5,0.5,0.5\n1,2,3,4\n"); },
                                      "t.csv, line 1, column 2: 'O.5' is not a number (a first row"));
  CHECK(throws<std::invalid_argument>([&] { parse("0.5,,0.5\n1,2,3\n"); }, "line 1, column 2: empty field"));
  CHECK(throws<std::invalid_argument>([&] { parse("1,2,3,label\n1,2,3,0\n"); }, "line 1, column 4: 'label'"));
  CHECK(throws<std::invalid_argument>([&] { parse("1,2\n3,\n"); }, "line 2, column 2: empty field"));
  // a UTF-8 byte order mark is not part of the first field; a UTF-16 one is refused
  CHECK(rows_of("\xEF\xBB\xBF" "0.5,1\n2,3\n").second == std::vector<double>({0.5, 1, 2, 3}));
  CHECK(rows_of("\xEF\xBB\xBF" "x,y\n2,3\n").first == std::vector<std::string>({"x", "y"}));
  CHECK(throws<std::invalid_argument>([&] { parse(std::string("\xFF\xFE" "1\0,\0" "2\0\n\0", 10)); }, "t.csv: UTF-16 text"));
  CHECK(throws<std::invalid_argument>([&] { parse("\xFF" "a,b\n1,2\n"); }, "column 1: header name '\\xffa' is not UTF-8"));
  // errors in data rows name the column by its header name too
  CHECK(throws<std::invalid_argument>([&] { parse("a,b\n1,2\n3,x\n"); }, "t.csv, line 3, column 2 ('b'): 'x' is not"));
  // \n, \r\n and \r end lines, counted as an editor counts them, whatever the blocks
  for (std::size_t block : {std::size_t(1), std::size_t(2), CsvReader::kBlockBytes}) {
    CHECK(rows_of("a,b\r\n1,2\r\r\n3,4\r5,6\n\r7,8", block).second ==
          std::vector<double>({1, 2, 3, 4, 5, 6, 7, 8}));
    CHECK(throws<std::invalid_argument>([&] {
      std::istringstream in("a,b\r\n1,2\r\r\n3,4\r5,x\n");
      CsvReader r(in, "t.csv", block);
      double out[8];
      r.read(out, 4);
    }, "t.csv, line 5, column 2 ('b')"));
  }
  // quoted fields: names with commas and quotes, numbers as if unquoted
  const auto quoted = rows_of("\"a, \"\"1\"\"\",\" b \",c\n\"1\", 2 ,\"3.5\"\n");
  CHECK(quoted.first == std::vector<std::string>({"a, \"1\"", " b ", "c"}));  // spaces kept, as the csv module keeps them
  CHECK(quoted.second == std::vector<double>({1, 2, 3.5}));
  CHECK(throws<std::invalid_argument>([&] { parse("a,\"b\nc\",d\n1,2,3\n"); },
                                      "line 1, column 2: the quoted field does not end on its line"));
  CHECK(throws<std::invalid_argument>([&] { parse("1,\"2\"x\n"); }, "line 1, column 2: text after the closing quote"));
  CHECK(throws<std::invalid_argument>([&] { parse("a,b\n1,\"2\"\"\"\n"); }, "column 2 ('b'): '2\"\"' is not a number"));
  // a number beyond a double's range is a number all the same: the row is data, refused
  CHECK(throws<std::invalid_argument>([&] { parse("1e400,1e-400\n1,2\n"); },
                                      "line 1, column 1: '1e400' is not a number in a double's range"));
  // a sign is one character: +-1 is no number
  double value;
  CHECK(!parse_number("+-1", value) && !parse_number("+", value) && parse_number("+1", value) && value == 1);
  // a row past the column limit is refused before a field is stored
  std::istringstream commas(std::string(CsvReader::kMaxColumns, ','));
  CHECK(throws<std::invalid_argument>([&] { CsvReader r(commas, "c.csv"); },
                                      "c.csv, line 1: 1048577 fields, more than the 1048576 columns"));

  // hostile text is quoted short and printable
  CHECK(throws<std::invalid_argument>([&] { parse("1,2\n3,\x1b" + std::string(100, 'z') + "\n"); },
                                      "column 2: '\\x1bzzz"));

  // text columns: kept as written (quotes undone), NaN among the numbers; ignored columns skipped
  for (std::size_t block : {std::size_t(1), CsvReader::kBlockBytes}) {
    std::istringstream in("x,name,junk,y\n1,\"a, \"\"b\"\"\",,2\n3,caf\xc3\xa9,?,4\n");
    CsvReader r(in, "t.csv", block);
    r.keep_text({1}, {2});
    double out[8];
    std::vector<std::string> text;
    CHECK(r.read(out, 2, &text) == 2);
    CHECK(out[0] == 1 && std::isnan(out[1]) && std::isnan(out[2]) && out[3] == 2 && out[4] == 3 && out[7] == 4);
    CHECK(text == std::vector<std::string>({"a, \"b\"", "caf\xc3\xa9"}));
  }
  // a headerless first row with names in its text column is data
  std::istringstream headerless("5.1,setosa\n4.9,virginica\n");
  CsvReader plain(headerless, "p.csv");
  CHECK(plain.header().empty());
  plain.keep_text({1});
  double plain_rows[4];
  std::vector<std::string> names;
  CHECK(plain.read(plain_rows, 2, &names) == 2 && plain_rows[0] == 5.1 && plain_rows[2] == 4.9);
  CHECK(names == std::vector<std::string>({"setosa", "virginica"}));
  // ... but not when text lies elsewhere, nor an empty class name
  auto text_read = [](const std::string& csv) {
    std::istringstream in(csv);
    CsvReader r(in, "q.csv");
    r.keep_text({1});
    double buf[4];
    std::vector<std::string> t;
    r.read(buf, 2, &t);
  };
  CHECK(throws<std::invalid_argument>([&] { text_read("setosa,5.1\n1,a\n"); }, "line 1, column 1: 'setosa' is not a number"));
  CHECK(throws<std::invalid_argument>([&] { text_read("a,b\n1,\n"); }, "q.csv, line 2, column 2 ('b'): empty field"));
  CHECK(throws<std::invalid_argument>([&] { text_read("a,b\n1,\xff\n"); }, "is not UTF-8 text"));

  // the first row as the caller says: a header of numbers (pandas' header=0), or data
  for (std::size_t block : {std::size_t(1), CsvReader::kBlockBytes}) {
    std::istringstream numbers("0,1,2\n3, 4 ,5\n");
    CsvReader named(numbers, "n.csv", block, HeaderRow::Yes);
    CHECK(named.header() == std::vector<std::string>({"0", "1", "2"}));
    double row[3];
    CHECK(named.read(row, 2) == 1 && row[0] == 3 && row[1] == 4 && row[2] == 5);
    std::istringstream names("a,b\n1,2\n");
    CsvReader data(names, "d.csv", block, HeaderRow::No);
    CHECK(data.header().empty());
    CHECK(throws<std::invalid_argument>([&] { data.read(row, 1); }, "line 1, column 1: 'a' is not a number"));
  }
  // names and text as written, spaces kept; numbers read without them
  std::istringstream spaced(" a,b \n 1.5 ,setosa \n2,\" setosa\"\n");
  CsvReader kept(spaced, "s.csv");
  CHECK(kept.header() == std::vector<std::string>({" a", "b "}));
  kept.keep_text({1});
  double spaced_rows[4];
  std::vector<std::string> labels;
  CHECK(kept.read(spaced_rows, 2, &labels) == 2 && spaced_rows[0] == 1.5 && spaced_rows[2] == 2);
  CHECK(labels == std::vector<std::string>({"setosa ", " setosa"}));
  CHECK(parse_field_number(" \t-2.5 ", value) && value == -2.5 && !parse_number(" 1", value));
}

// --- network ----------------------------------------------------------------------------

void test_network_forward() {
  Network<double> net({2, 1, 1}, Activation::Sigmoid, Activation::Sigmoid);
  net.weight(0)(0, 0) = 0.5;
  net.weight(0)(1, 0) = -0.25;
  net.bias(0)[0] = 0.1;
  net.weight(1)(0, 0) = 2.0;
  net.bias(1)[0] = -1.0;
  const double X[] = {1.0, 2.0, -1.0, 0.5};
  double out[2];
  net.predict(ConstMatrixView<double>(X, 2, 2), MatrixView<double>(out, 2, 1));
  for (int i = 0; i < 2; ++i) {
    const double h = sigmoid_d(0.5 * X[2 * i] - 0.25 * X[2 * i + 1] + 0.1);
    CHECK(std::abs(out[i] - sigmoid_d(2.0 * h - 1.0)) < 1e-15);
  }
  CHECK(throws<std::invalid_argument>(
      [&] { net.predict(ConstMatrixView<double>(X, 1, 4), MatrixView<double>(out, 1, 1)); },
      "X has 4 columns but the network takes 2 inputs"));
  CHECK(throws<std::invalid_argument>(
      [&] { net.predict(ConstMatrixView<double>(X, 2, 2), MatrixView<double>(out, 1, 1)); },
      "out must have shape (2, 1)"));
}

void test_network_sizes() {
  const std::size_t huge = std::numeric_limits<std::size_t>::max() / 2;
  CHECK(throws<std::length_error>([&] { Network<double>({4, huge, 3}, Activation::Sigmoid, Activation::Sigmoid); }, "too large"));
  CHECK(throws<std::bad_alloc>([] { Network<double>({4, std::size_t(1) << 40, 3}, Activation::Sigmoid, Activation::Sigmoid); }, "more memory"));
  CHECK(throws<std::invalid_argument>([] { Network<float>({4, 0, 3}, Activation::Sigmoid, Activation::Sigmoid); }, "at least one unit"));
  CHECK(throws<std::invalid_argument>([] { Network<float>({4}, Activation::Sigmoid, Activation::Sigmoid); }, "at least an input"));
  Network<float> net({4, 5, 3}, Activation::Sigmoid, Activation::Sigmoid);
  CHECK(net.n_params() == 4 * 5 + 5 + 5 * 3 + 3);
  CHECK(net.bias(1) - net.params() == 4 * 5 + 5 + 5 * 3);
}

// predict with kept packed weights: the bits of a predict that packs per call,
// read from the kept copy while it is ready (stale on purpose here: the caller
// says when the weights change), packed afresh once it is not.
void test_predict_kept_packing() {
  const std::size_t n = 200, in = 64;
  Network<float> net({in, 96, 48, 10}, Activation::Relu, Activation::Identity);
  net.initialize(Init::He, 5);
  std::vector<float> X(n * in);
  for (std::size_t i = 0; i < X.size(); ++i) X[i] = float((i * 2654435761u) % 1000) / 500.0f - 1.0f;
  const ConstMatrixView<float> x(X.data(), n, in);
  auto run = [&](ThreadPool* pool, Network<float>::PackedWeights* keep) {
    std::vector<float> out(n * 10);
    net.predict(x, MatrixView<float>(out.data(), n, 10), pool, keep);
    return out;
  };
  CHECK(Network<float>::predict_may_pack(n) && !Network<float>::predict_may_pack(1));
  CHECK(Network<float>::predict_splits(n) && !Network<float>::predict_splits(1));
  const std::vector<float> fresh = run(nullptr, nullptr);
  Network<float>::PackedWeights kept;
  CHECK(run(nullptr, &kept) == fresh && kept.ready);
  CHECK(run(&shared_thread_pool(2), &kept) == fresh);
  net.weight(0)(0, 0) += 1.0f;
  const std::vector<float> changed = run(nullptr, nullptr);
  CHECK(changed != fresh);
  CHECK(run(nullptr, &kept) == fresh);  // still the weights as packed
  kept.ready = false;
  CHECK(run(&shared_thread_pool(2), &kept) == changed && kept.ready);
}

// --- training -----------------------------------------------------------------------------

// XOR, one-hot over two outputs: learnable with a hidden layer only.
void test_fit_learns_and_resumes() {
  const double X[] = {0, 0, 0, 1, 1, 0, 1, 1};
  const double Y[] = {1, 0, 0, 1, 0, 1, 1, 0};
  ConstMatrixView<double> x(X, 4, 2), y(Y, 4, 2);
  auto make = [] {
    Network<double> net({2, 6, 2}, Activation::Sigmoid, Activation::Sigmoid);
    net.initialize(Init::Uniform, 7);
    return net;
  };
  Network<double> once = make(), twice = make();
  FitOptions options;
  options.epochs = 6000;
  options.learning_rate = 0.5;
  const FitResult r = fit(once, x, y, options);
  CHECK(r.epochs == 6000 && r.loss.size() == 6000 && !r.stopped);
  CHECK(r.loss.back() < r.loss.front() / 10);
  double P[8];
  once.predict(x, MatrixView<double>(P, 4, 2));
  CHECK(accuracy(ConstMatrixView<double>(P, 4, 2), y) == 1.0);

  options.epochs = 2500;
  fit(twice, x, y, options);
  options.epochs = 3500;
  fit(twice, x, y, options);
  bool same = true;
  for (std::size_t i = 0; i < once.n_params(); ++i) same = same && once.params()[i] == twice.params()[i];
  CHECK(same);

  int calls = 0;
  options.epochs = 1000000;
  const FitResult stopped = fit(twice, x, y, options, [&] { return ++calls == 3; });
  CHECK(stopped.stopped && calls == 3 && stopped.epochs < options.epochs);

  options.learning_rate = std::numeric_limits<double>::infinity();
  CHECK(throws<std::invalid_argument>([&] { fit(twice, x, y, options); }, "learning_rate"));
  CHECK(throws<std::invalid_argument>(
      [&] { fit(twice, x, ConstMatrixView<double>(Y, 3, 2), options); }, "same number of rows"));
}

// The schedules' own cos and pow against the C library's (which may differ
// from them in the last bits, never more).
void test_schedules() {
  Schedule s;
  const double pi = 3.141592653589793;
  s.kind = ScheduleKind::Cosine;
  s.lr_min = 0.1;
  double worst = 0;
  for (std::uint64_t e = 0; e <= 1000; ++e) {
    const double want = 0.1 + 0.9 * (1 + std::cos(pi * double(e) / 1000)) / 2;
    worst = std::max(worst, std::abs(scheduled_rate(s, 1.0, e, 1000, 5) - want));
  }
  CHECK(worst < 4e-16);
  CHECK(scheduled_rate(s, 1.0, 0, 1000, 5) == 1.0 && scheduled_rate(s, 1.0, 1000, 1000, 5) == 0.1);
  s.kind = ScheduleKind::InvScaling;
  worst = 0;
  for (double power : {0.0, 0.25, 0.5, 1.0, 2.7})
    for (std::uint64_t e = 0; e < 2000; e += 7) {
      s.power_t = power;
      const double want = 0.5 / std::pow(double(e) * 123 + 1, power);
      worst = std::max(worst, std::abs(scheduled_rate(s, 0.5, e, 2000, 123) / want - 1));
    }
  CHECK(worst < 1e-14);
  s.kind = ScheduleKind::Step;
  s.step_size = 3;
  s.gamma = 0.5;
  CHECK(scheduled_rate(s, 1.0, 2, 9, 1) == 1.0 && scheduled_rate(s, 1.0, 3, 9, 1) == 0.5 &&
        scheduled_rate(s, 1.0, 7, 9, 1) == 0.25);
  FitOptions options;
  options.schedule = s;
  options.schedule.gamma = 0.0;
  CHECK(throws<std::invalid_argument>([&] { check_fit_options(options); },
                                      "gamma must be a finite number > 0; got 0"));
}

// A linear model with a huge rate: the loss overflows; fit throws Diverged and
// leaves the parameters of the last finite epoch.
void test_divergence() {
  const double X[] = {1, 2, -3, 4, 5, -6, 7, 8};
  const double Y[] = {1, -1, 2, 0};
  ConstMatrixView<double> x(X, 4, 2), y(Y, 4, 1);
  auto make = [] {
    Network<double> net({2, 1}, Activation::Identity, Activation::Identity);
    net.initialize(Init::Glorot, 1);
    return net;
  };
  Network<double> net = make();
  FitOptions options;
  options.epochs = 100000;
  options.learning_rate = 1.0;
  std::size_t epoch = 0, completed = 0;
  try {
    fit(net, x, y, options);
  } catch (const Diverged& e) {
    epoch = e.epoch();
    completed = e.result().epochs;
    CHECK(std::string(e.what()).find("epoch " + std::to_string(epoch)) != std::string::npos);
  }
  CHECK(epoch > 1 && completed == epoch - 1);
  Network<double> again = make();
  options.epochs = completed;
  fit(again, x, y, options);
  bool same = true;
  for (std::size_t i = 0; i < net.n_params(); ++i) same = same && net.params()[i] == again.params()[i];
  CHECK(same);
}

void test_validation_split() {
  const RowSplit split = validation_split(10, 0.25, 3);
  CHECK(split.validation.size() == 3 && split.train.size() == 7);  // round(2.5) = 3
  std::vector<std::size_t> all = split.train;
  all.insert(all.end(), split.validation.begin(), split.validation.end());
  std::sort(all.begin(), all.end());
  bool partition = true;
  for (std::size_t i = 0; i < all.size(); ++i) partition = partition && all[i] == i;
  CHECK(partition);
  CHECK(validation_split(10, 0.25, 3).validation == split.validation);
  CHECK(validation_split(10, 0.25, 4).validation != split.validation);
  CHECK(throws<std::invalid_argument>([] { validation_split(3, 0.9, 1); }, "leaves no rows"));
  CHECK(throws<std::invalid_argument>([] { validation_split(3, 0.0, 1); }, "between 0 and 1"));
}

// "balanced" weights (6 rows of class 0 and 2 of class 1: 8 / (2 * 6) and
// 8 / (2 * 2), so class 1 weighs 3 times class 0), and a fit with them: the
// same as the unweighted fit on the data with class 1's rows 3 times over.
// With one column, the class is Y >= 0.5.
void test_class_weights() {
  Matrix<double> Y(8, 1);
  for (std::size_t i = 0; i < 8; ++i) Y(i, 0) = i < 2 ? 0.75 : 0.25;
  const std::vector<double> w = class_weights<double>(Y.view());
  CHECK(w.size() == 8 && w[0] == w[1] && w[2] == w[7] && std::abs(w[0] - 3 * w[2]) < 1e-15);
  double sum = 0;
  for (const double x : w) sum += x;
  CHECK(std::abs(sum - 8) < 1e-14);  // balanced weights keep the total at n

  constexpr std::size_t kRepeats = 3;
  Matrix<double> X(8, 2), X_rep(6 + 2 * kRepeats, 2), Y_rep(6 + 2 * kRepeats, 1);
  Rng rng(5);
  std::size_t r = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    X(i, 0) = rng.uniform(), X(i, 1) = rng.uniform();
    for (std::size_t k = 0; k < (i < 2 ? kRepeats : 1); ++k, ++r)
      X_rep(r, 0) = X(i, 0), X_rep(r, 1) = X(i, 1), Y_rep(r, 0) = Y(i, 0);
  }
  FitOptions options;
  options.epochs = 5;
  options.learning_rate = 0.5 / w[2];  // the repeated rows weigh 1, the weighted ones w[2] (or 3 w[2])
  Network<double> a({2, 3, 1}, Activation::Tanh, Activation::Sigmoid);
  Network<double> b({2, 3, 1}, Activation::Tanh, Activation::Sigmoid);
  a.initialize(Init::Glorot, 1);
  b.initialize(Init::Glorot, 1);
  Optimizer<double> optimizer;
  FitData<double> data;
  data.X = X.view();
  data.Y = Y.view();
  data.sample_weight = w.data();
  fit(a, data, options, optimizer);
  options.learning_rate = 0.5;
  fit(b, X_rep.view(), Y_rep.view(), options);
  double worst = 0;
  for (std::size_t i = 0; i < a.n_params(); ++i) worst = std::max(worst, std::abs(a.params()[i] - b.params()[i]));
  CHECK(worst < 1e-12);

  CHECK(class_weights<double>(Y.view(), {2.0, 0.5})[0] == 0.5);
  CHECK(throws<std::invalid_argument>([&] { class_weights<double>(Y.view(), {1.0}); }, "1 weights for 2 classes"));
  CHECK(throws<std::invalid_argument>([&] { class_weights<double>(Y.view(), {1.0, -1.0}); },
                                      "class_weight[1] must be finite and non-negative"));
}

}  // namespace

// --- classes and accuracy ------------------------------------------------------------------

// One output is a binary class at 0.5 (scikit-learn's rule, strictly above),
// whatever the activation; a row that is not finite has no class.
void test_classes_and_accuracy() {
  const double P1[] = {0.7, 0.5, 0.2, 0.5000001, -4, 0.3};
  const double Y1[] = {1, 1, 0, 1, 0, 1};
  std::size_t expected = 0;
  for (int i = 0; i < 6; ++i) expected += (P1[i] > 0.5 ? 1.0 : 0.0) == Y1[i];
  CHECK(accuracy(ConstMatrixView<double>(P1, 6, 1), ConstMatrixView<double>(Y1, 6, 1)) ==
        static_cast<double>(expected) / 6);
  CHECK(class_of_row(P1 + 1, 1) == 0 && class_of_row(P1 + 3, 1) == 1);
  const float half = 0.5f;
  CHECK(class_of_row(&half, 1) == 0);

  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const double P3[] = {0.1, 0.8, 0.1, 0.2, nan, 0.3};
  const double Y3[] = {0, 1, 0, 0, 0, 1};
  CHECK(class_of_row(P3, 3) == 1 && class_of_row(P3 + 3, 3) == kNoClass);
  const double big[] = {inf, 1};
  CHECK(class_of_row(big, 2) == kNoClass);
  CHECK(check::throws<std::invalid_argument>(
      [&] { accuracy(ConstMatrixView<double>(P3, 2, 3), ConstMatrixView<double>(Y3, 2, 3)); },
      "predictions row 1 holds an output that is not finite"));
  const double zero_row[] = {0, 1, 0, 0, 0, 0};
  CHECK(check::throws<std::invalid_argument>(
      [&] { accuracy(ConstMatrixView<double>(P3, 1, 3), ConstMatrixView<double>(zero_row + 3, 1, 3)); },
      "labels row 0 has no single largest value"));
  CHECK(check::throws<std::invalid_argument>(
      [&] { accuracy(ConstMatrixView<double>(P3, 2, 3), ConstMatrixView<double>(zero_row, 2, 2)); },
      "but the labels 2 x 2"));
  CHECK(check::throws<std::invalid_argument>(
      [&] { accuracy(ConstMatrixView<double>(P3, 0, 3), ConstMatrixView<double>(Y3, 0, 3)); },
      "no rows"));
  const double index_two = 2;
  CHECK(check::throws<std::invalid_argument>(
      [&] { accuracy(ConstMatrixView<double>(P1, 1, 1), ConstMatrixView<double>(&index_two, 1, 1)); },
      "labels row 0 holds 2.000000, not a binary label"));

  // validation accuracy in a fit: zero weights make every output exactly 0.5, class 0
  const double X[] = {0, 1, 1, 0};
  const double Y[] = {1, 1};
  Network<double> net({2, 2, 1}, Activation::Sigmoid, Activation::Sigmoid);
  std::fill(net.params(), net.params() + net.n_params(), 0.0);
  FitData<double> data;
  data.X = data.X_val = ConstMatrixView<double>(X, 2, 2);
  data.Y = data.Y_val = ConstMatrixView<double>(Y, 2, 1);
  FitOptions options;
  options.epochs = 1;
  options.learning_rate = 0;
  Optimizer<double> optimizer;
  const FitResult r = fit(net, data, options, optimizer, FitHooks());
  CHECK(r.val_score.size() == 1 && r.val_score[0] == 0.0);
}

int main() {
  test_rng();
  test_portable_log_and_normal();
  test_exp_edges<double>();
  test_exp_edges<float>();
  test_csv();
  test_network_forward();
  test_network_sizes();
  test_predict_kept_packing();
  test_fit_learns_and_resumes();
  test_schedules();
  test_divergence();
  test_validation_split();
  test_class_weights();
  test_classes_and_accuracy();
  return check::finish("test_core");
}
