// A fixed pool of worker threads that runs numbered chunks of work, the
// default thread count, and the process-wide pools the library shares.
//
// The threads are created once and reused; a call hands out chunk numbers, the
// calling thread works too, and the call returns when every chunk is done. It
// is not a task queue or a scheduler: it never decides how work is split, so
// the caller can keep results independent of the thread count.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fastmlp {

// --- the pool ---------------------------------------------------------------------

class ThreadPool {
 public:
  // A pool of `threads` threads in all, the caller counted: threads - 1 workers
  // are started now. std::invalid_argument unless 1 <= threads <= kMaxThreads.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // The most threads a pool may have: a guard against absurd requests.
  static constexpr int kMaxThreads = 1024;

  // The number of threads that run chunks, the caller included.
  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  // Calls f(0) ... f(n_chunks - 1), each exactly once, spread over the pool, and
  // returns when all have returned. The first exception a chunk throws is
  // rethrown here (chunks not yet started are then skipped). A call from inside
  // a chunk, or on a pool of size 1, runs the chunks inline in order; calls from
  // several outside threads take turns.
  void parallel_for(std::size_t n_chunks, const std::function<void(std::size_t)>& f);

  // Calls f() once on each of the pool's threads, the caller's included (to
  // prepare per-thread state), and returns when all have returned; from inside
  // a chunk, or on a pool of size 1, once on the calling thread. The first
  // exception f throws is rethrown here, after every call has returned.
  void on_every_thread(const std::function<void()>& f);

 private:
  void worker_loop();
  void shutdown() noexcept;  // stops and joins the workers
  void run_chunks();  // takes chunk numbers until none are left

  std::vector<std::thread> workers_;
  std::mutex submit_mu_;  // one parallel_for at a time

  // The current job; written by parallel_for before it bumps generation_.
  const std::function<void(std::size_t)>* job_ = nullptr;
  std::size_t n_chunks_ = 0;
  std::atomic<std::size_t> next_chunk_{0};
  std::atomic<int> busy_workers_{0};  // workers yet to finish the current job
  std::exception_ptr error_;
  std::mutex error_mu_;

  // Wake-ups: workers spin briefly on generation_ (jobs often come in quick
  // succession), then sleep on wake_; the caller does the same on done_.
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<std::uint64_t> generation_{0};
  bool stop_ = false;  // guarded by mu_
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

// FASTMLP_NUM_THREADS when it holds a positive integer (capped at
// ThreadPool::kMaxThreads), else the number of CPUs this process may run on.
int default_thread_count();

// The process-wide pool of `threads` threads, created on first use and kept:
// fits and predicts share pools instead of starting threads per call.
ThreadPool& shared_thread_pool(int threads);

}  // namespace fastmlp
