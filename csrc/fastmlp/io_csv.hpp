// Reading numeric CSV files: features first, then the label columns.
//
// The rules, so that a file means what pandas.read_csv and Python's csv module
// make of it, or is refused with a message; never another reading in silence:
// - Text is UTF-8. A UTF-8 byte order mark at the start is skipped; a UTF-16
//   one is refused, and so is a header name that is not UTF-8.
// - Lines end with \n, \r\n or \r, and are counted from 1 as an editor counts
//   them. Blank lines (nothing but spaces and tabs) are skipped.
// - Fields are separated by commas. A field whose first byte is '"' is quoted:
//   it runs to the next lone '"' ("" stands for one), cannot hold a line
//   break, and only a comma or the end of the line may follow it. Any other
//   field runs to the next comma, quotes and all. A field's text is kept as
//   written, spaces included (header and class names are pandas' and the csv
//   module's: "setosa " is not "setosa").
// - A number, quoted or not, is what std::from_chars reads (digits with an
//   optional point and exponent, an optional sign, + included) in any locale,
//   once the spaces and tabs around it are dropped (as pandas reads " 1.5").
//   NaN, infinities and numbers beyond a double's range either way (1e400,
//   1e-400) are refused, never read as something else.
// - Whether the first row is the header is the caller's to say (HeaderRow):
//   always, as pandas.read_csv has it; never; or found from the row itself:
//   a header when none of its fields is a number, data when all are, and an
//   error when it mixes the two, whatever was meant (a typo like O.5, an empty
//   field, a header of names like 1,2,3,label). Found so, a header of numbers
//   only cannot be told from data, and is data. Text columns (keep_text) do
//   not count: a first row whose other fields are all numbers is data.
// - A data row has as many fields as the first row, each a finite number, or
//   any non-empty text in a text column (a class name); an empty field is an
//   error.
// - A line holds at most kMaxLineBytes and kMaxColumns fields, checked before
//   anything per field is allocated: memory stays a small multiple of the
//   longest line.
// Errors name the file, the line and the column (with its header name when
// there is a header). CsvReader streams rows in blocks into the caller's
// buffer (no allocation per row); read_csv reads a whole file. Not a general
// CSV parser: no other separators, no line breaks inside quotes.
#pragma once

#include <cstddef>
#include <fstream>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include <fastmlp/matrix.hpp>

namespace fastmlp {

// Whether a file's first row is its header.
enum class HeaderRow {
  Detect,  // a header when none of its fields is a number (see above)
  Yes,     // always, whatever it holds (pandas.read_csv's header=0)
  No,      // never: the first row is data (header=None)
};

// --- streaming ---------------------------------------------------------------------

class CsvReader {
 public:
  // The longest line accepted: a guard against a file without line breaks.
  static constexpr std::size_t kMaxLineBytes = std::size_t(64) << 20;
  // The most fields a line may have (a million inputs is far past what a dense
  // network on a CPU is for).
  static constexpr std::size_t kMaxColumns = std::size_t(1) << 20;
  // The bytes read from `in` at a time.
  static constexpr std::size_t kBlockBytes = std::size_t(64) << 10;

  // Reads up to the first data row (to find the header and the column count);
  // `name` stands for the file in messages. `in` must outlive the reader.
  // `block_bytes` (>= 1) changes nothing but how `in` is read: tests and the
  // fuzzer make it small so that lines and fields straddle blocks.
  CsvReader(std::istream& in, std::string name, std::size_t block_bytes = kBlockBytes,
            HeaderRow header_row = HeaderRow::Detect);

  const std::vector<std::string>& header() const noexcept { return header_; }  // empty if none
  // The fields of the first row (the header's, when there is one); 0 for a file
  // without rows.
  std::size_t columns() const noexcept { return columns_; }

  // Reads `text` columns as text instead of numbers, and skips the `ignored`
  // columns' fields whatever they hold; before the first read. A first row that
  // mixed numbers and text is data when its text lies in these columns only.
  void keep_text(const std::vector<std::size_t>& text, const std::vector<std::size_t>& ignored = {});

