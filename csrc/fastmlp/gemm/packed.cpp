// The packed path: the five loops of a blocked GEMM, with packed blocks of
// op(A) and panels of op(B), cut into tasks for a pool step by step.
//
// Not here: when this path is taken (dispatch.cpp), the packing layout
// (pack.hpp), loops 2 and 1 (run_tiles, paths.hpp), the block sizes
// (blocking.hpp) or the micro-kernels (kernel_*.cpp).
#include <fastmlp/gemm/paths.hpp>
#include <fastmlp/threads.hpp>

namespace fastmlp::gemm_detail {
namespace {

// The compute tasks of one step: rectangles of `rows` x `cols` (multiples of MR
// and NR), at most MC x panels * NR, made narrower, then shorter, until there
// are min_tasks of them (or they are one tile).
struct TaskGrid {
  std::size_t rows, cols, n_rows, n_cols;
};

TaskGrid task_grid(std::size_t m, std::size_t n, const Blocking& bl, std::size_t panels,
                   std::size_t min_tasks) {
  std::size_t rows = min(bl.mc, round_up(m, bl.mr));
  std::size_t cols = min(panels * bl.nr, round_up(n, bl.nr));
  auto count = [&] { return ((m + rows - 1) / rows) * ((n + cols - 1) / cols); };
  while (count() < min_tasks) {
    if (rows > bl.mr)
      rows = round_up(rows / 2, bl.mr);
    else if (cols > bl.nr)
      cols = round_up(cols / 2, bl.nr);
    else
      break;
  }
  return {rows, cols, (m + rows - 1) / rows, (n + cols - 1) / cols};
}

}  // namespace

// C = alpha * op(A) op(B) + beta * C through packed panels and the micro-kernel.
// The loops, outermost first (numbered as in BLIS):
//   5 (jc)  NC-wide column panels of C and op(B)
//     (ig)  up to kRowBlocksPerStep * MC rows of C and op(A)
//   4 (pc)  the k-blocks, ascending; the first applies beta, the rest add (beta = 1)
//           A "step" is one (jc, ig, pc). Its blocks of op(A) and op(B) are
//           packed once, by tasks, into buffers every thread reads; then its
//           C is cut into compute tasks (rectangles), each running
//   3         over its rows: at most MC, one block of packed A (in L2)
//   2           over its MR-tall micro-panels of packed A (one at a time in L1)
//   1             over its NR-wide micro-panels of packed B (streamed from L2):
//                 one micro-kernel call each
// Loops 2 and 1 are swapped from BLIS's order (which keeps the B micro-panel in
// L1 and streams A): with KC = 256 the B micro-panel takes 32 KiB of the 48
// KiB L1, and keeping the smaller A micro-panel there measured ~5% faster.
//
// Loops 5, ig and 4 are walked as a flat sequence of steps so that step s + 1
// can be packed (into a second pair of buffers) in the same hand-off to the
// pool that computes step s: one hand-off per step, and the packing tasks fill
// the gaps at its end. Each element of C gets its k-blocks in order, each from
// one task, so neither the task cut nor the thread running a task changes a bit.
//
// Where each column strip of a step is computed by one task (the step's rows
// fit one task) or by consecutive tasks on one thread (no pool), the strip of
// op(B) is packed by the task itself just before its tiles (on one thread,
// into one strip buffer reused by every strip; on a pool, into the strip's own
// place in the step's panel buffer, so that no worker needs scratch of its
// own): the strip then goes from op(B) into L2 and is read from there,
// instead of making a round trip through a whole packed KC x NC panel
// (megabytes: L3 or memory) between a packing task and the compute tasks.
// That is the training's case (each of its products runs on one thread, with
// few rows: a block of a batch, or a part of dW), where the panel's round trip
// cost as much as a quarter of a wide layer's product.
template <class T>
void run_packed(const KernelSet<T>& ks, Trans trans_a, Trans trans_b, std::size_t m,
                std::size_t n, std::size_t k, T alpha, const T* A, std::size_t lda, const T* B,
                std::size_t ldb, T beta, T* C, std::size_t ldc, ThreadPool* pool) {
  const Blocking& bl = ks.blocking;
  const std::size_t mg_max = min(m, kRowBlocksPerStep * bl.mc);
  const std::size_t n_pc = (k + KC<T> - 1) / KC<T>;
  const std::size_t n_ig = (m + mg_max - 1) / mg_max;
  const std::size_t n_steps = (n + bl.nc - 1) / bl.nc * n_ig * n_pc;

  // Two buffer pairs in the calling thread's scratch: step s is computed from
  // pair s % 2 while step s + 1 is packed into the other.
  const PackedSizes sizes = packed_sizes<T>(bl, m, n, k);
  const std::size_t a_size = sizes.a, b_size = sizes.b;
  ThreadScratch<T>& scratch = thread_scratch<T>();
  T* const a_buffers = scratch.a.get(2 * a_size);
  T* const b_buffers = scratch.b.get(2 * b_size);

  // One thread runs every task, in order, and packs op(B) strip by strip into
  // one buffer that stays in L2.
  const bool sequential = pool == nullptr || pool->size() < 2;
  T* const strip_buffer = sequential ? scratch.strip.get(strip_size<T>(bl)) : nullptr;

  struct Step {
    std::size_t jc, nc, ig, mg, pc, kc;
    T* a_packed;
    T* b_packed;
    std::size_t a_parts, b_parts;  // packing tasks
    TaskGrid grid;                 // compute tasks
    bool b_in_tasks;               // compute tasks pack their strips of op(B)
  };
  auto parts = [](std::size_t values) {
    return (values + kPackTaskValues - 1) / kPackTaskValues;
  };
  auto step = [&](std::size_t s) {
    Step st;
    st.pc = s % n_pc * KC<T>;            // loop 4
    st.ig = s / n_pc % n_ig * mg_max;
    st.jc = s / (n_pc * n_ig) * bl.nc;   // loop 5
    st.kc = min(KC<T>, k - st.pc);
    st.mg = min(mg_max, m - st.ig);
    st.nc = min(bl.nc, n - st.jc);
    st.a_packed = a_buffers + s % 2 * a_size;
    st.b_packed = b_buffers + s % 2 * b_size;
    st.a_parts = parts(st.mg * st.kc);
    // One thread takes whole strips, as wide as fit in L2; a pool, narrower
    // ones, enough of them to share out.
    st.grid = sequential ? task_grid(st.mg, st.nc, bl, strip_panels<T>(bl), 1)
                         : task_grid(st.mg, st.nc, bl, kTaskPanelsB, kMinTasks);
    st.b_in_tasks = sequential || st.grid.n_rows == 1;
    st.b_parts = st.b_in_tasks ? 0 : parts(st.nc * st.kc);
    return st;
  };

  // Packing task t of a step: one part of its block of op(B), or of op(A).
  auto pack = [&](const Step& st, std::size_t t) {
    if (t < st.b_parts)
      ks.pack_b(trans_b, st.kc, st.nc, at(trans_b, B, ldb, st.pc, st.jc), ldb, st.b_packed, t,
                st.b_parts);
    else
      ks.pack_a(trans_a, st.mg, st.kc, at(trans_a, A, lda, st.ig, st.pc), lda, st.a_packed,
                t - st.b_parts, st.a_parts);
  };

  // Compute task t of a step: loops 3, 2 and 1 over one rectangle of its C.
  // When the tasks pack op(B), a strip's tasks are consecutive (t runs down
  // the rows first) and the first of them packs it.
  auto compute = [&](const Step& st, std::size_t t) {
    const TaskGrid& g = st.grid;
    const std::size_t row = st.b_in_tasks ? t % g.n_rows : t / g.n_cols;
    const std::size_t col = st.b_in_tasks ? t / g.n_rows : t % g.n_cols;
    const std::size_t i0 = row * g.rows, i1 = min(st.mg, i0 + g.rows);  // loop 3
    const std::size_t j0 = col * g.cols, j1 = min(st.nc, j0 + g.cols);
    const auto packed_a = [&](std::size_t ir, std::size_t) {
      return PanelA<T>{st.a_packed + ir * st.kc, 0};
    };
    const T step_beta = st.pc == 0 ? beta : T(1);
    T* const c = C + st.ig * ldc + st.jc;
    if (!st.b_in_tasks) {
      run_tiles(ks, st.kc, packed_a, st.b_packed, alpha, step_beta, c, ldc, i0, i1, j0, j1);
      return;
    }
    T* const strip = sequential ? strip_buffer : st.b_packed + j0 * st.kc;
    if (row == 0)
      ks.pack_b(trans_b, st.kc, j1 - j0, at(trans_b, B, ldb, st.pc, st.jc + j0), ldb, strip, 0,
                1);
    run_tiles(ks, st.kc, packed_a, strip, alpha, step_beta, c + j0, ldc, i0, i1, 0, j1 - j0);
  };

  Step current = step(0);
  run_tasks(pool, current.b_parts + current.a_parts,
            [&](std::size_t t) { pack(current, t); });
  for (std::size_t s = 0; s < n_steps; ++s) {
    const bool last = s + 1 == n_steps;
    const Step next = last ? current : step(s + 1);
    const std::size_t n_compute = current.grid.n_rows * current.grid.n_cols;
    const std::size_t n_pack = last ? 0 : next.b_parts + next.a_parts;
    run_tasks(pool, n_compute + n_pack, [&](std::size_t t) {
      if (t < n_compute)
        compute(current, t);
      else
        pack(next, t - n_compute);
    });
    current = next;
  }
}

template void run_packed<float>(const KernelSet<float>&, Trans, Trans, std::size_t,
                                std::size_t, std::size_t, float, const float*, std::size_t,
                                const float*, std::size_t, float, float*, std::size_t,
                                ThreadPool*);
template void run_packed<double>(const KernelSet<double>&, Trans, Trans, std::size_t,
                                 std::size_t, std::size_t, double, const double*, std::size_t,
                                 const double*, std::size_t, double, double*, std::size_t,
                                 ThreadPool*);

}  // namespace fastmlp::gemm_detail
