// GEMM internals that tests and benchmarks reach for: run gemm, or pack a
// PackedB, with a named instruction set and a named path (which instruction
// sets this CPU runs: isa.hpp).
//
// Not for the network: it calls fastmlp::gemm (gemm.hpp), which takes the
// instruction set in use (active_isa) and picks the path by size.
#pragma once

#include <cstddef>

#include <fastmlp/gemm.hpp>
#include <fastmlp/isa.hpp>

namespace fastmlp::gemm_detail {

// The two ways through gemm: unpacked loops for small products, or the packed,
// blocked loops. Auto picks by size, as gemm does, and uses the pool only for
// large products; Tiny and Packed use the pool (if any) whatever the size.
enum class Path { Auto, Tiny, Packed };

// gemm (see gemm.hpp) with the kernels of `isa` and the given path.
// std::invalid_argument if this machine cannot run `isa` or a leading
// dimension is too small.
template <class T>
void gemm_with(Isa isa, Path path, Trans trans_a, Trans trans_b, std::size_t m,
               std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
               std::size_t ldb, T beta, T* C, std::size_t ldc, ThreadPool* pool = nullptr);

extern template void gemm_with<float>(Isa, Path, Trans, Trans, std::size_t, std::size_t,
                                      std::size_t, float, const float*, std::size_t,
                                      const float*, std::size_t, float, float*, std::size_t,
                                      ThreadPool*);
extern template void gemm_with<double>(Isa, Path, Trans, Trans, std::size_t, std::size_t,
                                       std::size_t, double, const double*, std::size_t,
                                       const double*, std::size_t, double, double*,
                                       std::size_t, ThreadPool*);

// PackedB::pack with the kernels of `isa` and the given path: Packed packs
// whatever the size, Tiny never (products then read B in place), Auto as pack
// does.
template <class T>
void pack_with(Isa isa, Path path, PackedB<T>& packed, Trans trans_b, std::size_t k,
               std::size_t n, const T* B, std::size_t ldb, std::size_t rows,
               ThreadPool* pool = nullptr);

extern template void pack_with<float>(Isa, Path, PackedB<float>&, Trans, std::size_t,
                                      std::size_t, const float*, std::size_t, std::size_t,
                                      ThreadPool*);
extern template void pack_with<double>(Isa, Path, PackedB<double>&, Trans, std::size_t,
                                       std::size_t, const double*, std::size_t, std::size_t,
                                       ThreadPool*);

}  // namespace fastmlp::gemm_detail
