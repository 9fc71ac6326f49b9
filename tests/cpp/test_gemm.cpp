// Tests for gemm and the thread pool: every supported kernel, both paths and
// 1-4 threads, and products with a packed right operand (PackedB), must agree
// BIT FOR BIT with the naive oracle (gemm/naive.hpp). And the instruction sets
// isa.hpp reports, against the compiler's own view of this CPU.
//
// Shapes cover 0, 1, primes, non-multiples of every block size, k below and
// above KC, all transpose pairs, alpha 1 and other, beta 0 (C full of NaN, so a
// read would show) and 1, and leading dimensions past the row length (whose
// padding must stay untouched). A plain program: exits 1 on the first failure.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/wait.h>
#include <unistd.h>
#define FASTMLP_TEST_FORK 1
#endif

#include <fastmlp/activations.hpp>
#include <fastmlp/gemm.hpp>
#include <fastmlp/gemm/blocking.hpp>
#include <fastmlp/gemm/dispatch.hpp>
#include <fastmlp/gemm/naive.hpp>
#include <fastmlp/isa.hpp>
#include <fastmlp/threads.hpp>

// --- allocation counting ---------------------------------------------------------

// Every allocation in the program goes through these, so a test can check that
// gemm allocates nothing once warmed up.
static std::atomic<long> g_allocations{0};

void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n != 0 ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t align) {
  ++g_allocations;
  const std::size_t a = static_cast<std::size_t>(align);
  if (void* p = std::aligned_alloc(a, (n + a - 1) / a * a + (n == 0 ? a : 0))) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t align, const std::nothrow_t&) noexcept {
  try {  // AlignedBuffer's (a PackedB's panels)
    return operator new(n, align);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using fastmlp::ThreadPool;
using fastmlp::Trans;
using fastmlp::Isa;
using Kernel = fastmlp::Isa;
using fastmlp::gemm_detail::Path;

namespace {

// --- helpers ----------------------------------------------------------------------

// On failure: print where, what and the printf-style details; return false.
#define CHECK(cond, ...)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "FAIL %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                     \
      std::fprintf(stderr, "\n");                                            \
      return false;                                                          \
    }                                                                        \
  } while (0)

// A small deterministic generator (SplitMix64) for test data.
struct Gen {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1) with a full mantissa, times 2^e for e in [-3, 3], so
  // products and sums round in every way.
  double value() {
    const double u = double(next() >> 11) * 0x1.0p-53 * 2.0 - 1.0;
    return std::ldexp(u, int(next() % 7) - 3);
  }
};

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <class T>
const char* type_name() {
  return sizeof(T) == 4 ? "float" : "double";
}

const char* tname(Trans t) { return t == Trans::Yes ? "T" : "N"; }
const char* pname(Path p) {
  return p == Path::Tiny ? "tiny" : p == Path::Packed ? "packed" : "auto";
}

const char* active_name() { return fastmlp::isa_name(fastmlp::active_isa()); }

std::vector<Kernel> supported_kernels() {
  std::vector<Kernel> ks;
  for (Kernel k : {Kernel::Ref, Kernel::Avx2, Kernel::Avx512})
    if (fastmlp::isa_supported(k)) ks.push_back(k);
  return ks;
}

// --- one product, every way -------------------------------------------------------

struct Shape {
  std::size_t m, n, k;
};

// Operands of one test case, stored with padded leading dimensions.
template <class T>
struct Operands {
  Trans ta, tb;
  std::size_t m, n, k, lda, ldb, ldc;
  T alpha, beta;
  std::vector<T> A, B, C0;  // C0: C before the call
};

