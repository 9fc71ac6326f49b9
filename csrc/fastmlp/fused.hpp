// The fused path for small networks: a batch's loss and gradient in one pass
// over its rows, for networks whose every layer is narrow (the article's
// 4-5-3, XOR, most tabular toy problems). Blocks of rows go through every
// layer, the loss and back down with their activations in a few KiB of stack,
// rows as SIMD lanes, and the weight and bias gradients are summed as they go,
// so nothing returns to memory between the steps.
//
// The same bits as gradient.cpp's general path: every product and column sum
// adds the same terms in the same order (gemm.hpp's contract: over k in
// ascending order, one fused multiply-add at a time, in k-blocks of KC rows),
// and every element-wise step is the same IEEE operation. Not taken for a
// sparse input or dropout (the general path handles them), nor for batches
// large enough that the general path splits them over a pool: the fused path
// runs on the calling thread alone, so its results do not depend on threads.
#pragma once

#include <cstddef>

#include <fastmlp/gradient.hpp>
#include <fastmlp/network.hpp>

namespace fastmlp {

// The widest layer (input, hidden or output) the fused path takes: at 32
// units a block's activations, the padded weights and their gradient sums
// still fit the kernel's stack and L1 (fused/kernel.hpp), and on 4-H-3 the
// fused path measured faster than the general one at every width up to 32
// (benchmarks/README.md, section A).
inline constexpr std::size_t kFusedMaxWidth = 32;
// The most dense layers it takes (its stack holds a block's activations of each).
inline constexpr std::size_t kFusedMaxLayers = 8;

// When batch_gradient takes the fused path: Auto, where it applies and the
// general path would not split the batch over threads; Off, never (the
// general path); On, wherever it applies, whatever the threads. Tests force
// each to compare them; FASTMLP_FUSED=auto|off|on sets the initial mode.
enum class FusedMode { Auto, Off, On };
void set_fused_mode(FusedMode mode) noexcept;
FusedMode fused_mode();

// Whether the fused path can compute this batch for this network: every
// width at most kFusedMaxWidth, at most kFusedMaxLayers layers, a dense
// input, no dropout.
template <class T>
bool fused_applies(const Network<T>& net, const Batch<T>& b) noexcept;

// Whether batch_gradient should take it, under the mode: `threaded` says the
// general path would split the batch over a pool.
template <class T>
bool fused_chosen(const Network<T>& net, const Batch<T>& b, bool threaded);

// batch_gradient's result through the fused path (fused_applies must hold):
// the loss under the network's reduction, `scale` its factor (1, or 1 over the
// rows or their weights), and the gradient in ws.grads; ws.loss_terms holds
// the rows' loss terms. `stop` is polled between k-blocks of rows; once
// raised the result is meaningless (the caller discards the batch).
template <class T>
double fused_batch_gradient(const Network<T>& net, const Batch<T>& b, Workspace<T>& ws, T scale,
                            StopFlag& stop);

}  // namespace fastmlp
