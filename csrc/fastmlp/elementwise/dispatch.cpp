// fastmlp::activate and friends: forward to the sweeps of the instruction set
// in use (active_isa, isa.hpp), the GEMM's too, so one variable forces every
// kernel.
#include <fastmlp/elementwise.hpp>

#include <fastmlp/elementwise/kernels.hpp>
#include <fastmlp/isa.hpp>

namespace fastmlp {

template <class T>
void activate(Activation f, T* x, std::size_t count) {
  switch (active_isa()) {
    case Isa::Avx512: return elementwise_detail::avx512::activate(f, x, count);
    case Isa::Avx2: return elementwise_detail::avx2::activate(f, x, count);
    case Isa::Ref: return elementwise_detail::ref::activate(f, x, count);
  }
}

template <class T>
void activate_backward(Activation f, T* d, const T* a, std::size_t count) {
  switch (active_isa()) {
    case Isa::Avx512: return elementwise_detail::avx512::activate_backward(f, d, a, count);
    case Isa::Avx2: return elementwise_detail::avx2::activate_backward(f, d, a, count);
    case Isa::Ref: return elementwise_detail::ref::activate_backward(f, d, a, count);
  }
}

template <class T>
void exp_inplace(T* x, std::size_t count) {
  switch (active_isa()) {
    case Isa::Avx512: return elementwise_detail::avx512::exp_inplace(x, count);
    case Isa::Avx2: return elementwise_detail::avx2::exp_inplace(x, count);
    case Isa::Ref: return elementwise_detail::ref::exp_inplace(x, count);
  }
}

template void activate<float>(Activation, float*, std::size_t);
template void activate<double>(Activation, double*, std::size_t);
template void activate_backward<float>(Activation, float*, const float*, std::size_t);
template void activate_backward<double>(Activation, double*, const double*, std::size_t);
template void exp_inplace<float>(float*, std::size_t);
template void exp_inplace<double>(double*, std::size_t);

}  // namespace fastmlp