template <class T>
Operands<T> make_operands(Gen& g, Trans ta, Trans tb, Shape s, T alpha, T beta,
                          std::size_t pad) {
  Operands<T> o{ta, tb, s.m, s.n, s.k, 0, 0, 0, alpha, beta, {}, {}, {}};
  const std::size_t a_rows = ta == Trans::No ? s.m : s.k, a_cols = ta == Trans::No ? s.k : s.m;
  const std::size_t b_rows = tb == Trans::No ? s.k : s.n, b_cols = tb == Trans::No ? s.n : s.k;
  o.lda = a_cols + pad;
  o.ldb = b_cols + pad + 1;
  o.ldc = std::max<std::size_t>(1, s.n + pad);
  o.A.resize(a_rows * o.lda + 1);
  o.B.resize(b_rows * o.ldb + 1);
  o.C0.resize(s.m * o.ldc + 1);
  for (auto& x : o.A) x = T(g.value());
  for (auto& x : o.B) x = T(g.value());
  // beta == 0 promises C is not read: fill it with NaN to catch a read. The
  // padding past each row holds a sentinel that must survive.
  for (std::size_t i = 0; i < o.C0.size(); ++i) {
    const bool padding = i >= s.m * o.ldc || i % o.ldc >= s.n;
    o.C0[i] = padding ? T(1234.5)
                      : beta == T(0) ? std::numeric_limits<T>::quiet_NaN() : T(g.value());
  }
  return o;
}

template <class T>
bool compare(const Operands<T>& o, const std::vector<T>& want, const std::vector<T>& got,
             const std::string& label) {
  for (std::size_t i = 0; i < want.size(); ++i) {
    CHECK(same_bits(want[i], got[i]),
          "%s: %s m=%zu n=%zu k=%zu op=%s%s alpha=%g beta=%g lda=%zu ldb=%zu ldc=%zu: "
          "C[%zu][%zu] = %.9g (%a), oracle %.9g (%a)",
          label.c_str(), type_name<T>(), o.m, o.n, o.k, tname(o.ta), tname(o.tb),
          double(o.alpha), double(o.beta), o.lda, o.ldb, o.ldc, i / o.ldc, i % o.ldc,
          double(got[i]), double(got[i]), double(want[i]), double(want[i]));
  }
  return true;
}

// A product with a PackedB and an epilogue (bias, then an activation chosen
// by the shape) against the oracle's C with the same operations applied
// after: element by element for relu and leaky relu (done in registers),
// activations.hpp's pass for the others; and the non-finite flag: clear for
// these finite operands, set once a row of op(A) holds a NaN, which spoils
// that row of C only.
template <class T>
bool check_epilogue(const Operands<T>& o, const std::vector<T>& want,
                    const fastmlp::PackedB<T>& packed) {
  using fastmlp::Activation;
  constexpr Activation::Kind kinds[] = {Activation::Identity, Activation::Relu,
                                        Activation::LeakyRelu, Activation::Sigmoid,
                                        Activation::Tanh,     Activation::Softmax};
  const Activation act(kinds[(o.m + o.n + o.k) % 6], 0.125);
  std::vector<T> bias(o.n + 1);
  Gen g{o.m * 1000 + o.n};
  for (T& b : bias) b = T(g.value());
  const T slope = T(0.125);
  bool nonfinite = false;
  fastmlp::Epilogue<T> ep;
  ep.bias = bias.data();
  ep.act = act;
  ep.nonfinite = &nonfinite;
  std::vector<T> expect = want, got = o.C0;
  for (std::size_t i = 0; i < o.m; ++i)
    for (std::size_t j = 0; j < o.n; ++j) {
      T& z = expect[i * o.ldc + j];
      z = z + bias[j];
      if (act == Activation::Relu) z = z > T(0) ? z : T(0);
      if (act == Activation::LeakyRelu) z = z > T(0) ? z : slope * z;
    }
  if (act != Activation::Relu && act != Activation::LeakyRelu && o.n > 0)
    fastmlp::bias_activation_forward<T>(
        act, fastmlp::MatrixView<T>(expect.data(), o.m, o.n, o.ldc), nullptr);
  fastmlp::gemm(o.ta, o.m, o.alpha, o.A.data(), o.lda, packed, o.beta, got.data(), o.ldc, ep);
  const std::string label = std::string("PackedB epilogue ") + fastmlp::activation_name(act);
  if (!compare(o, expect, got, label)) return false;
  CHECK(!nonfinite, "m=%zu n=%zu k=%zu: finite operands flagged non-finite", o.m, o.n, o.k);
  if (o.m < 2 || o.n == 0 || o.k == 0) return true;
  std::vector<T> A = o.A;
  const std::size_t bad_row = o.m / 2;
  A[o.ta == Trans::No ? bad_row * o.lda : bad_row] = std::numeric_limits<T>::quiet_NaN();
  got = o.C0;
  fastmlp::gemm(o.ta, o.m, o.alpha, A.data(), o.lda, packed, o.beta, got.data(), o.ldc, ep);
  CHECK(nonfinite, "m=%zu n=%zu k=%zu: a NaN in op(A) row %zu not flagged", o.m, o.n, o.k,
        bad_row);
  for (std::size_t i = 0; i < o.m; ++i) {
    if (i == bad_row) continue;
    for (std::size_t j = 0; j < o.n; ++j)
      CHECK(same_bits(got[i * o.ldc + j], expect[i * o.ldc + j]),
            "m=%zu n=%zu k=%zu: a NaN in row %zu of op(A) changed C[%zu][%zu]", o.m, o.n, o.k,
            bad_row, i, j);
  }
  return true;
}

