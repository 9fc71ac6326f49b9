// The `fastmlp` command line, as one function with two front doors: the native
// program (main.cpp) and the Python package's console script (the module).
//
// It parses arguments, runs a subcommand, and returns the exit status: 0 on
// success, 2 for usage errors, 1 for any other error (one line on `err`).
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <fastmlp/matrix.hpp>
#include <fastmlp/train.hpp>

namespace fastmlp::cli {

// --plot's drawing, which the command line asks of its front door: the Python
// package's console script draws with matplotlib; the native program has none
// and refuses --plot. The command line parses, checks the paths and writes the
// image; the front door only draws.
struct Plotter {
  // "" when an image can be drawn for `path` (its suffix names a format),
  // else why not (a usage error).
  std::function<std::string(const std::string& path)> check;
  // The image for `path`: kind "loss" draws the columns `names` of `table`
  // (epoch, loss, learning_rate[, val_loss, val_<score>]), a row per epoch;
  // kind "confusion" draws `table`'s counts, a row per true class and a column
  // per predicted class, the classes named by `names`.
  std::function<std::string(const std::string& path, const std::string& kind,
                            const std::vector<std::string>& names, const Matrix<double>& table)>
      draw;
};

struct Environment {
  std::string data_dir;  // where the bundled train.csv and test.csv are
  StopCheck should_stop;  // polled during training; true ends it (exit 130)
  Plotter plot;           // empty: no --plot
};

// Run the command line `args` (without the program name).
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
        const Environment& env);

}  // namespace fastmlp::cli
