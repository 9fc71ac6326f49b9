// Vectorised element-wise passes over contiguous arrays: the activations'
// forward and backward sweeps, compiled once per instruction set (like the
// GEMM kernels) and run with the instruction set the GEMM uses (isa.hpp).
//
// Every variant does the same IEEE operations in the same order on each
// element (fused multiply-adds only where written; the project's
// own exp), so results are bit-identical across instruction sets, compilers
// and C libraries.
#pragma once

#include <cstddef>

namespace fastmlp {

struct Activation;  // activations.hpp

// x[i] = f(x[i]) for i < count; f is not softmax (that works on rows).
template <class T>
void activate(Activation f, T* x, std::size_t count);

// d[i] *= f'(z) for i < count, with f' computed from a[i] = f(z); not softmax.
template <class T>
void activate_backward(Activation f, T* d, const T* a, std::size_t count);

// x[i] = exp(x[i]) for i < count: the project's exp (see elementwise/impl.hpp).
template <class T>
void exp_inplace(T* x, std::size_t count);

}  // namespace fastmlp