// op(B) packed once (PackedB), on no pool and on the largest, with every kernel
// forced packed or not (the portable kernel, slow on x86, packed on no pool
// only), then the rows of op(A) in two uneven blocks against it: all must match
// the oracle, and so must the epilogue (on no pool; the portable kernel's on
// the smaller shapes). And
// PackedB::pack's own choice, as predict uses it.
template <class T>
bool check_packed_b(const Operands<T>& o, const std::vector<T>& want,
                    const std::vector<ThreadPool*>& pools) {
  const std::size_t split = o.m / 3;
  auto multiply = [&](const fastmlp::PackedB<T>& packed, std::vector<T>& got) {
    for (auto [i0, i1] : {std::pair{std::size_t(0), split}, std::pair{split, o.m}}) {
      const T* A = o.ta == Trans::No ? o.A.data() + i0 * o.lda : o.A.data() + i0;
      fastmlp::gemm(o.ta, i1 - i0, o.alpha, A, o.lda, packed, o.beta, got.data() + i0 * o.ldc,
                    o.ldc);
    }
  };
  fastmlp::PackedB<T> packed;
  std::vector<T> got;
  for (Kernel kernel : supported_kernels()) {
    for (ThreadPool* pool : {pools.front(), pools.back()}) {
      for (Path path : {Path::Packed, Path::Tiny}) {
        if (path == Path::Tiny && pool != nullptr) continue;  // nothing to pack
        if (kernel == Kernel::Ref && (path == Path::Tiny || pool != nullptr)) continue;  // slow
        fastmlp::gemm_detail::pack_with(kernel, path, packed, o.tb, o.k, o.n, o.B.data(),
                                        o.ldb, o.m, pool);
        got = o.C0;
        multiply(packed, got);
        const std::string label = std::string("PackedB/") +
                                  fastmlp::isa_name(kernel) + "/" + pname(path) +
                                  "/threads=" + std::to_string(pool != nullptr ? pool->size() : 0);
        if (!compare(o, want, got, label)) return false;
        const bool slow = kernel == Kernel::Ref && o.m * o.n * o.k > 100000;
        if (pool == nullptr && !slow && !check_epilogue(o, want, packed)) return false;
      }
    }
  }
  packed.pack(o.tb, o.k, o.n, o.B.data(), o.ldb, o.m, pools.back());
  got = o.C0;
  multiply(packed, got);
  return compare(o, want, got, std::string("PackedB/") + active_name());
}

