// The element-wise sweeps for the "avx512" kernel (the body is variant.inc).
// Compiler flags for this file alone: -mavx512f -mfma.
#define FASTMLP_ELEMENTWISE_VARIANT avx512
#include <fastmlp/elementwise/variant.inc>
