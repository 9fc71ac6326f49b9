// The fused kernel for the "avx512" instruction set (the body is variant.inc).
// Compiler flags for this file alone: -mavx512f -mfma.
#define FASTMLP_FUSED_VARIANT avx512
#include <fastmlp/fused/variant.inc>