// Runs one case through the oracle, then through every kernel x path x pool,
// and the public gemm(); all must match the oracle exactly. `pools` starts
// with nullptr (no pool). Auto runs without a pool (with one it is Tiny or
// Packed again); the portable kernel, slow on x86, runs fewer combinations.
template <class T>
bool check_case(const Operands<T>& o, const std::vector<ThreadPool*>& pools) {
  std::vector<T> want = o.C0;
  fastmlp::gemm_naive(o.ta, o.tb, o.m, o.n, o.k, o.alpha, o.A.data(), o.lda, o.B.data(), o.ldb,
                      o.beta, want.data(), o.ldc);
  if (o.beta == T(0) && o.m * o.n > 0) {
    // Finite inputs: a NaN in the oracle's result would mean it read C.
    CHECK(!std::isnan(want[0]), "oracle read C with beta == 0");
  }

  std::vector<T> got;
  for (Kernel kernel : supported_kernels()) {
    const std::size_t n_pools = kernel == Kernel::Ref ? std::min<std::size_t>(2, pools.size())
                                                      : pools.size();
    for (std::size_t pi = 0; pi < n_pools; ++pi) {
      ThreadPool* const pool = pools[pi];
      for (Path path : {Path::Tiny, Path::Packed, Path::Auto}) {
        if (path == Path::Auto && (pool != nullptr || kernel == Kernel::Ref)) continue;
        if (path == Path::Tiny && pool != nullptr && kernel == Kernel::Ref) continue;
        got = o.C0;
        fastmlp::gemm_detail::gemm_with(kernel, path, o.ta, o.tb, o.m, o.n, o.k, o.alpha,
                                        o.A.data(), o.lda, o.B.data(), o.ldb, o.beta,
                                        got.data(), o.ldc, pool);
        const std::string label = std::string(fastmlp::isa_name(kernel)) + "/" +
                                  pname(path) + "/threads=" +
                                  std::to_string(pool != nullptr ? pool->size() : 0);
        if (!compare(o, want, got, label)) return false;
      }
    }
  }
  got = o.C0;
  fastmlp::gemm(o.ta, o.tb, o.m, o.n, o.k, o.alpha, o.A.data(), o.lda, o.B.data(), o.ldb,
                o.beta, got.data(), o.ldc, pools.back());
  if (!compare(o, want, got, std::string("gemm/") + active_name())) return false;
  return check_packed_b(o, want, pools);
}

// --- the sweep --------------------------------------------------------------------

// `pools`: no pool, then pools of 3, 1, 2 and 4 threads; the many small cases
// use the first two (the large ones, all).
template <class T>
bool test_shapes(const std::vector<ThreadPool*>& pools) {
  const std::vector<ThreadPool*> few(pools.begin(), pools.begin() + 2);
  constexpr std::size_t KC = fastmlp::gemm_detail::KC<T>;
  std::vector<Shape> small;
  // Every mix of tiny sizes, including empty ones.
  for (std::size_t m : {0, 1, 2, 7, 13})
    for (std::size_t n : {0, 1, 3, 13, 31})
      for (std::size_t k : {0, 1, 5, 13}) small.push_back({m, n, k});
  // Primes and edges around the register tiles, k on both sides of KC.
  for (std::size_t m : {11, 31, 127})
    for (std::size_t n : {17, 33, 127})
      for (std::size_t k : {std::size_t(31), KC - 1, KC, KC + 1}) small.push_back({m, n, k});
  // The network's shapes: Iris, single-row predict, MNIST-like layers.
  for (Shape s : {Shape{120, 5, 4}, Shape{120, 3, 5}, Shape{5, 3, 120}, Shape{4, 5, 120},
                  Shape{120, 5, 3}, Shape{1, 37, 2 * KC + 3}, Shape{3, 64, 300}})
    small.push_back(s);
  // Several k-blocks; several MC blocks and row groups (m > 4 * MC); several NC
  // panels (n > NC); enough work for many tasks on every pool. On one thread,
  // 401 x 530 takes several blocks of rows in each of several strips of op(B)
  // packed by the compute tasks (the last strip partial), as a part of dW does.
  const std::vector<Shape> large = {{397, 37, 2 * KC + 45}, {1550, 9, KC + 3}, {7, 2100, 300},
                                    {128, 256, 300},        {300, 67, 128},   {70, 130, 90},
                                    {401, 530, 2 * KC + 9}};
  Gen g{sizeof(T)};
  const Trans both[] = {Trans::No, Trans::Yes};
  std::size_t cases = 0;
  for (const Shape& s : small)
    for (Trans ta : both)
      for (Trans tb : both)
        for (auto [alpha, beta] : {std::pair{T(1), T(0)}, std::pair{T(1), T(1)},
                                   std::pair{T(-0.75), T(0)}, std::pair{T(-0.75), T(0.5)}}) {
          const std::size_t pad = (cases % 3) * 3;  // ld = row length, +3, +6
          if (!check_case(make_operands<T>(g, ta, tb, s, alpha, beta, pad), few)) return false;
          ++cases;
        }
  for (const Shape& s : large)
    for (Trans ta : both)
      for (Trans tb : both) {
        const bool first = cases % 2 == 0;
        if (!check_case(make_operands<T>(g, ta, tb, s, first ? T(1) : T(1.25),
                                         first ? T(0) : T(1), 5),
                        pools))
          return false;
        ++cases;
      }
  std::printf("%s: %zu cases match the oracle bit for bit\n", type_name<T>(), cases);
  return true;
}

