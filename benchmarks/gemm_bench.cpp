// GEMM throughput in GFLOP/s: square sizes and the network's layer shapes, for
// float and double, each kernel this CPU supports, on 1 and 2 threads.
//
// A measuring tool, not a test: it asserts nothing. Compare with NumPy's
// OpenBLAS on the same machine, e.g. for 2048^3 float on one thread:
//   OPENBLAS_NUM_THREADS=1 python3 -c "import numpy as np, timeit;
//     a = np.random.rand(2048, 2048).astype(np.float32);
//     print(2 * 2048**3 * 5 / min(timeit.repeat(lambda: a @ a, number=5, repeat=3)) / 1e9)"
//
// Usage: gemm_bench [--type float|double|all] [--kernel ref|avx2|avx512] [--threads N]
//                   [--path auto|tiny|packed] [--clock wall|cpu] [--shape MxNxK[:TA[:TB]]] ...
// (--kernel, --threads and --shape may repeat; TA/TB are n or t.)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <fastmlp/gemm.hpp>
#include <fastmlp/gemm/dispatch.hpp>
#include <fastmlp/isa.hpp>
#include <fastmlp/threads.hpp>

using fastmlp::ThreadPool;
using fastmlp::Trans;
using Kernel = fastmlp::Isa;
using fastmlp::gemm_detail::Path;

