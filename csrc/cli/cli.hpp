// The `fastmlp` command line, as one function with two front doors: the native
// program (main.cpp) and the Python package's console script (the module).
//
// It parses arguments, runs a subcommand, and returns the exit status: 0 on
// success, 2 for usage errors, 1 for any other error (one line on `err`).
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <fastmlp/train.hpp>

namespace fastmlp::cli {

struct Environment {
  std::string data_dir;  // where the bundled train.csv and test.csv are
  StopCheck should_stop;  // polled during training; true ends it (exit 130)
};

// Run the command line `args` (without the program name).
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const Environment& env);

}  // namespace fastmlp::cli