// --- thread pool ------------------------------------------------------------------

bool test_pool() {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    CHECK(pool.size() == threads, "size() = %d, want %d", pool.size(), threads);
    for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(5), std::size_t(1000)}) {
      std::vector<int> hits(n, 0);
      pool.parallel_for(n, [&](std::size_t i) { ++hits[i]; });
      for (std::size_t i = 0; i < n; ++i)
        CHECK(hits[i] == 1, "threads=%d n=%zu: chunk %zu ran %d times", threads, n, i, hits[i]);
    }
    // A throwing chunk: the exception reaches the caller and the pool still works.
    bool caught = false;
    try {
      pool.parallel_for(64, [](std::size_t i) {
        if (i == 17) throw std::runtime_error("chunk 17");
      });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "chunk 17";
    }
    CHECK(caught, "threads=%d: exception not rethrown", threads);
    // Nested calls run inline instead of deadlocking.
    std::vector<int> inner(16, 0);
    pool.parallel_for(4, [&](std::size_t i) {
      pool.parallel_for(4, [&](std::size_t j) { ++inner[i * 4 + j]; });
    });
    for (std::size_t i = 0; i < inner.size(); ++i)
      CHECK(inner[i] == 1, "threads=%d: nested chunk %zu ran %d times", threads, i, inner[i]);
    // on_every_thread: once on each thread; from inside a chunk, once inline.
    std::mutex mu;
    std::set<std::thread::id> ids;
    int calls = 0;
    pool.on_every_thread([&] {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
      ++calls;
    });
    CHECK(calls == threads && ids.size() == std::size_t(threads),
          "threads=%d: on_every_thread ran %d times on %zu threads", threads, calls, ids.size());
    // A throwing call: rethrown once every thread has made its call; the pool still works.
    std::atomic<int> made{0};
    bool rethrown = false;
    try {
      pool.on_every_thread([&] {
        if (++made == 1) throw std::runtime_error("first call");
      });
    } catch (const std::runtime_error& e) {
      rethrown = std::string(e.what()) == "first call";
    }
    CHECK(rethrown && made == threads, "threads=%d: on_every_thread's exception: rethrown %d, %d calls",
          threads, int(rethrown), made.load());
    std::atomic<int> nested{0};
    pool.parallel_for(3, [&](std::size_t) { pool.on_every_thread([&] { ++nested; }); });
    CHECK(nested == 3, "threads=%d: on_every_thread inside chunks ran %d times, want 3", threads,
          nested.load());
  }
  bool threw = false;
  try {
    ThreadPool bad(0);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw, "ThreadPool(0) did not throw");
  CHECK(fastmlp::default_thread_count() >= 1, "default_thread_count() < 1");
  std::printf("thread pool: ok\n");
  return true;
}

// Pools of every count from 2 to 64 share one set of workers: never more than
// the largest needs (63), and those beyond the CPUs exit once idle.
bool test_pool_workers() {
  for (int threads = 2; threads <= 64; ++threads) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(std::size_t(threads) * 4);
    pool.parallel_for(hits.size(), [&](std::size_t i) { ++hits[i]; });
    for (std::size_t i = 0; i < hits.size(); ++i)
      CHECK(hits[i] == 1, "threads=%d: chunk %zu ran %d times", threads, i, hits[i].load());
    CHECK(fastmlp::pool_worker_count() <= 63, "after threads=%d: %d workers", threads,
          fastmlp::pool_worker_count());
  }
  CHECK(fastmlp::pool_worker_count() >= 1, "no workers after pools of up to 64 threads");
  const unsigned cpus = std::max(std::thread::hardware_concurrency(), 2u);
  const auto deadline = std::chrono::steady_clock::now() + 60 * ThreadPool::kIdleExit;
  while (fastmlp::pool_worker_count() > int(cpus) - 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(fastmlp::pool_worker_count() <= int(cpus) - 1, "%d idle workers stayed on %u CPUs",
        fastmlp::pool_worker_count(), cpus);
  std::printf("thread pool workers: ok\n");
  return true;
}

