// The tiny path: products too small (or too narrow) to repay packing, run by
// the kernel's tiny routine straight from A and B, cut into tasks for a pool.
//
// Not here: when this path is taken (dispatch.cpp's auto_path), the packed
// path (packed.cpp), or the arithmetic (kernel_impl.hpp's tiny_gemm).
#include <fastmlp/gemm/paths.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp::gemm_detail {

// No packing: the kernel's tiny routine reads A and B in place, unless B
// arrives transposed, when op(B) is copied first (the path takes that case only
// for small products). With a pool, rectangles of C become tasks.
template <class T>
void run_tiny(const KernelSet<T>& ks, Trans trans_a, Trans trans_b, std::size_t m,
              std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
              std::size_t ldb, T beta, T* C, std::size_t ldc, ThreadPool* pool) {
  if (trans_b == Trans::Yes && k > 0) {
    T* copy = thread_scratch<T>().a.get(k * n);
    for (std::size_t p = 0; p < k; ++p)
      for (std::size_t j = 0; j < n; ++j) copy[p * n + j] = B[j * ldb + p];
    B = copy;
    ldb = n;
  }
  const std::size_t a_rs = trans_a == Trans::No ? lda : 1;
  const std::size_t a_cs = trans_a == Trans::No ? 1 : lda;
  if (pool == nullptr) {
    ks.tiny(m, n, k, alpha, A, a_rs, a_cs, B, ldb, beta, C, ldc);
    return;
  }
  const std::size_t row_tasks = (m + kTinyTaskRows - 1) / kTinyTaskRows;
  const std::size_t cols = row_tasks >= kMinTasks ? n : kTinyTaskCols;
  const std::size_t col_tasks = (n + cols - 1) / cols;
  run_tasks(pool, row_tasks * col_tasks, [&](std::size_t t) {
    const std::size_t i = t / col_tasks * kTinyTaskRows, j = t % col_tasks * cols;
    ks.tiny(min(kTinyTaskRows, m - i), min(cols, n - j), k, alpha, A + i * a_rs, a_rs, a_cs,
            B + j, ldb, beta, C + i * ldc + j, ldc);
  });
}

template void run_tiny<float>(const KernelSet<float>&, Trans, Trans, std::size_t, std::size_t,
                              std::size_t, float, const float*, std::size_t, const float*,
                              std::size_t, float, float*, std::size_t, ThreadPool*);
template void run_tiny<double>(const KernelSet<double>&, Trans, Trans, std::size_t,
                               std::size_t, std::size_t, double, const double*, std::size_t,
                               const double*, std::size_t, double, double*, std::size_t,
                               ThreadPool*);

}  // namespace fastmlp::gemm_detail
