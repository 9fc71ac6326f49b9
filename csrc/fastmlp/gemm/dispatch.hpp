// GEMM internals that tests and benchmarks reach for: run gemm, or pack a
// PackedB, with a named kernel and a named path, and ask which kernels this
// CPU supports.
//
// Not for the network: it calls fastmlp::gemm (gemm.hpp), which picks the
// kernel once at start-up and the path by size.
#pragma once

#include <cstddef>

#include <fastmlp/gemm.hpp>

namespace fastmlp::gemm_detail {

// The micro-kernel families, slowest to fastest.
enum class Kernel { Ref, Avx2, Avx512 };

// The two ways through gemm: unpacked loops for small products, or the packed,
// blocked loops. Auto picks by size, as gemm does, and uses the pool only for
// large products; Tiny and Packed use the pool (if any) whatever the size.
enum class Path { Auto, Tiny, Packed };

// Whether this build and this CPU (and OS) can run `kernel`.
bool kernel_supported(Kernel kernel) noexcept;

// "ref", "avx2" or "avx512".
const char* kernel_name(Kernel kernel) noexcept;

// The kernel gemm uses: FASTMLP_GEMM_KERNEL's choice, else the best supported.
// Decided on the first call; std::runtime_error if the variable names an
// unknown or unsupported kernel (see dispatch.cpp).
Kernel active_kernel();

// gemm (see gemm.hpp) with the given kernel and path. std::invalid_argument if
// the kernel is not supported here or a leading dimension is too small.
template <class T>
void gemm_with(Kernel kernel, Path path, Trans trans_a, Trans trans_b, std::size_t m,
               std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
               std::size_t ldb, T beta, T* C, std::size_t ldc, ThreadPool* pool = nullptr);

extern template void gemm_with<float>(Kernel, Path, Trans, Trans, std::size_t, std::size_t,
                                      std::size_t, float, const float*, std::size_t,
                                      const float*, std::size_t, float, float*, std::size_t,
                                      ThreadPool*);
extern template void gemm_with<double>(Kernel, Path, Trans, Trans, std::size_t, std::size_t,
                                       std::size_t, double, const double*, std::size_t,
                                       const double*, std::size_t, double, double*,
                                       std::size_t, ThreadPool*);

// PackedB::pack with the given kernel and path: Packed packs whatever the
// size, Tiny never (products then read B in place), Auto as pack does.
template <class T>
void pack_with(Kernel kernel, Path path, PackedB<T>& packed, Trans trans_b, std::size_t k,
               std::size_t n, const T* B, std::size_t ldb, std::size_t rows,
               ThreadPool* pool = nullptr);

extern template void pack_with<float>(Kernel, Path, PackedB<float>&, Trans, std::size_t,
                                      std::size_t, const float*, std::size_t, std::size_t,
                                      ThreadPool*);
extern template void pack_with<double>(Kernel, Path, PackedB<double>&, Trans, std::size_t,
                                       std::size_t, const double*, std::size_t, std::size_t,
                                       ThreadPool*);

}  // namespace fastmlp::gemm_detail
