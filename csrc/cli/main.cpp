// The native `fastmlp` program: finds the bundled data, then hands over to
// fastmlp::cli::run, the same function the Python console script calls.
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli.hpp"

namespace {

volatile std::sig_atomic_t g_interrupted = 0;

// The bundled data: $FASTMLP_DATA_DIR, else share/fastmlp/data beside an
// installed program, else the source tree this program was built from.
std::string find_data_dir() {
  namespace fs = std::filesystem;
  if (const char* dir = std::getenv("FASTMLP_DATA_DIR")) return dir;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path installed = exe.parent_path().parent_path() / "share" / "fastmlp" / "data";
    if (fs::exists(installed / "train.csv", ec)) return installed.string();
  }
  return FASTMLP_SOURCE_DATA_DIR;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  fastmlp::cli::Environment env;
  env.data_dir = find_data_dir();
  env.should_stop = [] { return g_interrupted != 0; };
  return fastmlp::cli::run({argv + 1, argv + argc}, std::cout, std::cerr, env);
}
