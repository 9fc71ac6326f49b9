// The element-wise sweeps for the "avx2" kernel (the body is variant.inc).
// Compiler flags for this file alone: -mavx2 -mfma (exp's fused multiply-adds become instructions).
#define FASTMLP_ELEMENTWISE_VARIANT avx2
#include <fastmlp/elementwise/variant.inc>
