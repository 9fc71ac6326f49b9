// fastmlp::activate and friends: forward to the sweeps of the instruction set
// the GEMM uses (gemm_detail::active_kernel: the best this CPU runs, or
// FASTMLP_GEMM_KERNEL's choice), so one variable forces every kernel.
#include <fastmlp/elementwise.hpp>

#include <fastmlp/elementwise/kernels.hpp>
#include <fastmlp/gemm/dispatch.hpp>

namespace fastmlp {
namespace {

using gemm_detail::Kernel;

Kernel kernel() {
  static const Kernel chosen = gemm_detail::active_kernel();
  return chosen;
}

}  // namespace

template <class T>
void activate(Activation f, T* x, std::size_t count) {
  switch (kernel()) {
    case Kernel::Avx512: return elementwise_detail::avx512::activate(f, x, count);
    case Kernel::Avx2: return elementwise_detail::avx2::activate(f, x, count);
    case Kernel::Ref: return elementwise_detail::ref::activate(f, x, count);
  }
}

template <class T>
void activate_backward(Activation f, T* d, const T* a, std::size_t count) {
  switch (kernel()) {
    case Kernel::Avx512: return elementwise_detail::avx512::activate_backward(f, d, a, count);
    case Kernel::Avx2: return elementwise_detail::avx2::activate_backward(f, d, a, count);
    case Kernel::Ref: return elementwise_detail::ref::activate_backward(f, d, a, count);
  }
}

template <class T>
void exp_inplace(T* x, std::size_t count) {
  switch (kernel()) {
    case Kernel::Avx512: return elementwise_detail::avx512::exp_inplace(x, count);
    case Kernel::Avx2: return elementwise_detail::avx2::exp_inplace(x, count);
    case Kernel::Ref: return elementwise_detail::ref::exp_inplace(x, count);
  }
}

template void activate<float>(Activation, float*, std::size_t);
template void activate<double>(Activation, double*, std::size_t);
template void activate_backward<float>(Activation, float*, const float*, std::size_t);
template void activate_backward<double>(Activation, double*, const double*, std::size_t);
template void exp_inplace<float>(float*, std::size_t);
template void exp_inplace<double>(double*, std::size_t);

}  // namespace fastmlp
