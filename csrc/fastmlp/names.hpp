// Name <-> enum lookups for the options the Python layer, the command line and
// model files spell as strings (activations, losses, optimisers, schedules,
// initialisations): one lookup, one error message listing the choices.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

#include <fastmlp/errors.hpp>

namespace fastmlp {

// The entry of `choices` whose name_of() is `name`; else std::invalid_argument
// "<what> must be one of 'a', 'b'; got '<name>'", the name quoted printably
// (it may come from a file).
template <class E, std::size_t N, class NameOf>
E from_name(const char* what, const std::string& name, const E (&choices)[N], NameOf name_of) {
  std::string listed;
  for (const E& choice : choices) {
    if (name == name_of(choice)) return choice;
    listed += std::string(listed.empty() ? "'" : ", '") + name_of(choice) + "'";
  }
  throw std::invalid_argument(std::string(what) + " must be one of " + listed + "; got " + in_quotes(name));
}

}  // namespace fastmlp
