// Errors the file readers and writers share: a file that cannot be opened,
// read or written. Errors in a file's contents are std::invalid_argument (or
// a type derived from it), thrown by each format's reader.
#pragma once

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

// `text` with every control character escaped (\x0a), so that text from a
// file cannot break a one-line message or drive a terminal.
inline std::string printable(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned>(c));
      out += escape;
    } else {
      out += ch;
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

}  // namespace fastmlp
