// Model files: the JSON header written and read here by hand (no JSON library),
// the checks that make any bytes safe to load, and the save (an atomic write,
// io_file.hpp).
//
// Reading goes header first: the length, the JSON, the metadata, every tensor's
// dtype, shape and offsets, all checked against each other and against the
// bytes actually present. Only then is the network allocated (its size is now
// that of the data present) and filled.
#include <fastmlp/io_safetensors.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include <fastmlp/io_csv.hpp>
#include <fastmlp/io_file.hpp>
#include <fastmlp/names.hpp>

namespace fastmlp {

namespace {

[[noreturn]] void fail(const std::string& what) { throw ModelFileError(what); }

// --- bytes ----------------------------------------------------------------------------

bool host_is_little_endian() {
  const std::uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// Converts n values of `size` bytes at `data` between little-endian and the
// host's order, in place (nothing to do on little-endian hosts).
void little_endian_in_place(void* data, std::size_t n, std::size_t size) {
  if (host_is_little_endian()) return;
  auto* bytes = static_cast<unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) std::reverse(bytes + i * size, bytes + (i + 1) * size);
}

std::uint64_t read_u64_le(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int k = 7; k >= 0; --k) v = (v << 8) | p[k];
  return v;
}

void append_u64_le(std::string& out, std::uint64_t v) {
  for (int k = 0; k < 8; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
}

// --- text -----------------------------------------------------------------------------

// Whether `s` is well-formed UTF-8 throughout (see utf8_sequence).
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s.substr(i));
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// s as a JSON string literal.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
      out += escape;
    } else {
      out += ch;
    }
  }
  out += '"';
}

// A positive integer in [1, max]: decimal digits only, nothing else.
bool parse_count(std::string_view text, std::uint64_t max, std::uint64_t& value) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && value >= 1 && value <= max;
}

// --- JSON: reading ---------------------------------------------------------------------

// A JSON value of the kinds a header uses: objects, arrays, strings, and
// non-negative integers. Anything else in a header is refused.
struct Json {
  enum class Kind { Object, Array, String, Integer };
  Kind kind = Kind::Integer;
  std::uint64_t integer = 0;
  std::string string;
  std::vector<std::string> keys;  // an object's keys, in file order, beside their values
  std::vector<Json> items;        // an array's elements, or an object's values
};

const char* kind_name(Json::Kind kind) {
  switch (kind) {
    case Json::Kind::Object: return "an object";
    case Json::Kind::Array: return "an array";
    case Json::Kind::String: return "a string";
    case Json::Kind::Integer: return "an integer";
  }
  return "?";
}

// A strict reader: one value, then only whitespace; no duplicate keys; integers
// that fit 64 bits; nesting and the number of values bounded, so that no header
// of at most kMaxHeaderBytes makes it recurse deeply or allocate much more than
// the header's own size.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  Json document() {
    skip_space();
    Json root = value(0);
    skip_space();
    if (pos_ != text_.size()) error("unexpected text after the JSON value");
    return root;
  }

 private:
  static constexpr int kMaxDepth = 8;                // a header needs 3
  static constexpr std::size_t kMaxValues = 1 << 18;  // ~8 per tensor, 2 tensors per layer

  [[noreturn]] void error(const std::string& what) const {
    fail("header is not valid JSON: " + what + " at byte " + std::to_string(pos_));
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }
  void expect(char c) {
    if (peek() != c || at_end()) error(std::string("expected '") + c + "'");
    ++pos_;
  }

  Json value(int depth) {
    if (depth > kMaxDepth) error("values nested too deeply");
    if (++values_ > kMaxValues) error("too many values");
    if (at_end()) error("unexpected end");
    const char c = peek();
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') {
      Json j;
      j.kind = Json::Kind::String;
      j.string = string();
      return j;
    }
    if (c >= '0' && c <= '9') return integer();
    error("unsupported value (a header holds objects, arrays, strings and non-negative integers)");
  }

  // The comma-separated items up to `close`, each read by `item`.
  template <class F>
  void items(char close, F&& item) {
    skip_space();
    if (peek() == close && !at_end()) {
      ++pos_;
      return;
    }
    for (;;) {
      skip_space();
      item();
      skip_space();
      if (peek() == ',' && !at_end()) {
        ++pos_;
        continue;
      }
      expect(close);
      return;
    }
  }

  Json object(int depth) {
    Json j;
    j.kind = Json::Kind::Object;
    expect('{');
    items('}', [&] {
      if (peek() != '"' || at_end()) error("expected a string key");
      j.keys.push_back(string());
      skip_space();
      expect(':');
      skip_space();
      j.items.push_back(value(depth + 1));
    });
    std::vector<std::string_view> sorted(j.keys.begin(), j.keys.end());
    std::sort(sorted.begin(), sorted.end());
    const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    if (dup != sorted.end()) error("duplicate key " + in_quotes(*dup));
    return j;
  }

  Json array(int depth) {
    Json j;
    j.kind = Json::Kind::Array;
    expect('[');
    items(']', [&] { j.items.push_back(value(depth + 1)); });
    return j;
  }

  Json integer() {
    Json j;
    j.kind = Json::Kind::Integer;
    const std::size_t start = pos_;
    std::uint64_t v = 0;
    while (!at_end() && peek() >= '0' && peek() <= '9') {
      const auto digit = static_cast<std::uint64_t>(peek() - '0');
      if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
        error("integer does not fit 64 bits");
      v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ - start > 1 && text_[start] == '0') error("integer with a leading zero");
    if (peek() == '.' || peek() == 'e' || peek() == 'E') error("unsupported non-integer number");
    j.integer = v;
    return j;
  }

  std::uint32_t hex4() {
    if (text_.size() - pos_ < 4) error("truncated \\u escape");
    std::uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else error("bad \\u escape");
    }
    return v;
  }

  std::string string() {
    std::string out;
    ++pos_;  // the opening quote
    for (;;) {
      if (at_end()) error("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') break;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_end()) error("unterminated string");
      switch (const char e = text_[pos_++]) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = hex4();
          if (cp >= 0xdc00 && cp <= 0xdfff) error("unpaired surrogate in a \\u escape");
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (text_.substr(pos_, 2) != "\\u") error("unpaired surrogate in a \\u escape");
            pos_ += 2;
            const std::uint32_t low = hex4();
            if (low < 0xdc00 || low > 0xdfff) error("unpaired surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          append_utf8(out, cp);
          break;
        }
        default: error("bad escape " + in_quotes(std::string("\\") + e));
      }
    }
    // Escapes always produce whole sequences, so checking the result checks the raw bytes.
    if (!valid_utf8(out)) error("string is not valid UTF-8");
    return out;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t values_ = 0;
};

