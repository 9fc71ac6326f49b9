// ThreadPool, default_thread_count() and shared_thread_pool(): see threads.hpp.
//
// One job at a time: parallel_for publishes it, bumps a generation counter and
// wakes the workers; everyone (the caller too) takes chunk numbers from one
// atomic counter; the caller waits for the workers to report back before it
// returns, so the job (and what it captures) outlives every use of it.
#include <fastmlp/threads.hpp>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#define FASTMLP_HAVE_MM_PAUSE 1
#endif

namespace fastmlp {

namespace {

// Set on pool workers, and on a caller while it runs chunks: a parallel_for
// from there must not wait for threads that are busy running its own caller.
thread_local bool t_inside_pool = false;

// How long a waiting thread polls before it sleeps: long enough to catch the
// next gemm of a training step (a sleeping thread takes tens of microseconds
// to wake), short enough not to burn a core for long after the last one.
constexpr std::chrono::microseconds kSpinTime{50};

// Tells the core we are spinning (frees resources for its sibling thread).
void cpu_relax() noexcept {
#if defined(FASTMLP_HAVE_MM_PAUSE)
  _mm_pause();
#elif defined(__aarch64__) && defined(__GNUC__)
  __asm__ __volatile__("yield");
#endif
}

// Polls done() for up to kSpinTime; returns its last answer. Yields the CPU
// now and then, so that spinning costs little when threads outnumber cores.
template <class Done>
bool spin_until(const Done& done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (unsigned i = 1;; ++i) {
    if (done()) return true;
    if (i % 64 != 0) {
      cpu_relax();
    } else {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
  }
}

// Sets t_inside_pool for a scope and restores it.
class InsidePool {
 public:
  InsidePool() noexcept : saved_(t_inside_pool) { t_inside_pool = true; }
  ~InsidePool() { t_inside_pool = saved_; }

 private:
  bool saved_;
};

}  // namespace

// --- the pool ---------------------------------------------------------------------

ThreadPool::ThreadPool(int threads) {
  if (threads < 1 || threads > kMaxThreads)
    throw std::invalid_argument("threads must be between 1 and " +
                                std::to_string(kMaxThreads) + ", got " +
                                std::to_string(threads));
  workers_.reserve(static_cast<std::size_t>(threads - 1));
  try {
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this] { worker_loop(); });
  } catch (...) {
    shutdown();  // joins the workers already started
    throw;
  }
}

ThreadPool::~ThreadPool() { shutdown(); }

void ThreadPool::shutdown() noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  workers_.clear();
}

void ThreadPool::parallel_for(std::size_t n_chunks,
                              const std::function<void(std::size_t)>& f) {
  if (n_chunks == 0) return;
  if (workers_.empty() || n_chunks == 1 || t_inside_pool) {
    InsidePool inside;
    for (std::size_t i = 0; i < n_chunks; ++i) f(i);
    return;
  }

  std::lock_guard<std::mutex> submit(submit_mu_);
  job_ = &f;
  n_chunks_ = n_chunks;
  next_chunk_.store(0, std::memory_order_relaxed);
  busy_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  error_ = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();

  {
    InsidePool inside;
    run_chunks();
  }

  if (!spin_until([this] { return busy_workers_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return busy_workers_.load(std::memory_order_acquire) == 0; });
  }
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

void ThreadPool::on_every_thread(const std::function<void()>& f) {
  if (workers_.empty() || t_inside_pool) {
    f();
    return;
  }
  // One chunk per thread: a thread that has taken one waits until every chunk
  // is taken, so none can take a second. An exception waits its turn too (one
  // leaving a chunk early would let parallel_for skip the chunks not taken).
  const std::size_t n = workers_.size() + 1;
  std::atomic<std::size_t> taken{0};
  std::exception_ptr error;
  std::mutex error_mu;
  const auto chunk = [&](std::size_t) {
    taken.fetch_add(1, std::memory_order_acq_rel);
    try {
      f();
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
    }
    while (taken.load(std::memory_order_acquire) < n) std::this_thread::yield();
  };
  parallel_for(n, std::cref(chunk));
  if (error) std::rethrow_exception(error);
}

void ThreadPool::run_chunks() {
  for (;;) {
    const std::size_t i = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (i >= n_chunks_) return;
    try {
      (*job_)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu_);
      if (!error_) error_ = std::current_exception();
      next_chunk_.store(n_chunks_, std::memory_order_relaxed);  // skip the rest
    }
  }
}

void ThreadPool::worker_loop() {
  t_inside_pool = true;
  std::uint64_t seen = 0;
  for (;;) {
    spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] {
        return stop_ || generation_.load(std::memory_order_acquire) != seen;
      });
      if (stop_) return;
      seen = generation_.load(std::memory_order_acquire);
    }
    run_chunks();
    if (busy_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);  // pairs with the caller's wait
      done_.notify_one();
    }
  }
}

// --- defaults ---------------------------------------------------------------------

int default_thread_count() {
  if (const char* env = std::getenv("FASTMLP_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0)
      return n > ThreadPool::kMaxThreads ? ThreadPool::kMaxThreads : static_cast<int>(n);
  }
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n > ThreadPool::kMaxThreads ? ThreadPool::kMaxThreads : n;
  }
#endif
  const unsigned n = std::thread::hardware_concurrency();
  if (n == 0) return 1;
  return n > static_cast<unsigned>(ThreadPool::kMaxThreads) ? ThreadPool::kMaxThreads
                                                            : static_cast<int>(n);
}

// --- shared pools -----------------------------------------------------------------

ThreadPool& shared_thread_pool(int threads) {
  static std::mutex mu;
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  std::lock_guard<std::mutex> lock(mu);
  std::unique_ptr<ThreadPool>& pool = pools[threads];
  if (!pool) pool = std::make_unique<ThreadPool>(threads);
  return *pool;
}

}  // namespace fastmlp