namespace {

struct Shape {
  std::size_t m, n, k;
  Trans ta, tb;
  const char* what;
};

// dZ W^T and X^T dZ are the backward pass's two products (dX and dW).
std::vector<Shape> default_shapes() {
  return {
      {256, 256, 256, Trans::No, Trans::No, "square"},
      {512, 512, 512, Trans::No, Trans::No, "square"},
      {1024, 1024, 1024, Trans::No, Trans::No, "square"},
      {2048, 2048, 2048, Trans::No, Trans::No, "square"},
      {128, 256, 784, Trans::No, Trans::No, "X W (forward)"},
      {128, 128, 256, Trans::No, Trans::No, "X W (forward)"},
      {784, 256, 128, Trans::Yes, Trans::No, "X^T dZ (dW)"},
      {128, 784, 256, Trans::No, Trans::Yes, "dZ W^T (dX)"},
      {32, 256, 784, Trans::No, Trans::No, "X W, batch 32"},
      {1, 256, 784, Trans::No, Trans::No, "one-row predict"},
      {120, 5, 4, Trans::No, Trans::No, "Iris"},
  };
}

struct Free {
  void operator()(void* p) const { std::free(p); }
};

std::size_t round64(std::size_t bytes) { return bytes == 0 ? 64 : (bytes + 63) / 64 * 64; }

// --clock cpu: the process's CPU time instead of the wall clock. On a machine
// shared with other work, a process may get a fraction of a core, and wall
// time then measures the sharing; CPU time measures the product (waiting
// threads that spin still count, so compare like with like: the same thread
// counts, and NumPy timed with time.process_time).
bool g_cpu_clock = false;

double seconds_now() {
  if (g_cpu_clock) {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  }
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

// Best of 5 batches, each long enough (>= 0.1 s) to time reliably.
template <class T>
double gflops(Kernel kernel, Path path, const Shape& s, ThreadPool* pool) {
  const std::size_t a_size = s.m * s.k, b_size = s.k * s.n;
  // 64-byte aligned, like fastmlp's own matrices.
  auto alloc = [](std::size_t n) {
    void* p = std::aligned_alloc(64, round64(n * sizeof(T)));
    if (p == nullptr) throw std::bad_alloc();
    return std::unique_ptr<T[], Free>(static_cast<T*>(p));
  };
  auto A = alloc(a_size), B = alloc(b_size), C = alloc(s.m * s.n);
  for (std::size_t i = 0; i < a_size; ++i) A[i] = T(i % 17) / T(16) - T(0.5);
  for (std::size_t i = 0; i < b_size; ++i) B[i] = T(i % 13) / T(12) - T(0.5);
  const std::size_t lda = s.ta == Trans::No ? s.k : s.m;
  const std::size_t ldb = s.tb == Trans::No ? s.n : s.k;
  auto call = [&] {
    fastmlp::gemm_detail::gemm_with(kernel, path, s.ta, s.tb, s.m, s.n, s.k, T(1),
                                    A.get(), lda, B.get(), ldb, T(0), C.get(), s.n, pool);
  };
  call();
  const double t0 = seconds_now();
  call();
  const double once = seconds_now() - t0;
  const std::size_t reps = once > 0.1 ? 1 : std::size_t(0.1 / (once + 1e-9)) + 1;
  double best = 1e30;
  for (int batch = 0; batch < 5; ++batch) {
    const double start = seconds_now();
    for (std::size_t r = 0; r < reps; ++r) call();
    best = std::min(best, (seconds_now() - start) / double(reps));
  }
  return 2.0 * double(s.m) * double(s.n) * double(s.k) / best / 1e9;
}

bool parse_shape(const char* text, Shape& s) {
  char ta = 'n', tb = 'n';
  const int got = std::sscanf(text, "%zux%zux%zu:%c:%c", &s.m, &s.n, &s.k, &ta, &tb);
  if (got < 3) return false;
  s.ta = ta == 't' ? Trans::Yes : Trans::No;
  s.tb = tb == 't' ? Trans::Yes : Trans::No;
  s.what = "";
  return true;
}

template <class T>
void run(const std::vector<Shape>& shapes, const std::vector<Kernel>& kernels,
         const std::vector<int>& thread_counts, Path path) {
  const char* type = sizeof(T) == 4 ? "float" : "double";
  for (const Shape& s : shapes) {
    for (Kernel kernel : kernels) {
      // The portable kernel is slow on x86 (std::fma is a library call there).
      if (kernel == Kernel::Ref && s.m * s.n * s.k > (std::size_t(1) << 27)) continue;
      for (int threads : thread_counts) {
        ThreadPool pool(threads);
        const double g = gflops<T>(kernel, path, s, &pool);
        std::printf("%-6s %5zu x %5zu x %5zu  %s%s  %-6s  %d thr  %8.1f GFLOP/s  %s\n", type,
                    s.m, s.n, s.k, s.ta == Trans::Yes ? "T" : "N",
                    s.tb == Trans::Yes ? "T" : "N", fastmlp::isa_name(kernel),
                    threads, g, s.what);
        std::fflush(stdout);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Shape> shapes;
  std::vector<Kernel> kernels;
  std::vector<int> thread_counts;
  std::string type = "all";
  Path path = Path::Auto;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (value == nullptr) {
      std::fprintf(stderr, "%s needs a value\n", arg.c_str());
      return 2;
    }
    ++i;
    if (arg == "--type") {
      type = value;
      if (type != "float" && type != "double" && type != "all") {
        std::fprintf(stderr, "unknown type %s (want float, double or all)\n", value);
        return 2;
      }
    } else if (arg == "--threads") {
      thread_counts.push_back(std::atoi(value));
    } else if (arg == "--kernel") {
      bool known = false;
      for (Kernel k : {Kernel::Ref, Kernel::Avx2, Kernel::Avx512})
        if (std::strcmp(value, fastmlp::isa_name(k)) == 0) {
          kernels.push_back(k);
          known = true;
        }
      if (!known) {
        std::fprintf(stderr, "unknown kernel %s\n", value);
        return 2;
      }
    } else if (arg == "--path") {
      const std::string p = value;
      if (p != "auto" && p != "tiny" && p != "packed") {
        std::fprintf(stderr, "unknown path %s (want auto, tiny or packed)\n", value);
        return 2;
      }
      path = p == "tiny" ? Path::Tiny : p == "packed" ? Path::Packed : Path::Auto;
    } else if (arg == "--clock") {
      const std::string c = value;
      if (c != "wall" && c != "cpu") {
        std::fprintf(stderr, "unknown clock %s (want wall or cpu)\n", value);
        return 2;
      }
      g_cpu_clock = c == "cpu";
    } else if (arg == "--shape") {
      Shape s{};
      if (!parse_shape(value, s)) {
        std::fprintf(stderr, "bad shape %s (want MxNxK[:t|n[:t|n]])\n", value);
        return 2;
      }
      shapes.push_back(s);
    } else {
      std::fprintf(stderr, "unknown option %s\n", arg.c_str());
      return 2;
    }
  }
  if (shapes.empty()) shapes = default_shapes();
  if (thread_counts.empty()) thread_counts = {1, 2};
  if (kernels.empty())
    for (Kernel k : {Kernel::Avx512, Kernel::Avx2, Kernel::Ref})
      if (fastmlp::isa_supported(k)) kernels.push_back(k);
  for (Kernel k : kernels)
    if (!fastmlp::isa_supported(k)) {
      std::fprintf(stderr, "kernel %s is not supported here\n",
                   fastmlp::isa_name(k));
      return 2;
    }

  try {
    if (type == "all" || type == "float") run<float>(shapes, kernels, thread_counts, path);
    if (type == "all" || type == "double") run<double>(shapes, kernels, thread_counts, path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemm_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
