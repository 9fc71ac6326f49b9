// The element-wise sweeps of impl.hpp for the "avx2" kernel. Compiler flags for
// this file alone: -mavx2 (no -mfma: the sweeps use no fused multiply-add).
#include <fastmlp/elementwise/kernels.hpp>
#include <fastmlp/elementwise/impl.hpp>

namespace fastmlp::elementwise_detail::avx2 {

template <class T>
void activate(Activation f, T* x, std::size_t count) {
  elementwise_detail::activate(f, x, count);
}
template <class T>
void activate_backward(Activation f, T* d, const T* a, std::size_t count) {
  elementwise_detail::activate_backward(f, d, a, count);
}
template <class T>
void exp_inplace(T* x, std::size_t count) {
  elementwise_detail::exp_inplace(x, count);
}

template void activate<float>(Activation, float*, std::size_t);
template void activate<double>(Activation, double*, std::size_t);
template void activate_backward<float>(Activation, float*, const float*, std::size_t);
template void activate_backward<double>(Activation, double*, const double*, std::size_t);
template void exp_inplace<float>(float*, std::size_t);
template void exp_inplace<double>(double*, std::size_t);

}  // namespace fastmlp::elementwise_detail::avx2
