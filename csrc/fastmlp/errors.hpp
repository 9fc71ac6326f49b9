// Errors the file readers and writers share: a file that cannot be opened,
// read or written. Errors in a file's contents are std::invalid_argument (or
// a type derived from it), thrown by each format's reader. Also the helpers
// that keep a file's text harmless in a message, and the path check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace fastmlp {

// A file that cannot be opened, read or written: its path, what failed, and
// the system's error code (errno, or 0 when there is none); what() is
// "PATH: ACTION: REASON".
class FileError : public std::runtime_error {
 public:
  FileError(std::string path, std::string action, int error_code)
      : std::runtime_error(path + ": " + action +
                           (error_code != 0 ? ": " + std::generic_category().message(error_code)
                                            : std::string())),
        path_(std::move(path)),
        action_(std::move(action)),
        error_code_(error_code) {}
  const std::string& path() const noexcept { return path_; }
  const std::string& action() const noexcept { return action_; }
  int error_code() const noexcept { return error_code_; }

 private:
  std::string path_, action_;
  int error_code_;
};

// The length (1 to 4) of the well-formed UTF-8 sequence that `s` starts
// with, or 0 when it starts with none: no overlong forms, surrogates or code
// points past U+10FFFF, as JSON and Python's str require.
inline std::size_t utf8_sequence(std::string_view s) {
  if (s.empty()) return 0;
  const auto c = static_cast<unsigned char>(s[0]);
  std::size_t extra;
  std::uint32_t cp, min;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) { extra = 1; cp = c & 0x1f; min = 0x80; }
  else if ((c & 0xf0) == 0xe0) { extra = 2; cp = c & 0x0f; min = 0x800; }
  else if ((c & 0xf8) == 0xf0) { extra = 3; cp = c & 0x07; min = 0x10000; }
  else return 0;
  if (s.size() <= extra) return 0;
  for (std::size_t k = 1; k <= extra; ++k) {
    const auto d = static_cast<unsigned char>(s[k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return extra + 1;
}

// `text` with every control character and every byte outside well-formed
// UTF-8 escaped (\x0a, \xff), so that text from a file can neither break a
// one-line message, nor drive a terminal, nor make the message undecodable
// (Python reads messages as UTF-8).
inline std::string printable(std::string_view text) {
  std::string out;
  auto escape = [&out](unsigned char c) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(c));
    out += hex;
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = utf8_sequence(text.substr(i));
    if (c < 0x20 || c == 0x7f || n == 0) {
      escape(c);
      ++i;
    } else {
      out.append(text, i, n);
      i += n;
    }
  }
  return out;
}

// A value read from a file, quoted for an error message: 'like this', cut after
// `max` bytes (marked by ...) and printable, so that a hostile file can neither
// flood a message nor break it over lines.
inline std::string in_quotes(std::string_view value, std::size_t max = 64) {
  return "'" + printable(value.substr(0, max)) + (value.size() > max ? "'..." : "'");
}

// std::invalid_argument when `path` holds a NUL byte: the operating system
// would read the path only up to it, and so open another file.
inline void check_path(const std::string& path) {
  if (path.find('\0') != std::string::npos)
    throw std::invalid_argument("path " + in_quotes(path) + " contains a NUL byte");
}

}  // namespace fastmlp
