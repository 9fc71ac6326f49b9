// Declarations of the per-instruction-set element-wise sweeps (ref.cpp,
// avx2.cpp, avx512.cpp); dispatch.cpp picks one. Include nowhere else.
#pragma once

#include <cstddef>

#include <fastmlp/activations.hpp>

namespace fastmlp::elementwise_detail {

#define FASTMLP_ELEMENTWISE_DECLARE(ns)                                            \
  namespace ns {                                                                   \
  template <class T>                                                               \
  void activate(Activation f, T* x, std::size_t count);                            \
  template <class T>                                                               \
  void activate_backward(Activation f, T* d, const T* a, std::size_t count);       \
  template <class T>                                                               \
  void exp_inplace(T* x, std::size_t count);                                       \
  }
FASTMLP_ELEMENTWISE_DECLARE(ref)
FASTMLP_ELEMENTWISE_DECLARE(avx2)
FASTMLP_ELEMENTWISE_DECLARE(avx512)
#undef FASTMLP_ELEMENTWISE_DECLARE

}  // namespace fastmlp::elementwise_detail