#if defined(FASTMLP_TEST_FORK)
// A forked child has none of its parent's workers: its pools start their own.
// A child that hangs is ended by an alarm, and the parent sees the signal.
bool test_pool_after_fork() {
  ThreadPool pool(3);
  std::atomic<int> parent_hits{0};
  pool.parallel_for(12, [&](std::size_t) { ++parent_hits; });
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(60);
    std::atomic<int> hits{0}, calls{0};
    pool.parallel_for(12, [&](std::size_t) { ++hits; });
    pool.on_every_thread([&] { ++calls; });
    _exit(hits == 12 && calls == 3 && fastmlp::pool_worker_count() == 2 ? 0 : 1);
  }
  CHECK(pid > 0, "fork failed");
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid, "waitpid failed");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "the forked child's pool failed (exit %d, signal %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
        WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  std::printf("thread pool after fork: ok\n");
  return parent_hits == 12;
}
#endif

// --- no allocation in steady state -----------------------------------------------

// Each path once to warm up (scratch buffers grow), then again: no allocation.
template <class T>
bool test_no_allocation(ThreadPool* pool) {
  struct Call {
    Trans ta, tb;
    Shape s;
  };
  // Iris's three products, single-row predict, a narrow output layer (tiny path
  // on the pool), and an MNIST-like layer's three (packed path on the pool).
  const Call calls[] = {
      {Trans::No, Trans::No, {120, 5, 4}},      {Trans::Yes, Trans::No, {4, 5, 120}},
      {Trans::No, Trans::Yes, {120, 5, 3}},     {Trans::No, Trans::No, {1, 256, 784}},
      {Trans::No, Trans::No, {2048, 10, 100}},  {Trans::No, Trans::No, {128, 256, 784}},
      {Trans::Yes, Trans::No, {784, 256, 128}}, {Trans::No, Trans::Yes, {128, 784, 256}}};
  std::vector<Operands<T>> ops;
  Gen g{7};
  for (const Call& c : calls) ops.push_back(make_operands<T>(g, c.ta, c.tb, c.s, T(1), T(1), 0));
  // And a layer's weights packed once for a prediction, then a block of rows.
  fastmlp::PackedB<T> packed;
  auto run_all = [&] {
    for (Operands<T>& o : ops)
      fastmlp::gemm(o.ta, o.tb, o.m, o.n, o.k, o.alpha, o.A.data(), o.lda, o.B.data(), o.ldb,
                    o.beta, o.C0.data(), o.ldc, pool);
    const Operands<T>& layer = ops[5];
    packed.pack(layer.tb, layer.k, layer.n, layer.B.data(), layer.ldb, layer.m, pool);
    fastmlp::gemm(layer.ta, layer.m, layer.alpha, layer.A.data(), layer.lda, packed, layer.beta,
                  ops[5].C0.data(), layer.ldc);
  };
  run_all();
  // Several times: on a pool, which worker runs which task changes from run to
  // run, and no worker may need scratch of its own.
  const long before = g_allocations.load();
  for (int i = 0; i < 4; ++i) run_all();
  const long after = g_allocations.load();
  CHECK(after == before, "%s: gemm allocated %ld times after warming up", type_name<T>(),
        after - before);
  std::printf("%s: no allocation in steady state\n", type_name<T>());
  return true;
}

