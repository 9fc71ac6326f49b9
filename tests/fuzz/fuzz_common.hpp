// What both fuzz targets check beyond "no crash": a broken invariant aborts
// (libFuzzer and replay.cpp both report an abort), and every error message
// must be one line of well-formed UTF-8 whatever bytes the input held.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <fastmlp/errors.hpp>

namespace fuzz {

[[noreturn]] inline void broken(const char* what) {
  std::fprintf(stderr, "fuzz target: %s\n", what);
  std::abort();
}

// Aborts unless `message` is non-empty, free of control characters and
// well-formed UTF-8 throughout.
inline void check_message(std::string_view message) {
  if (message.empty()) broken("an error without a message");
  for (std::size_t i = 0; i < message.size();) {
    const auto c = static_cast<unsigned char>(message[i]);
    const std::size_t n = fastmlp::utf8_sequence(message.substr(i));
    if (c < 0x20 || c == 0x7f || n == 0) broken("a message with raw bytes from the input");
    i += n;
  }
}

}  // namespace fuzz
