// ThreadPool and default_thread_count(): see threads.hpp.
//
// One job at a time over the process-wide workers: a call publishes it,
// bumps a generation counter and wakes the workers taking part (the first
// size() - 1); everyone, the caller too, takes chunk numbers from one atomic
// counter; the caller waits for the workers to report back before it
// returns, so the job (and what it captures) outlives every use of it.
//
// The workers are never destroyed: at exit a job may still be running on a
// daemon thread, and in a forked child their mutexes may be held by threads
// that do not exist there, so the child drops them unused and starts anew.
#include <fastmlp/threads.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define FASTMLP_HAVE_ATFORK 1
#endif
#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#define FASTMLP_HAVE_MM_PAUSE 1
#endif

namespace fastmlp {

namespace {

// Set on workers, and on a caller while it runs chunks: a parallel_for from
// there must not wait for threads that are busy running its own caller.
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

// The CPUs this process may run on, at least 1, at most kMaxThreads.
int usable_cpus() {
  int n = 0;
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
#endif
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) return 1;
  return n > ThreadPool::kMaxThreads ? ThreadPool::kMaxThreads : n;
}

// `threads`, or std::invalid_argument unless 1 <= threads <= kMaxThreads.
int checked_thread_count(int threads) {
  if (threads < 1 || threads > ThreadPool::kMaxThreads)
    throw std::invalid_argument("threads must be between 1 and " +
                                std::to_string(ThreadPool::kMaxThreads) + ", got " +
                                std::to_string(threads));
  return threads;
}

using Job = std::function<void(std::size_t)>;

// --- the workers ------------------------------------------------------------------

class Workers {
 public:
  // Workers below `keep` wait for work for ever; those above exit when idle.
  explicit Workers(int keep)
      : keep_(keep), slots_(new Slot[ThreadPool::kMaxThreads - 1]) {}

  // Runs `job` over the caller and up to `helpers` workers, starting any that
  // are missing: job(0) ... job(n_chunks - 1) shared out, or, with
  // `every_thread`, job(i) once on the i-th thread taking part.
  void run(int helpers, std::size_t n_chunks, bool every_thread, const Job& job);

  int running() {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (int i = 0; i < ThreadPool::kMaxThreads - 1; ++i) n += slots_[i].running ? 1 : 0;
    return n;
  }

 private:
  struct Slot {
    std::thread thread;
    std::condition_variable wake;  // this worker's own: a job wakes only its helpers
    bool running = false;          // guarded by mu_
  };

  int start(int helpers);  // with mu_ held
  void worker_loop(int index, std::uint64_t seen);
  void run_chunks();
  void fail(std::exception_ptr e);

  const int keep_;
  const std::unique_ptr<Slot[]> slots_;  // fixed: a worker's slot never moves
  std::mutex submit_mu_;                 // one job at a time

  // The current job; written by run before it bumps generation_.
  const Job* job_ = nullptr;
  std::size_t n_chunks_ = 0;
  bool every_thread_ = false;
  std::atomic<std::size_t> next_chunk_{0};
  std::atomic<int> busy_{0};  // helpers yet to finish the current job
  std::exception_ptr error_;
  std::mutex error_mu_;

  // Wake-ups: workers spin briefly on generation_ (jobs often come in quick
  // succession), then sleep on their slot's `wake`; the caller does the same on done_.
  std::mutex mu_;
  std::condition_variable done_;
  std::atomic<std::uint64_t> generation_{0};
  int helpers_ = 0;  // workers 0 .. helpers_ - 1 take part in the current job; guarded by mu_
};

int Workers::start(int helpers) {
  int n = 0;
  for (; n < helpers; ++n) {
    Slot& slot = slots_[n];
    if (slot.running) continue;
    try {
      // Detached or never started, so assigning does not terminate.
      slot.thread = std::thread(
          [this, n, seen = generation_.load(std::memory_order_relaxed)] { worker_loop(n, seen); });
    } catch (const std::exception&) {
      break;  // the system refuses threads (or memory for them): run on those there are
    }
    slot.running = true;
  }
  return n;
}

void Workers::run(int helpers, std::size_t n_chunks, bool every_thread, const Job& job) {
  std::lock_guard<std::mutex> submit(submit_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    helpers = start(helpers);
    job_ = &job;
    n_chunks_ = every_thread ? static_cast<std::size_t>(helpers) + 1 : n_chunks;
    every_thread_ = every_thread;
    next_chunk_.store(0, std::memory_order_relaxed);
    busy_.store(helpers, std::memory_order_relaxed);
    error_ = nullptr;
    helpers_ = helpers;
    generation_.fetch_add(1, std::memory_order_release);
    for (int i = 0; i < helpers; ++i) slots_[i].wake.notify_one();
  }

  {
    InsidePool inside;
    if (every_thread) {
      try {
        job(0);
      } catch (...) {
        fail(std::current_exception());
      }
    } else {
      run_chunks();
    }
  }

  if (!spin_until([this] { return busy_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return busy_.load(std::memory_order_acquire) == 0; });
  }
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

void Workers::fail(std::exception_ptr e) {
  std::lock_guard<std::mutex> lock(error_mu_);
  if (!error_) error_ = std::move(e);
}

void Workers::run_chunks() {
  for (;;) {
    const std::size_t i = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (i >= n_chunks_) return;
    try {
      (*job_)(i);
    } catch (...) {
      fail(std::current_exception());
      next_chunk_.store(n_chunks_, std::memory_order_relaxed);  // skip the rest
    }
  }
}

void Workers::worker_loop(int index, std::uint64_t seen) {
  t_inside_pool = true;
  Slot& slot = slots_[index];
  auto last_work = std::chrono::steady_clock::now();
  bool spin = false;  // only right after a job: the next one often follows at once
  for (;;) {
    if (spin) spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mu_);
      const auto called = [&] {
        return generation_.load(std::memory_order_relaxed) != seen && index < helpers_;
      };
      if (index < keep_) {
        slot.wake.wait(lock, called);
      } else if (!slot.wake.wait_until(lock, last_work + ThreadPool::kIdleExit, called)) {
        // Idle too long: leave. Detached, the slot can take a new thread.
        slot.running = false;
        slot.thread.detach();
        return;
      }
      seen = generation_.load(std::memory_order_relaxed);
    }
    if (every_thread_) {
      try {
        (*job_)(static_cast<std::size_t>(index) + 1);
      } catch (...) {
        fail(std::current_exception());
      }
    } else {
      run_chunks();
    }
    last_work = std::chrono::steady_clock::now();
    if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);  // pairs with the caller's wait
      done_.notify_one();
    }
    spin = true;
  }
}