// On a fresh thread (empty scratch), the first products of these shapes
// allocate; after gemm_reserve for them, they and smaller ones do not.
template <class T>
bool test_reserve() {
  struct Call {
    Trans ta, tb;
    Shape s;
  };
  // packed NN, TN and NT; the tiny path's copy of a transposed B
  const Call calls[] = {{Trans::No, Trans::No, {128, 256, 784}},
                        {Trans::Yes, Trans::No, {64, 256, 128}},
                        {Trans::No, Trans::Yes, {64, 256, 128}},
                        {Trans::No, Trans::Yes, {16, 64, 100}}};
  std::vector<Operands<T>> ops;
  Gen g{11};
  for (const Call& c : calls) ops.push_back(make_operands<T>(g, c.ta, c.tb, c.s, T(1), T(0), 0));
  auto allocations = [&](bool reserve, std::size_t shrink) {
    long count = -1;
    std::thread t([&] {
      if (reserve)
        for (const Operands<T>& o : ops) fastmlp::gemm_reserve<T>(o.tb, o.m, o.n, o.k);
      const long before = g_allocations.load();
      for (Operands<T>& o : ops)
        fastmlp::gemm(o.ta, o.tb, o.m - shrink, o.n - shrink, o.k - shrink, o.alpha, o.A.data(),
                      o.lda, o.B.data(), o.ldb, o.beta, o.C0.data(), o.ldc);
      count = g_allocations.load() - before;
    });
    t.join();
    return count;
  };
  CHECK(allocations(false, 0) > 0, "%s: a fresh thread's products allocated nothing",
        type_name<T>());
  for (std::size_t shrink : {0, 1, 9}) {
    const long count = allocations(true, shrink);
    CHECK(count == 0, "%s: %ld allocations after gemm_reserve (sizes less %zu)", type_name<T>(),
          count, shrink);
  }
  std::printf("%s: gemm_reserve sizes the scratch\n", type_name<T>());
  return true;
}

// --- instruction sets and blocks of rows --------------------------------------------

// isa_supported reads cpuid and xgetbv itself; the compiler's runtime (libgcc
// or compiler-rt, which also checks that the OS saves the registers) is an
// independent reading of the same CPU. And with FASTMLP_GEMM_KERNEL unset,
// the instruction set in use is the best one supported.
bool test_isa() {
  CHECK(fastmlp::isa_supported(Isa::Ref), "the portable kernels must always run");
#if defined(FASTMLP_X86) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
  CHECK(fastmlp::isa_supported(Isa::Avx2) == avx2, "avx2: isa.hpp says %d, the compiler %d",
        int(fastmlp::isa_supported(Isa::Avx2)), int(avx2));
  CHECK(fastmlp::isa_supported(Isa::Avx512) == avx512,
        "avx512: isa.hpp says %d, the compiler %d", int(fastmlp::isa_supported(Isa::Avx512)),
        int(avx512));
#endif
  const char* forced = std::getenv("FASTMLP_GEMM_KERNEL");
  if (forced == nullptr || *forced == '\0') {
    const Isa best = supported_kernels().back();
    CHECK(fastmlp::active_isa() == best, "in use: %s; best supported: %s", active_name(),
          fastmlp::isa_name(best));
  }
  return true;
}

// PackedB::block_rows cuts any number of rows into blocks of whole row tiles
// of the kernel in use, none of them empty and none above the cap; and
// PackedB::packs agrees with what pack() does.
template <class T>
bool test_block_rows() {
  namespace gd = fastmlp::gemm_detail;
  const gd::Blocking tiles[] = {gd::kRefBlocking<T>, gd::kAvx2Blocking<T>,
                                gd::kAvx512Blocking<T>};
  const std::size_t mr = tiles[static_cast<int>(fastmlp::active_isa())].mr;
  for (std::size_t threads : {0, 1, 2, 3, 4, 8, 64})
    for (std::size_t rows = 1; rows <= 3000; ++rows) {
      const std::size_t block = fastmlp::PackedB<T>::block_rows(rows, threads);
      CHECK(block > 0 && block % mr == 0, "rows %zu threads %zu: block %zu, row tile %zu",
            rows, threads, block, mr);
      CHECK(block <= std::max(gd::kMaxBlockRows, mr), "rows %zu threads %zu: block %zu", rows,
            threads, block);
      const std::size_t blocks = (rows + block - 1) / block;
      CHECK((blocks - 1) * block < rows, "rows %zu threads %zu: block %zu leaves one empty",
            rows, threads, block);
    }
  // packs(rows) says whether pack() packs at all: a fresh PackedB allocates
  // its panels exactly then (for a B large enough to be worth it).
  std::vector<T> B(256 * 256, T(1));
  for (std::size_t rows : {1, 2, 12, 31, 32, 33, 48, 64, 252, 1000}) {
    fastmlp::PackedB<T> packed;
    const long before = g_allocations.load();
    packed.pack(Trans::No, 256, 256, B.data(), 256, rows);
    const bool allocated = g_allocations.load() != before;
    CHECK(allocated == fastmlp::PackedB<T>::packs(rows), "rows %zu: packs() says %d, pack() %s",
          rows, int(fastmlp::PackedB<T>::packs(rows)), allocated ? "packed" : "did not pack");
  }
  std::printf("%s: blocks of rows for a PackedB (row tile %zu)\n", type_name<T>(), mr);
  return true;
}

