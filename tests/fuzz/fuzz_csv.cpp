// libFuzzer target: the CSV reader on arbitrary text.
//
// The first byte picks the number of label columns, a block size for the
// stream and the rows asked for at a time; the rest is the file. read_csv
// (whole file, 64 KiB blocks) and a CsvReader reading a few bytes and rows at
// a time must agree: the same values bit for bit, or the same message (one
// line of UTF-8). Every value read is finite and survives format_number ->
// parse_number. Any other outcome (another exception, a sanitizer report)
// aborts. Built by tests/fuzz/run.sh; replayed over the corpus by replay.cpp
// in every CTest run.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <fastmlp/io_csv.hpp>

#include "fuzz_common.hpp"

using namespace fastmlp;
using fuzz::broken;

namespace {

// A file's rows as a streaming reader sees them.
struct Streamed {
  std::vector<std::string> header;
  std::size_t columns = 0, rows = 0;
  std::vector<double> values;  // rows x columns
  std::string error;           // the message, when reading failed
};

Streamed stream_rows(const std::string& text, std::size_t block_bytes, std::size_t max_rows) {
  Streamed s;
  std::istringstream in(text);
  try {
    CsvReader reader(in, "fuzz.csv", block_bytes);
    s.header = reader.header();
    s.columns = reader.columns();
    if (s.columns == 0) return s;
    std::vector<double> block(max_rows * s.columns);
    while (const std::size_t n = reader.read(block.data(), max_rows)) {
      if (n > max_rows) broken("read() returned more rows than asked for");
      s.values.insert(s.values.end(), block.begin(), block.begin() + n * s.columns);
      s.rows += n;
    }
  } catch (const std::invalid_argument& e) {
    s.error = e.what();
    fuzz::check_message(s.error);
  }
  return s;
}

bool same_bits(const double* a, const double* b, std::size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(double)) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t labels = data[0] & 3;
  const std::size_t block_bytes = 1 + ((data[0] >> 2) & 7);  // 1..8 bytes a read
  const std::size_t max_rows = 1 + (data[0] >> 5);          // 1..8 rows a call
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);

  const Streamed s = stream_rows(text, block_bytes, max_rows);
  for (std::size_t i = 0; i < s.values.size(); ++i) {
    const double v = s.values[i];
    if (!std::isfinite(v)) broken("a non-finite value was read");
    char digits[kMaxNumberChars];
    double back;
    const std::size_t n = format_number(v, digits);
    if (n == 0 || !parse_number({digits, n}, back) || std::memcmp(&back, &v, sizeof v) != 0)
      broken("format_number does not read back");
  }

  std::istringstream in(text);
  try {
    const CsvData whole = read_csv(in, "fuzz.csv", labels);
    if (!s.error.empty()) broken("read_csv accepted what the streaming reader refused");
    if (s.rows == 0 || s.columns <= labels) broken("read_csv accepted a file without data or features");
    const std::size_t features = s.columns - labels;
    if (whole.header != s.header || whole.X.rows() != s.rows || whole.X.cols() != features ||
        whole.Y.rows() != s.rows || whole.Y.cols() != labels)
      broken("read_csv and the streaming reader differ in shape or header");
    for (std::size_t i = 0; i < s.rows; ++i) {
      const double* row = s.values.data() + i * s.columns;
      if (!same_bits(whole.X.data() + i * features, row, features) ||
          !same_bits(whole.Y.data() + i * labels, row + features, labels))
        broken("read_csv and the streaming reader differ in a value");
    }
  } catch (const std::invalid_argument& e) {
    const std::string message = e.what();
    if (!s.error.empty() ? message != s.error
                         : s.rows != 0 && s.columns > labels)
      broken("read_csv and the streaming reader differ in an error");
  }
  return 0;
}