// --- the process-wide workers -----------------------------------------------------

// Made on first use and never destroyed; a forked child drops its copy.
std::atomic<Workers*> g_workers{nullptr};

#if defined(FASTMLP_HAVE_ATFORK)
// Runs in a forked child, whose only thread is the one that forked: the
// parent's workers are not there, and their mutexes may be held for ever.
void drop_workers_in_child() { g_workers.store(nullptr, std::memory_order_relaxed); }
std::atomic<bool> g_atfork_registered{false};  // inherited, like the handler
#endif

Workers& workers() {
  Workers* w = g_workers.load(std::memory_order_acquire);
  if (w != nullptr) return *w;
#if defined(FASTMLP_HAVE_ATFORK)
  if (!g_atfork_registered.exchange(true) &&
      pthread_atfork(nullptr, nullptr, &drop_workers_in_child) != 0) {
    g_atfork_registered.store(false);
    throw std::runtime_error("cannot register the thread pool's fork handler");
  }
#endif
  // The caller is one of the CPUs; keeping one worker even on one CPU spares
  // the common two-thread call a thread start per idle pause.
  auto made = std::make_unique<Workers>(std::max(usable_cpus() - 1, 1));
  if (g_workers.compare_exchange_strong(w, made.get(), std::memory_order_acq_rel))
    return *made.release();
  return *w;  // another thread made them first
}

}  // namespace

// --- the pool ---------------------------------------------------------------------

ThreadPool::ThreadPool(int threads) : size_(checked_thread_count(threads)) {}

void ThreadPool::parallel_for(std::size_t n_chunks, const std::function<void(std::size_t)>& f) {
  if (n_chunks == 0) return;
  if (size_ == 1 || n_chunks == 1 || t_inside_pool) {
    InsidePool inside;
    for (std::size_t i = 0; i < n_chunks; ++i) f(i);
    return;
  }
  // More helpers than chunks would only wake to find nothing left.
  const std::size_t helpers = std::min<std::size_t>(static_cast<std::size_t>(size_), n_chunks) - 1;
  workers().run(static_cast<int>(helpers), n_chunks, false, f);
}

void ThreadPool::on_every_thread(const std::function<void()>& f) {
  if (size_ == 1 || t_inside_pool) {
    f();
    return;
  }
  const auto call = [&f](std::size_t) { f(); };
  workers().run(size_ - 1, 0, true, std::cref(call));
}

// --- defaults ---------------------------------------------------------------------

namespace {

// set_default_thread_count's count; 0: none set.
std::atomic<int> g_default_threads{0};

// The positive integer in environment variable `name` (capped at kMaxThreads), else 0.
int thread_count_variable(const char* name) {
  if (const char* env = std::getenv(name)) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0)
      return n > ThreadPool::kMaxThreads ? ThreadPool::kMaxThreads : static_cast<int>(n);
  }
  return 0;
}

// The default when none is set: the variables, else the CPUs.
int natural_thread_count() {
  if (const int n = thread_count_variable("FASTMLP_NUM_THREADS")) return n;
  const int cpus = usable_cpus();
  const int omp = thread_count_variable("OMP_NUM_THREADS");
  return omp > 0 && omp < cpus ? omp : cpus;
}

}  // namespace

int default_thread_count() {
  const int set = g_default_threads.load(std::memory_order_relaxed);
  return set > 0 ? set : natural_thread_count();
}

void set_default_thread_count(int threads) {
  if (threads != 0) checked_thread_count(threads);
  g_default_threads.store(threads == natural_thread_count() ? 0 : threads, std::memory_order_relaxed);
}

ThreadPool& shared_thread_pool(int threads) {
  checked_thread_count(threads);
  // Filled as counts are asked for, never freed; constant-initialized, so a
  // forked child finds no half-made guard here.
  static std::atomic<ThreadPool*> pools[ThreadPool::kMaxThreads + 1];
  std::atomic<ThreadPool*>& slot = pools[threads];
  ThreadPool* pool = slot.load(std::memory_order_acquire);
  if (pool != nullptr) return *pool;
  auto made = std::make_unique<ThreadPool>(threads);
  if (slot.compare_exchange_strong(pool, made.get(), std::memory_order_acq_rel))
    return *made.release();
  return *pool;
}

int pool_worker_count() {
  Workers* w = g_workers.load(std::memory_order_acquire);
  return w != nullptr ? w->running() : 0;
}

}  // namespace fastmlp