// --- the rest of the contract -----------------------------------------------------

bool test_misc() {
  // The kernel gemm uses is supported, and is the forced one when forced.
  const std::string name = active_name();
  CHECK(name == "ref" || name == "avx2" || name == "avx512", "kernel name %s", name.c_str());
  if (const char* forced = std::getenv("FASTMLP_GEMM_KERNEL"))
    if (*forced != '\0')
      CHECK(name == forced, "FASTMLP_GEMM_KERNEL=%s but gemm uses %s", forced, name.c_str());
  // A leading dimension shorter than the row is refused.
  float a[4] = {}, b[4] = {}, c[4] = {};
  bool threw = false;
  try {
    fastmlp::gemm(Trans::No, Trans::No, 2, 2, 2, 1.0f, a, 1, b, 2, 0.0f, c, 2);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  CHECK(threw, "lda < k was accepted");
  // So are a PackedB's, at packing (ldb) and in its products (lda, ldc). The
  // shape (48 x 128 x 128) is large enough for the weights to be packed.
  std::vector<float> A(48 * 128), B(128 * 128), C(48 * 128);
  fastmlp::PackedB<float> packed;
  const auto refused = [](const auto& call) {
    try {
      call();
    } catch (const std::invalid_argument&) {
      return true;
    }
    return false;
  };
  CHECK(refused([&] { packed.pack(Trans::No, 128, 128, B.data(), 127, 48); }),
        "PackedB: ldb < n was accepted");
  packed.pack(Trans::No, 128, 128, B.data(), 128, 48);
  CHECK(refused([&] { fastmlp::gemm(Trans::No, 48, 1.0f, A.data(), 127, packed, 0.0f, C.data(), 128); }),
        "PackedB product: lda < k was accepted");
  CHECK(refused([&] { fastmlp::gemm(Trans::No, 48, 1.0f, A.data(), 128, packed, 0.0f, C.data(), 127); }),
        "PackedB product: ldc < n was accepted");
  std::printf("kernels supported:");
  for (Kernel k : supported_kernels())
    std::printf(" %s", fastmlp::isa_name(k));
  std::printf("; gemm uses %s\n", name.c_str());
  return true;
}

}  // namespace

int main() {
  try {
    if (!test_pool() || !test_pool_workers() || !test_misc() || !test_isa()) return 1;
    if (!test_block_rows<float>() || !test_block_rows<double>()) return 1;
#if defined(FASTMLP_TEST_FORK)
    // qemu's user-mode emulation (the aarch64 cross run) does not carry a
    // threaded process through fork; that run sets FASTMLP_TEST_NO_FORK
    if (std::getenv("FASTMLP_TEST_NO_FORK") == nullptr && !test_pool_after_fork()) return 1;
#endif
    ThreadPool pool1(1), pool2(2), pool3(3), pool4(4);
    const std::vector<ThreadPool*> pools = {nullptr, &pool3, &pool1, &pool2, &pool4};
    if (!test_no_allocation<float>(&pool2) || !test_no_allocation<double>(&pool2)) return 1;
    if (!test_reserve<float>() || !test_reserve<double>()) return 1;
    if (!test_shapes<float>(pools) || !test_shapes<double>(pools)) return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FAIL: unexpected exception: %s\n", e.what());
    return 1;
  }
  std::printf("all gemm tests passed\n");
  return 0;
}