  // Reads up to `max_rows` rows into `out` (max_rows x columns(), row-major);
  // returns the rows read, 0 at the end. Text and ignored columns' values are
  // NaN in `out`; text columns' fields are appended to `*text`, row by row
  // (needed when there are text columns). std::invalid_argument names the file, line and column of a
  // bad field; std::runtime_error a read error.
  std::size_t read(double* out, std::size_t max_rows, std::vector<std::string>* text = nullptr);

 private:
  bool next_line();         // the next line into line_; false at the end
  void read_first_row();    // the header, or the first data row into first_row_
  std::size_t count_fields() const;  // line_'s fields, counted, none stored; past kMaxColumns throws
  template <class F>
  void for_each_field(F&& f) const;  // f(column, field) for each of line_'s fields
  // line_'s fields (columns_ of them) into out, text columns' into *text
  void parse_row(double* out, std::vector<std::string>* text) const;
  void take_header();            // line_'s fields, UTF-8 checked, as the header
  void mixed_first_row() const;  // throws: the first row mixes numbers and text
  // "NAME, line N, column C ('header name')", for a message about a field.
  std::string where(std::size_t column) const;
  // Throws std::invalid_argument: the field in `column` (its `text`) is no number.
  [[noreturn]] void not_a_number(std::size_t column, std::string_view text, const char* hint = "") const;

  std::istream& in_;
  std::string name_;
  std::vector<char> buf_;  // read in blocks; lines are cut from here
  std::size_t pos_ = 0, end_ = 0;
  bool after_cr_ = false;  // the last line ended with \r: a \n next ends it too
  std::string line_;
  std::vector<std::string> header_;
  std::vector<double> first_row_;  // the first data row, read by the constructor
  std::vector<std::string> first_text_;  // its text columns' fields
  bool first_pending_ = false;
  bool first_mixed_ = false;        // the first row mixes numbers and text (keep_text may explain it)
  enum class Kind : unsigned char { Number, Text, Ignored };
  std::vector<Kind> kind_;          // per column (empty: all numbers)
  HeaderRow header_row_;
  std::size_t columns_ = 0, line_no_ = 0;
};

// Opens `path` into `in` for a CsvReader: FileError if it cannot be opened or
// is a directory (which a stream would open, then fail to read). "-" is the
// standard input, as for most command-line tools: `in` then reads through
// std::cin's buffer (a file named "-" is still ./-).
void open_csv(std::ifstream& in, const std::string& path);

// --- whole files --------------------------------------------------------------------

struct CsvData {
  std::vector<std::string> header;  // empty when the file has none
  Matrix<double> X;                 // (rows, columns - labels)
  Matrix<double> Y;                 // (rows, labels)
};

// Read `path`, its last `n_labels` columns into Y and the others into X.
// Throws FileError (unreadable file) or std::invalid_argument (bad contents),
// the message naming the file, line and column.
CsvData read_csv(const std::string& path, std::size_t n_labels);

// The same from a stream; `name` stands for the file in messages.
CsvData read_csv(std::istream& in, const std::string& name, std::size_t n_labels);

// The number that all of `text` spells, as std::from_chars reads it (an
// optional sign, digits, point, exponent; inf and nan too, which callers
// refuse), into `value`; false when it is not one number or out of range.
// The same on every platform and in every locale.
bool parse_number(std::string_view text, double& value);

// parse_number, except that a number past a double's range is a number all the
// same, as Python's float() reads it: 1e999 is inf, 1e-400 is 0 (strtod's
// rounding). The command line reads every real-valued option so.
bool parse_number_as_python(const std::string& text, double& value);

// A CSV field's number, as the reader reads one: parse_number of `text`
// without the spaces and tabs around it.
bool parse_field_number(std::string_view text, double& value);

// The most characters format_number writes.
constexpr std::size_t kMaxNumberChars = 32;

// Writes into `out` (kMaxNumberChars long) the shortest text that
// parse_number reads back to exactly `value` (for a float: once rounded to
// float), and returns its length. The same on every platform and in every
// locale. T is float or double.
template <class T>
std::size_t format_number(T value, char* out);

}  // namespace fastmlp