// --- the network's description ------------------------------------------------------

// What a file records about a network besides its parameters.
struct Description {
  std::vector<std::size_t> sizes;
  std::vector<Activation> activations;  // one per dense layer
  double leaky_slope = Activation::kDefaultSlope;
  Loss loss = Loss::Mse;
  Reduction reduction = Reduction::Sum;
  std::vector<double> dropout;  // one per hidden layer; empty: none (not stored)
};

// The network <-> description mapping: the one place that knows Network's
// constructor.
template <class T>
Description describe(const Network<T>& net) {
  Description d;
  d.sizes = net.sizes();
  for (std::size_t l = 0; l < net.n_layers(); ++l) d.activations.push_back(net.activation(l));
  d.leaky_slope = net.leaky_slope();
  d.loss = net.loss();
  d.reduction = net.reduction();
  if (net.has_dropout())
    for (std::size_t l = 0; l + 1 < net.n_layers(); ++l) d.dropout.push_back(net.dropout(l));
  return d;
}

template <class T>
Network<T> build(const Description& d) {
  Network<T> net(d.sizes, d.activations, d.loss, d.reduction, d.leaky_slope);
  if (!d.dropout.empty()) net.set_dropout(d.dropout);
  return net;
}

constexpr const char* kReservedKeys[] = {"format", "format_version", "sizes", "activations",
                                         "leaky_slope", "loss", "reduction", "init", "seed",
                                         "epochs", "feature_names", "task", "dropout"};
// The format's only where the file records a task: older files (and other
// writers) may hold entries of these names, which stay theirs.
constexpr const char* kTaskKeys[] = {"classes", "classes_type", "target_names"};

bool is_reserved(const std::string& key) {
  for (const char* k : kReservedKeys)
    if (key == k) return true;
  return false;
}

bool is_task_key(const std::string& key) {
  for (const char* k : kTaskKeys)
    if (key == k) return true;
  return false;
}

template <class List, class Format>
std::string joined(const List& list, Format format) {
  std::string out;
  for (const auto& item : list) {
    if (!out.empty()) out += ',';
    out += format(item);
  }
  return out;
}

// The format's own metadata entries for `d`.
Metadata format_metadata(const Description& d) {
  char slope[kMaxNumberChars];
  const std::size_t slope_length = format_number(d.leaky_slope, slope);
  Metadata meta{
      {"format", kFormatName},
      {"format_version", kFormatVersion},
      {"sizes", joined(d.sizes, [](std::size_t s) { return std::to_string(s); })},
      {"activations", joined(d.activations, [](Activation a) { return std::string(activation_name(a)); })},
      {"leaky_slope", std::string(slope, slope_length)},
      {"loss", loss_name(d.loss)},
      {"reduction", reduction_name(d.reduction)},
  };
  // Written only for a network that drops, so other files stay as they were.
  if (!d.dropout.empty())
    meta["dropout"] = joined(d.dropout, [](double p) {
      char text[kMaxNumberChars];
      return std::string(text, format_number(p, text));
    });
  return meta;
}

const std::string& required(const Metadata& meta, const char* key) {
  const auto it = meta.find(key);
  if (it == meta.end()) fail(std::string("metadata has no '") + key + "'");
  return it->second;
}

// `value` of metadata `key` when it is short enough to be a name (the name
// tables echo what they refuse).
std::string_view short_value(std::string_view value, const char* key) {
  if (value.size() > 64) fail(std::string("metadata '") + key + "' has no such value: " + in_quotes(value));
  return value;
}

