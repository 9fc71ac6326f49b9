// The instruction sets fastmlp's kernels come in (the GEMM's micro-kernels and
// the element-wise sweeps alike), which of them this CPU and OS can run, and
// the one in use: the best supported, unless FASTMLP_GEMM_KERNEL names another.
//
// Declarations and one macro only, and no inline code: the files compiled with
// instruction-set flags include this, and must not emit shared functions.
#pragma once

// Defined on x86-64, where the AVX2 and AVX-512 kernels are built.
#if defined(__x86_64__) || defined(_M_X64)
#define FASTMLP_X86 1
#endif

namespace fastmlp {

// The instruction sets, slowest to fastest; each has its own kernel files.
enum class Isa { Ref, Avx2, Avx512 };

// Whether this build, this CPU and its OS can run `isa` (AVX2 counts with FMA;
// the OS must save the registers, XCR0). Read from cpuid once.
bool isa_supported(Isa isa) noexcept;

// "ref", "avx2" or "avx512": the names FASTMLP_GEMM_KERNEL takes.
const char* isa_name(Isa isa) noexcept;

// The instruction set every kernel uses: FASTMLP_GEMM_KERNEL's choice, else
// the best supported. Decided on the first call that succeeds;
// std::runtime_error if the variable names an unknown instruction set or one
// this machine cannot run (a forced path that quietly ran another would make
// the tests that force it meaningless).
Isa active_isa();

}  // namespace fastmlp
