// The element-wise sweeps for the "avx2" kernel (the body is variant.inc).
// Compiler flags for this file alone: -mavx2 (no -mfma: the sweeps use no fused multiply-add).
#define FASTMLP_ELEMENTWISE_VARIANT avx2
#include <fastmlp/elementwise/variant.inc>