std::vector<std::string_view> split_commas(std::string_view text) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma - start));
    if (comma == std::string_view::npos) return parts;
    start = comma + 1;
  }
}

// The description in `meta`, every entry checked.
Description parse_description(const Metadata& meta) {
  const std::string& format = required(meta, "format");
  if (format != kFormatName)
    fail("metadata 'format' is " + in_quotes(format) + ", not '" + kFormatName +
         "' (not a fastmlp model)");
  const std::string& version = required(meta, "format_version");
  if (version != kFormatVersion)
    fail("format_version " + in_quotes(version) + " is not supported: this version of fastmlp reads "
         "version " + kFormatVersion + " (a newer fastmlp may read it)");

  Description d;
  const std::string& sizes = required(meta, "sizes");
  // Splitting first would allocate per comma; bound the count before that.
  if (static_cast<std::size_t>(std::count(sizes.begin(), sizes.end(), ',')) > kMaxLayers)
    fail("metadata 'sizes' lists more than " + std::to_string(kMaxLayers) + " layers");
  for (std::string_view part : split_commas(sizes)) {
    std::uint64_t units;
    if (!parse_count(part, std::uint64_t(1) << 32, units))
      fail("metadata 'sizes' must be comma-separated layer widths in [1, 2^32]; got " +
           in_quotes(sizes));
    d.sizes.push_back(static_cast<std::size_t>(units));
  }
  if (d.sizes.size() < 2)
    fail("metadata 'sizes' must list at least an input and an output layer; got " +
         in_quotes(sizes));
  const std::size_t n_layers = d.sizes.size() - 1;

  const std::string& activations = required(meta, "activations");
  if (static_cast<std::size_t>(std::count(activations.begin(), activations.end(), ',')) + 1 != n_layers)
    fail("metadata 'activations' must name " + std::to_string(n_layers) +
         " activation(s), one per layer; got " + in_quotes(activations));
  for (std::string_view name : split_commas(activations))
    d.activations.push_back(activation_from_name(std::string(short_value(name, "activations")),
                                                 "metadata 'activations'",
                                                 d.activations.size() + 1 == n_layers));

  const std::string& slope = required(meta, "leaky_slope");
  if (!parse_number(slope, d.leaky_slope) || !std::isfinite(d.leaky_slope) || d.leaky_slope < 0)
    fail("metadata 'leaky_slope' must be a finite number >= 0; got " + in_quotes(slope));

  d.loss = loss_from_name(std::string(short_value(required(meta, "loss"), "loss")));
  d.reduction =
      reduction_from_name(std::string(short_value(required(meta, "reduction"), "reduction")));
  check_loss_output(d.loss, d.activations.back());

  // "dropout": one training rate per hidden layer (for the record: prediction
  // ignores it); absent from files of networks without.
  if (const auto it = meta.find("dropout"); it != meta.end()) {
    const std::string& rates = it->second;
    if (static_cast<std::size_t>(std::count(rates.begin(), rates.end(), ',')) + 2 != n_layers)
      fail("metadata 'dropout' must give " + std::to_string(n_layers - 1) +
           " rate(s), one per hidden layer; got " + in_quotes(rates));
    for (std::string_view part : split_commas(rates)) {
      double p = 0;
      if (!parse_number(part, p) || !(p >= 0 && p < 1))
        fail("metadata 'dropout' must hold rates in [0, 1); got " + in_quotes(rates));
      d.dropout.push_back(p);
    }
  }
  return d;
}

// --- names: feature, class and target names ---------------------------------------

// At most this many names in one list: the JSON reader's own bound on values.
constexpr std::size_t kMaxNames = (std::size_t(1) << 18) - 1;

constexpr const char* kClassesTypes[] = {"str", "int", "float", "bool"};

std::string json_string_array(const std::vector<std::string>& names) {
  std::string out = "[";
  for (const std::string& name : names) {
    if (out.size() > 1) out += ',';
    append_json_string(out, name);
  }
  return out + "]";
}

// What is wrong with `names`, the list of metadata `key` (empty when nothing):
// `expected` entries (a second accepted count when `or_count` is non-zero),
// unique, valid UTF-8.
std::string names_problem(const std::vector<std::string>& names, const char* key,
                          std::size_t expected, std::size_t or_count = 0) {
  const std::string what = std::string("metadata '") + key + "'";
  if (names.size() != expected && names.size() != or_count)
    return what + " lists " + std::to_string(names.size()) + " name(s); the network needs " +
           std::to_string(expected) + (or_count ? " (or " + std::to_string(or_count) + ")" : "");
  for (const std::string& name : names)
    if (!valid_utf8(name)) return what + " holds a name that is not valid UTF-8";
  std::vector<std::string_view> sorted(names.begin(), names.end());
  std::sort(sorted.begin(), sorted.end());
  const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
  if (dup != sorted.end()) return what + " names " + in_quotes(*dup) + " twice";
  return {};
}

