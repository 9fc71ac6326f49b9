// The library's threads: ThreadPool, which runs numbered chunks of work over
// a given number of threads, and the default thread count.
//
// A call hands out chunk numbers, the calling thread works too, and the call
// returns when every chunk is done. It is not a task queue or a scheduler: it
// never decides how work is split, so the caller can keep results independent
// of the thread count.
//
// Every ThreadPool runs on one process-wide set of worker threads, started
// when a call first needs them and grown to the most a call has asked for;
// calls from several threads take turns. Workers beyond the CPUs this process
// may use exit after kIdleExit without work. A forked child starts workers of
// its own (the parent's do not exist there). When the system refuses a new
// thread, calls run on the threads there are: the results do not change.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

namespace fastmlp {

// --- the pool ---------------------------------------------------------------------

class ThreadPool {
 public:
  // `threads` threads in all, the caller counted. Cheap: it starts nothing
  // (the workers start on first use). std::invalid_argument unless
  // 1 <= threads <= kMaxThreads.
  explicit ThreadPool(int threads);
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The most threads a pool may have: a guard against absurd requests.
  static constexpr int kMaxThreads = 1024;

  // How long a worker beyond the CPU count may wait for work before it exits.
  static constexpr std::chrono::milliseconds kIdleExit{1000};

  // The thread count the pool was made for: callers cut their work by it.
  int size() const noexcept { return size_; }

  // Calls f(0) ... f(n_chunks - 1), each exactly once, spread over the pool, and
  // returns when all have returned. The first exception a chunk throws is
  // rethrown here (chunks not yet started are then skipped). A call from inside
  // a chunk, or on a pool of size 1, runs the chunks inline in order; calls from
  // several outside threads take turns.
  void parallel_for(std::size_t n_chunks, const std::function<void(std::size_t)>& f);

  // Calls f() once on each thread that runs this pool's chunks, the caller's
  // included (to prepare per-thread state), and returns when all have
  // returned; from inside a chunk, or on a pool of size 1, once on the calling
  // thread. The first exception f throws is rethrown here, after every call
  // has returned.
  void on_every_thread(const std::function<void()>& f);

 private:
  int size_;
};

// task(0) ... task(n - 1): over `pool` when there is one with several threads
// and n > 1, else in order on the calling thread. The pool gets a
// std::function wrapping a reference to `task`, which never allocates.
template <class F>
void run_tasks(ThreadPool* pool, std::size_t n, const F& task) {
  if (pool != nullptr && pool->size() > 1 && n > 1)
    pool->parallel_for(n, std::cref(task));
  else
    for (std::size_t i = 0; i < n; ++i) task(i);
}

// --- defaults ---------------------------------------------------------------------

// The thread count of a call that names none, first of: the count set by
// set_default_thread_count (threadpoolctl's limit); FASTMLP_NUM_THREADS when it
// holds a positive integer (capped at ThreadPool::kMaxThreads); the CPUs this
// process may run on, at most OMP_NUM_THREADS when that holds a positive
// integer (joblib's process workers get their share of the cores through it,
// as OpenMP and BLAS libraries do). The variables are read at each call.
int default_thread_count();

// Sets the default thread count for the whole process (1..kMaxThreads, as
// threadpoolctl's threadpool_limits does); 0, or the count the variables and
// CPUs give, removes the setting, so restoring a saved count follows them again.
// std::invalid_argument for other values.
void set_default_thread_count(int threads);

// A ThreadPool of `threads` threads that lives as long as the process, for
// callers that hand a pointer down. Pools hold no threads of their own, so one
// per count costs a few bytes. std::invalid_argument as ThreadPool's.
ThreadPool& shared_thread_pool(int threads);

// The worker threads running now (for tests and diagnostics).
int pool_worker_count();

}  // namespace fastmlp