// Whether `text` is an integer as Python's str(int) writes one (an optional
// '-', digits), within int64, into `value`.
bool parse_int64(std::string_view text, std::int64_t& value) {
  const std::string_view digits = text.substr(!text.empty() && text.front() == '-' ? 1 : 0);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

// What is wrong with the class names `names` as values of `type` (empty when
// nothing): each must spell one ("True" or "False" for bool; an integer within
// int64 for int; a finite number for float, as parse_number reads it), and no
// two the same value ("1" and "01" are one int, "0.0" and "-0" one float), so
// that Python restores classes_ as it was and the command line matches labels
// to one class each.
std::string class_values_problem(const std::vector<std::string>& names, const std::string& type) {
  if (type.empty() || type == "str") return {};
  std::vector<std::pair<double, std::int64_t>> values;  // a float's value; an int's or a bool's
  for (const std::string& name : names) {
    double real = 0;
    std::int64_t integer = 0;
    if (type == "bool") integer = name == "True";
    const bool ok = type == "bool"  ? name == "True" || name == "False"
                    : type == "int" ? parse_int64(name, integer)
                                    : parse_number(name, real) && std::isfinite(real);
    if (!ok)
      return "metadata 'classes' holds " + in_quotes(name) + ", which is not " +
             (type == "bool"  ? std::string("'True' or 'False'")
              : type == "int" ? std::string("an integer within int64")
                              : std::string("a finite number")) +
             " (its classes_type is '" + type + "')";
    values.emplace_back(real, integer);
  }
  std::vector<std::size_t> order(values.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  for (std::size_t i = 1; i < order.size(); ++i)
    if (values[order[i - 1]] == values[order[i]]) {
      const std::size_t a = std::min(order[i - 1], order[i]), b = std::max(order[i - 1], order[i]);
      return "metadata 'classes' holds " + in_quotes(names[a]) + " and " + in_quotes(names[b]) + ", one " + type +
             " value twice";
    }
  return {};
}

// What is wrong with `info` for the network `d` describes (empty when nothing);
// the same checks guard writing and reading.
std::string info_problem(const ModelInfo& info, const Description& d) {
  const std::size_t inputs = d.sizes.front(), outputs = d.sizes.back();
  std::string problem;
  if (info.task) {
    problem = task_problem(*info.task, d.loss, d.activations.back());
    if (!problem.empty()) return "metadata 'task' is '" + std::string(task_name(*info.task)) + "', but " + problem;
  }
  if (!info.feature_names.empty() &&
      !(problem = names_problem(info.feature_names, "feature_names", inputs)).empty())
    return problem;
  if (!info.class_names.empty()) {
    if (info.task != Task::Classification)
      return "metadata 'classes' needs task 'classification'";
    problem = names_problem(info.class_names, "classes", outputs, outputs == 1 ? 2 : 0);
    if (!problem.empty()) return problem;
  }
  if (!info.classes_type.empty()) {
    if (info.class_names.empty()) return "metadata 'classes_type' needs 'classes'";
    if (std::find(std::begin(kClassesTypes), std::end(kClassesTypes), info.classes_type) ==
        std::end(kClassesTypes))
      return "metadata 'classes_type' must be one of 'str', 'int', 'float', 'bool'; got " +
             in_quotes(info.classes_type);
    if (!(problem = class_values_problem(info.class_names, info.classes_type)).empty()) return problem;
  }
  if (!info.target_names.empty()) {
    if (info.task != Task::Regression) return "metadata 'target_names' needs task 'regression'";
    problem = names_problem(info.target_names, "target_names", outputs);
    if (!problem.empty()) return problem;
  }
  return {};
}

// The list in metadata `key`: a JSON array of strings.
std::vector<std::string> parse_names(const std::string& text, const char* key) {
  Json list;
  try {
    list = JsonReader(text).document();
  } catch (const ModelFileError& e) {
    std::string what = e.what();
    const std::string_view prefix = "header is not valid JSON: ";  // the reader's, about the header
    if (what.compare(0, prefix.size(), prefix) == 0) what.erase(0, prefix.size());
    fail(std::string("metadata '") + key + "' must be a JSON array of strings; " + what);
  }
  if (list.kind != Json::Kind::Array)
    fail(std::string("metadata '") + key + "' must be a JSON array of strings; got " + kind_name(list.kind));
  std::vector<std::string> names;
  names.reserve(list.items.size());
  for (Json& item : list.items) {
    if (item.kind != Json::Kind::String)
      fail(std::string("metadata '") + key + "' must be a JSON array of strings; it holds " +
           kind_name(item.kind));
    names.push_back(std::move(item.string));
  }
  return names;
}

// The info entries of `meta` (ModelInfo), each checked when present, for the
// network `d` describes.
ModelInfo parse_info(const Metadata& meta, const Description& d) {
  ModelInfo info;
  if (const auto it = meta.find("init"); it != meta.end()) {
    const std::string name(short_value(it->second, "init"));
    try {
      info.init = init_from_name(name);
    } catch (const std::invalid_argument& e) {
      fail("metadata 'init'" + std::string(e.what()).substr(4));  // e: "init must be one of ..."
    }
  }
  if (const auto it = meta.find("seed"); it != meta.end()) {
    std::uint64_t seed = 0;
    if (it->second != "0" && !parse_count(it->second, ~std::uint64_t(0), seed))
      fail("metadata 'seed' must be an integer in [0, 2^64); got " + in_quotes(it->second));
    info.seed = seed;
  }
  if (const auto it = meta.find("epochs"); it != meta.end()) {
    std::uint64_t epochs = 0;
    if (it->second != "0" && !parse_count(it->second, ~std::uint64_t(0), epochs))
      fail("metadata 'epochs' must be an integer in [0, 2^64); got " + in_quotes(it->second));
    info.epochs = epochs;
  }
  if (const auto it = meta.find("feature_names"); it != meta.end())
    info.feature_names = parse_names(it->second, "feature_names");
  if (const auto it = meta.find("task"); it != meta.end()) {
    try {
      info.task = task_from_name(std::string(short_value(it->second, "task")));
    } catch (const std::invalid_argument& e) {
      fail("metadata 'task'" + std::string(e.what()).substr(4));  // e: "task must be one of ..."
    }
    if (const auto c = meta.find("classes"); c != meta.end())
      info.class_names = parse_names(c->second, "classes");
    if (const auto c = meta.find("classes_type"); c != meta.end()) {
      info.classes_type = c->second;
      if (info.classes_type.empty()) fail("metadata 'classes_type' is empty");
    }
    if (const auto t = meta.find("target_names"); t != meta.end())
      info.target_names = parse_names(t->second, "target_names");
  }
  if (const std::string problem = info_problem(info, d); !problem.empty()) fail(problem);
  return info;
}

// --- the header's tensors -----------------------------------------------------------

enum class Dtype { F64, F32 };

std::size_t dtype_size(Dtype t) { return t == Dtype::F64 ? 8 : 4; }

// Tensor slots: 2 l is layer l's weight, 2 l + 1 its bias, which is also the
// order of the network's flat parameters.
std::string slot_name(std::size_t slot) {
  return "layers." + std::to_string(slot / 2) + (slot % 2 ? ".bias" : ".weight");
}

// The slot that `name` fills, or false if it names no tensor of n_layers layers.
bool parse_slot(std::string_view name, std::size_t n_layers, std::size_t& slot) {
  constexpr std::string_view prefix = "layers.";
  if (name.substr(0, prefix.size()) != prefix) return false;
  name.remove_prefix(prefix.size());
  const std::size_t dot = name.find('.');
  const std::string_view index = name.substr(0, dot), kind = name.substr(std::min(dot, name.size()));
  if (index.empty() || index.size() > 9 || (index.size() > 1 && index[0] == '0')) return false;
  std::size_t layer = 0;
  for (const char c : index) {
    if (c < '0' || c > '9') return false;
    layer = layer * 10 + static_cast<std::size_t>(c - '0');
  }
  if (layer >= n_layers || (kind != ".weight" && kind != ".bias")) return false;
  slot = 2 * layer + (kind == ".bias" ? 1 : 0);
  return true;
}

// A header, checked: the network it describes, its dtype, and where each
// tensor lies in the data section.
struct Layout {
  Description description;
  Dtype dtype = Dtype::F64;
  std::vector<std::size_t> begin;  // per slot: its first byte in the data section
  std::vector<std::size_t> count;  // per slot: its number of values
  std::vector<std::size_t> order;  // slots by position in the data section
  ModelInfo info;
  Metadata extra;                  // metadata entries beside the format's own
};

const Json& member(const Json& object, const std::string& tensor, const char* key, Json::Kind kind) {
  for (std::size_t i = 0; i < object.keys.size(); ++i)
    if (object.keys[i] == key) {
      if (object.items[i].kind != kind)
        fail("tensor '" + tensor + "': '" + key + "' must be " + kind_name(kind));
      return object.items[i];
    }
  fail("tensor '" + tensor + "' has no '" + key + "'");
}

std::string shape_text(const std::vector<std::uint64_t>& shape) {
  return "[" + joined(shape, [](std::uint64_t s) { return std::to_string(s); }) + "]";
}

// The layout in `header`, followed by a data section of `data_size` bytes.
Layout read_header(std::string_view header, std::uint64_t data_size) {
  const Json root = JsonReader(header).document();
  if (root.kind != Json::Kind::Object) fail("header must be a JSON object");

  Layout layout;
  const Json* meta = nullptr;
  for (std::size_t i = 0; i < root.keys.size(); ++i)
    if (root.keys[i] == "__metadata__") meta = &root.items[i];
  if (meta == nullptr) fail("header has no __metadata__ (not a fastmlp model file)");
  if (meta->kind != Json::Kind::Object) fail("__metadata__ must be a JSON object");
  Metadata all;
  for (std::size_t i = 0; i < meta->keys.size(); ++i) {
    if (meta->items[i].kind != Json::Kind::String)
      fail("metadata " + in_quotes(meta->keys[i]) + " must be a string");
    all.emplace(meta->keys[i], meta->items[i].string);
  }
  layout.description = parse_description(all);
  layout.info = parse_info(all, layout.description);
  for (auto& [key, value] : all)
    if (!is_reserved(key) && !(layout.info.task && is_task_key(key)))
      layout.extra.emplace(key, std::move(value));

  // Every tensor, found by name: exactly the slots the sizes call for.
  const std::vector<std::size_t>& sizes = layout.description.sizes;
  const std::size_t n_slots = 2 * (sizes.size() - 1);
  std::vector<const Json*> tensors(n_slots, nullptr);
  for (std::size_t i = 0; i < root.keys.size(); ++i) {
    if (root.keys[i] == "__metadata__") continue;
    std::size_t slot;
    if (!parse_slot(root.keys[i], sizes.size() - 1, slot))
      fail("unexpected tensor " + in_quotes(root.keys[i]) + " (the metadata's sizes make " +
           std::to_string(n_slots) + " tensors, layers.{0.." + std::to_string(sizes.size() - 2) +
           "}.weight and .bias)");
    tensors[slot] = &root.items[i];
  }

  layout.begin.resize(n_slots);
  layout.count.resize(n_slots);
  for (std::size_t slot = 0; slot < n_slots; ++slot) {
    const std::string name = slot_name(slot);
    if (tensors[slot] == nullptr) fail("header has no tensor '" + name + "'");
    const Json& t = *tensors[slot];
    if (t.kind != Json::Kind::Object) fail("tensor '" + name + "' must be a JSON object");
    for (const std::string& key : t.keys)
      if (key != "dtype" && key != "shape" && key != "data_offsets")
        fail("tensor '" + name + "' has an unexpected entry " + in_quotes(key));

    const std::string& dtype = member(t, name, "dtype", Json::Kind::String).string;
    if (dtype != "F64" && dtype != "F32")
      fail("tensor '" + name + "' has dtype " + in_quotes(dtype) + "; fastmlp reads F64 and F32");
    const Dtype type = dtype == "F64" ? Dtype::F64 : Dtype::F32;
    if (slot == 0) layout.dtype = type;
    if (type != layout.dtype)
      fail("tensor '" + name + "' has dtype " + dtype + " but layers.0.weight has " +
           (layout.dtype == Dtype::F64 ? "F64" : "F32") + "; all tensors must share one");

    const std::size_t layer = slot / 2;
    const std::vector<std::uint64_t> expected =
        slot % 2 ? std::vector<std::uint64_t>{sizes[layer + 1]}
                 : std::vector<std::uint64_t>{sizes[layer], sizes[layer + 1]};
    const Json& shape = member(t, name, "shape", Json::Kind::Array);
    std::vector<std::uint64_t> found;
    for (const Json& dim : shape.items) {
      if (dim.kind != Json::Kind::Integer) fail("tensor '" + name + "': shape must hold integers");
      if (found.size() == 3) break;  // enough to show it is wrong
      found.push_back(dim.integer);
    }
    if (found != expected)
      fail("tensor '" + name + "' has shape " + shape_text(found) + (shape.items.size() > 3 ? "..." : "") +
           "; the metadata's sizes make it " + shape_text(expected));

    const Json& offsets = member(t, name, "data_offsets", Json::Kind::Array);
    if (offsets.items.size() != 2 || offsets.items[0].kind != Json::Kind::Integer ||
        offsets.items[1].kind != Json::Kind::Integer)
      fail("tensor '" + name + "': data_offsets must be two integers [begin, end]");
    const std::uint64_t begin = offsets.items[0].integer, end = offsets.items[1].integer;
    if (begin > end || end > data_size)
      fail("tensor '" + name + "': data_offsets [" + std::to_string(begin) + ", " +
           std::to_string(end) + ") lie outside the data section of " +
           std::to_string(data_size) + " bytes");
    // end <= data_size, so these fit size_t; the product is checked.
    const std::string what = "tensor '" + name + "'";
    layout.count[slot] = slot % 2 ? sizes[layer + 1]
                                  : checked_mul(sizes[layer], sizes[layer + 1], what.c_str());
    const std::size_t bytes = checked_mul(layout.count[slot], dtype_size(type), what.c_str());
    if (end - begin != bytes)
      fail("tensor '" + name + "': data_offsets span " + std::to_string(end - begin) +
           " bytes; its shape " + shape_text(expected) + " in " + dtype + " needs " +
           std::to_string(bytes));
    layout.begin[slot] = static_cast<std::size_t>(begin);
  }

  // The tensors must tile the data section: no gap, no overlap, nothing after.
  layout.order.resize(n_slots);
  for (std::size_t slot = 0; slot < n_slots; ++slot) layout.order[slot] = slot;
  std::sort(layout.order.begin(), layout.order.end(),
            [&](std::size_t a, std::size_t b) { return layout.begin[a] < layout.begin[b]; });
  std::uint64_t next = 0;
  for (std::size_t i = 0; i < n_slots; ++i) {
    const std::size_t slot = layout.order[i];
    if (layout.begin[slot] < next)
      fail("tensors '" + slot_name(layout.order[i - 1]) + "' and '" + slot_name(slot) + "' overlap");
    if (layout.begin[slot] > next)
      fail("the data section has unused bytes [" + std::to_string(next) + ", " +
           std::to_string(layout.begin[slot]) + ") before tensor '" + slot_name(slot) + "'");
    next = layout.begin[slot] + layout.count[slot] * dtype_size(layout.dtype);
  }
  if (next != data_size)
    fail("the data section has " + std::to_string(data_size) + " bytes but the tensors fill " +
         std::to_string(next));
  return layout;
}

// Runs f, turning the core's own complaints about values (bad names, sizes too
// large) into ModelFileError: in a file, every bad value is the file's fault.
template <class F>
auto as_file_error(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const ModelFileError&) {
    throw;
  } catch (const std::invalid_argument& e) {
    throw ModelFileError(e.what());
  } catch (const std::length_error& e) {
    throw ModelFileError(e.what());
  }
}

// The header length at the start of a file of `size` bytes, checked.
std::uint64_t header_length(const unsigned char* first8, std::uint64_t size) {
  const std::uint64_t n = read_u64_le(first8);
  if (n > kMaxHeaderBytes)
    fail("header length " + std::to_string(n) + " exceeds the limit of " +
         std::to_string(kMaxHeaderBytes) + " bytes");
  if (n > size - 8)
    fail("header length " + std::to_string(n) + " runs past the end of the data (" +
         std::to_string(size - 8) + " bytes follow the length)");
  if (n < 2) fail("header length " + std::to_string(n) + " is too short for a JSON object");
  return n;
}

template <class T>
T* slot_data(Network<T>& net, std::size_t slot) {
  return slot % 2 ? net.bias(slot / 2) : net.weight(slot / 2).data;
}

// --- writing --------------------------------------------------------------------------

// The 8-byte length and the padded JSON header of `net`'s file.
template <class T>
std::string header_bytes(const Network<T>& net, const ModelInfo& info, const Metadata& extra) {
  const Description d = describe(net);
  Metadata meta = format_metadata(d);
  if (info.init) meta.emplace("init", init_name(*info.init));
  if (info.seed) meta.emplace("seed", std::to_string(*info.seed));
  if (info.epochs) meta.emplace("epochs", std::to_string(*info.epochs));
  if (const std::string problem = info_problem(info, d); !problem.empty())
    throw std::invalid_argument(problem);
  for (const auto* names : {&info.feature_names, &info.class_names, &info.target_names})
    if (names->size() > kMaxNames)
      throw std::invalid_argument("more than " + std::to_string(kMaxNames) + " names in one list");
  if (!info.feature_names.empty()) meta.emplace("feature_names", json_string_array(info.feature_names));
  if (info.task) meta.emplace("task", task_name(*info.task));
  if (!info.class_names.empty()) meta.emplace("classes", json_string_array(info.class_names));
  if (!info.classes_type.empty()) meta.emplace("classes_type", info.classes_type);
  if (!info.target_names.empty()) meta.emplace("target_names", json_string_array(info.target_names));
  for (const auto& [key, value] : extra) {
    if (is_reserved(key) || (info.task && is_task_key(key)))
      throw std::invalid_argument("metadata key " + in_quotes(key) + " is reserved by the file format");
    if (!valid_utf8(key) || !valid_utf8(value))
      throw std::invalid_argument("metadata " + in_quotes(key) + " is not valid UTF-8");
    meta.emplace(key, value);
  }
  std::string json = "{\"__metadata__\":{";
  for (const auto& [key, value] : meta) {
    if (json.back() != '{') json += ',';
    append_json_string(json, key);
    json += ':';
    append_json_string(json, value);
  }
  json += '}';
  const char* dtype = sizeof(T) == 8 ? "F64" : "F32";
  std::size_t offset = 0;
  for (std::size_t slot = 0; slot < 2 * net.n_layers(); ++slot) {
    const std::size_t l = slot / 2, in = net.sizes()[l], out = net.sizes()[l + 1];
    const std::size_t bytes = (slot % 2 ? out : in * out) * sizeof(T);
    json += ",\"" + slot_name(slot) + "\":{\"dtype\":\"" + dtype + "\",\"shape\":[" +
            (slot % 2 ? std::to_string(out) : std::to_string(in) + "," + std::to_string(out)) +
            "],\"data_offsets\":[" + std::to_string(offset) + "," +
            std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  json += '}';
  // Padded with spaces, as the safetensors package does, so the data starts
  // 8-byte aligned.
  json.append((8 - json.size() % 8) % 8, ' ');
  if (json.size() > kMaxHeaderBytes)
    throw std::invalid_argument("the header would exceed " + std::to_string(kMaxHeaderBytes) +
                                " bytes (too much metadata)");
  std::string out;
  out.reserve(8 + json.size());
  append_u64_le(out, json.size());
  out += json;
  return out;
}

// --- files ----------------------------------------------------------------------------

// Reads exactly `bytes` into `data`, or throws ModelFileError (the file ended).
void read_exactly(std::FILE* f, const std::string& path, void* data, std::size_t bytes,
                  const char* what) {
  errno = 0;
  const std::size_t got = bytes == 0 ? 0 : std::fread(data, 1, bytes, f);
  if (got == bytes) return;
  if (std::ferror(f)) throw FileError(path, "cannot read", errno ? errno : EIO);
  fail(std::string("the file ends inside ") + what);
}

template <class T>
Model read_tensors(std::FILE* f, const std::string& path, Layout& layout) {
  Network<T> net = as_file_error([&] { return build<T>(layout.description); });
  for (const std::size_t slot : layout.order) {  // in file order: the tensors tile the data
    T* data = slot_data(net, slot);
    read_exactly(f, path, data, layout.count[slot] * sizeof(T), "a tensor");
    little_endian_in_place(data, layout.count[slot], sizeof(T));
  }
  return Model{std::move(net), layout.info, std::move(layout.extra)};
}

template <class T>
Model copy_tensors(const unsigned char* data, Layout& layout) {
  Network<T> net = as_file_error([&] { return build<T>(layout.description); });
  for (std::size_t slot = 0; slot < layout.begin.size(); ++slot) {
    T* dst = slot_data(net, slot);
    std::memcpy(dst, data + layout.begin[slot], layout.count[slot] * sizeof(T));
    little_endian_in_place(dst, layout.count[slot], sizeof(T));
  }
  return Model{std::move(net), layout.info, std::move(layout.extra)};
}

}  // namespace

// --- public entry points --------------------------------------------------------------

const char* task_name(Task task) {
  return task == Task::Classification ? "classification" : "regression";
}

Task task_from_name(const std::string& name) {
  static constexpr Task kTasks[] = {Task::Classification, Task::Regression};
  return from_name("task", name, kTasks, task_name);
}

std::string task_problem(Task task, Loss loss, Activation output) {
  if (task != Task::Classification) return {};
  if (loss == Loss::Poisson)
    return "loss 'poisson' fits counts or rates (a regression), not the scores of classes a classifier needs";
  if (output == Activation::Exp)
    return "output 'exp' gives counts or rates (the Poisson loss's log link: a regression), not the scores of "
           "classes a classifier needs";
  return {};
}

template <class T>
std::string to_safetensors(const Network<T>& net, const ModelInfo& info, const Metadata& extra) {
  std::string out = header_bytes(net, info, extra);
  const std::size_t start = out.size();
  out.resize(start + net.n_params() * sizeof(T));
  std::memcpy(&out[start], net.params(), net.n_params() * sizeof(T));
  little_endian_in_place(&out[start], net.n_params(), sizeof(T));
  return out;
}

template <class T>
void save(const Network<T>& net, const std::string& path, const ModelInfo& info, const Metadata& extra) {
  const std::string header = header_bytes(net, info, extra);  // bad metadata: before any file exists
  AtomicFile file(path);
  file.write(header.data(), header.size());
  if (host_is_little_endian()) {
    file.write(net.params(), net.n_params() * sizeof(T));
  } else {
    std::vector<T> chunk;
    for (std::size_t i = 0; i < net.n_params(); i += 4096) {
      const std::size_t n = std::min<std::size_t>(4096, net.n_params() - i);
      chunk.assign(net.params() + i, net.params() + i + n);
      little_endian_in_place(chunk.data(), n, sizeof(T));
      file.write(chunk.data(), n * sizeof(T));
    }
  }
  file.commit();
}

Model from_safetensors(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  if (size < 8)
    fail(std::to_string(size) + " bytes are too few for a model file (it starts with an 8-byte "
         "header length)");
  const std::uint64_t n = header_length(bytes, size);
  Layout layout = as_file_error([&] {
    return read_header({reinterpret_cast<const char*>(bytes) + 8, static_cast<std::size_t>(n)},
                       size - 8 - n);
  });
  const unsigned char* tensors = bytes + 8 + n;
  return layout.dtype == Dtype::F64 ? copy_tensors<double>(tensors, layout)
                                    : copy_tensors<float>(tensors, layout);
}

Model load(const std::string& path) {
  const ReadFile opened = open_for_reading(path);  // regular files only: a size to check
  std::FILE* f = opened.file.get();
  const std::uint64_t size = opened.size;
  try {
    unsigned char first8[8];
    if (size < 8)
      fail(std::to_string(size) + " bytes are too few for a model file (it starts with an "
           "8-byte header length)");
    read_exactly(f, path, first8, 8, "the header length");
    const std::uint64_t n = header_length(first8, size);
    std::string header(static_cast<std::size_t>(n), '\0');  // n <= kMaxHeaderBytes
    read_exactly(f, path, header.data(), header.size(), "the header");
    Layout layout = as_file_error([&] { return read_header(header, size - 8 - n); });
    Model model = layout.dtype == Dtype::F64 ? read_tensors<double>(f, path, layout)
                                             : read_tensors<float>(f, path, layout);
    if (std::fgetc(f) != EOF) fail("the file grew while it was read");
    return model;
  } catch (const ModelFileError& e) {
    throw ModelFileError(path + ": " + e.what());
  }
}

#define FASTMLP_INSTANTIATE(T)                                                    \
  template std::string to_safetensors<T>(const Network<T>&, const ModelInfo&, const Metadata&); \
  template void save<T>(const Network<T>&, const std::string&, const ModelInfo&, const Metadata&);
FASTMLP_INSTANTIATE(float)
FASTMLP_INSTANTIATE(double)
#undef FASTMLP_INSTANTIATE

}  // namespace fastmlp
