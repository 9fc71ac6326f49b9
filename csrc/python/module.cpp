// fastmlp._core: the pybind11 module, the only code that knows Python.
//
// Arrays arrive as C-contiguous arrays of the network's dtype with noconvert(),
// so a conforming array is read in place and anything else is refused here;
// conversion happens once, visibly, in the Python layer. The GIL is released
// while C++ works, and long runs poll for Ctrl-C.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <iostream>
#include <shared_mutex>
#include <sstream>
#include <stdexcept>
#include <string>

#include <fastmlp/gemm.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/threads.hpp>
#include <fastmlp/train.hpp>

#include "cli.hpp"

namespace py = pybind11;
using namespace fastmlp;

namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style>;

// --- arrays <-> views -----------------------------------------------------------------

template <class T>
ConstMatrixView<T> view_of(const Array<T>& a, const char* name) {
  if (a.ndim() != 2)
    throw std::invalid_argument(std::string(name) + " must be 2-D; got " +
                                std::to_string(a.ndim()) + "-D");
  return {a.data(), static_cast<std::size_t>(a.shape(0)), static_cast<std::size_t>(a.shape(1))};
}

template <class T>
MatrixView<T> mutable_view_of(Array<T>& a, const char* name) {
  if (!a.writeable()) throw std::invalid_argument(std::string(name) + " is read-only");
  ConstMatrixView<T> v = view_of(a, name);
  return {a.mutable_data(), v.rows, v.cols};
}

// A NumPy view of `count` elements at `data`, shaped (rows, cols), that keeps
// `owner` alive.
template <class T>
py::array_t<T> numpy_view(T* data, std::size_t rows, std::size_t cols, py::handle owner) {
  return py::array_t<T>({rows, cols}, {cols * sizeof(T), sizeof(T)}, data, owner);
}

// A StopCheck that takes the GIL and asks Python whether a signal (Ctrl-C)
// arrived; the error it leaves set is raised when the fit returns.
StopCheck python_signal_check() {
  return [] {
    py::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
  };
}

// --- the network ------------------------------------------------------------------------

// A network plus the lock that keeps a fit from running beside another fit or
// a predict on the same network (from another Python thread): that raises
// RuntimeError instead of racing.
template <class T>
struct PyNetwork {
  Network<T> net;
  mutable std::shared_mutex busy;

  std::unique_lock<std::shared_mutex> lock_for_fit() {
    std::unique_lock<std::shared_mutex> lock(busy, std::try_to_lock);
    if (!lock.owns_lock())
      throw std::runtime_error("the network is in use by another thread (fit or predict)");
    return lock;
  }
  std::shared_lock<std::shared_mutex> lock_for_predict() const {
    std::shared_lock<std::shared_mutex> lock(busy, std::try_to_lock);
    if (!lock.owns_lock())
      throw std::runtime_error("the network is being trained by another thread");
    return lock;
  }
};

template <class T>
void bind_network(py::module_& m, const char* name) {
  using Net = PyNetwork<T>;
  py::class_<Net>(m, name, "A dense network's C++ storage; use fastmlp.Network.")
      .def(py::init([](std::vector<std::size_t> sizes, const std::vector<std::string>& activations,
                       const std::string& loss, const std::string& reduction, double leaky_slope) {
             std::vector<Activation> layers;
             for (std::size_t l = 0; l < activations.size(); ++l) {
               const bool last = l + 1 == activations.size();
               layers.push_back(activation_from_name(activations[l], last ? "output" : "activation",
                                                     last));
             }
             return new Net{Network<T>(std::move(sizes), std::move(layers), loss_from_name(loss),
                                       reduction_from_name(reduction), leaky_slope),
                            {}};
           }),
           py::arg("sizes"), py::arg("activations"), py::arg("loss"), py::arg("reduction"),
           py::arg("leaky_slope"))
      .def_property_readonly("sizes", [](const Net& self) { return self.net.sizes(); })
      .def_property_readonly("activations", [](const Net& self) {
             std::vector<std::string> names;
             for (std::size_t l = 0; l < self.net.n_layers(); ++l)
               names.emplace_back(activation_name(self.net.activation(l)));
             return names;
           })
      .def_property_readonly("loss", [](const Net& self) { return loss_name(self.net.loss()); })
      .def_property_readonly("reduction",
                             [](const Net& self) { return reduction_name(self.net.reduction()); })
      .def_property_readonly("leaky_slope", [](const Net& self) { return self.net.leaky_slope(); })
      .def("initialize", [](Net& self, const std::string& init, std::uint64_t seed) {
             auto lock = self.lock_for_fit();
             self.net.initialize(init_from_name(init), seed);
           }, py::arg("init"), py::arg("seed"))
      .def("weight", [](py::object self_obj, std::size_t l) {
             Net& self = self_obj.cast<Net&>();
             if (l >= self.net.n_layers()) throw py::index_error("layer index out of range");
             MatrixView<T> w = self.net.weight(l);
             return numpy_view(w.data, w.rows, w.cols, self_obj);
           }, py::arg("layer"))
      .def("bias", [](py::object self_obj, std::size_t l) {
             Net& self = self_obj.cast<Net&>();
             if (l >= self.net.n_layers()) throw py::index_error("layer index out of range");
             return py::array_t<T>({self.net.sizes()[l + 1]}, {sizeof(T)}, self.net.bias(l),
                                   self_obj);
           }, py::arg("layer"))
      .def("fit", [](Net& self, const Array<T>& X, const Array<T>& Y, std::uint64_t epochs,
                     double learning_rate, std::size_t batch_size, bool shuffle,
                     std::uint64_t seed, std::uint64_t first_epoch, int threads) {
             const ConstMatrixView<T> x = view_of(X, "X"), y = view_of(Y, "Y");
             FitOptions options;
             options.epochs = epochs;
             options.learning_rate = learning_rate;
             options.batch_size = batch_size;
             options.shuffle = shuffle;
             options.seed = seed;
             options.first_epoch = first_epoch;
             options.threads = threads;
             FitResult result;
             {
               py::gil_scoped_release release;
               auto lock = self.lock_for_fit();
               result = fit(self.net, x, y, options, python_signal_check());
             }
             if (result.stopped) throw py::error_already_set();
             return py::array_t<double>(result.loss.size(), result.loss.data());
           }, py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("epochs"),
           py::arg("learning_rate"), py::arg("batch_size"), py::arg("shuffle"), py::arg("seed"),
           py::arg("first_epoch"), py::arg("threads"),
           "Train in place; returns the loss of every epoch (before its update).")
      .def("predict", [](const Net& self, py::handle X, py::handle out, py::handle threads)
               -> py::object {
             // The common case, checked here without a detour through Python:
             // X a C-contiguous non-empty 2-D array of the dtype, out None or
             // such an array of the right shape, threads None or an int. Any
             // other case returns None and the Python layer converts or explains.
             if (!py::isinstance<Array<T>>(X) || (!out.is_none() && !py::isinstance<Array<T>>(out)) ||
                 (!threads.is_none() && !PyLong_CheckExact(threads.ptr())))
               return py::none();
             const auto x_array = py::reinterpret_borrow<Array<T>>(X);
             if (x_array.ndim() != 2 || x_array.shape(0) == 0 || x_array.shape(1) == 0)
               return py::none();
             const ConstMatrixView<T> x = view_of(x_array, "X");
             const py::ssize_t rows = x_array.shape(0);
             const auto cols = static_cast<py::ssize_t>(self.net.n_outputs());
             Array<T> result;
             if (out.is_none()) {
               result = Array<T>({rows, cols});
             } else {
               result = py::reinterpret_borrow<Array<T>>(out);
               if (result.ndim() != 2 || result.shape(0) != rows || result.shape(1) != cols ||
                   !result.writeable())
                 return py::none();
             }
             static const int default_threads = default_thread_count();
             long n_threads = default_threads;
             if (!threads.is_none()) {
               n_threads = PyLong_AsLong(threads.ptr());
               if (n_threads < 1 || n_threads > ThreadPool::kMaxThreads) {
                 PyErr_Clear();  // an overflow leaves an error set
                 return py::none();
               }
             }
             ThreadPool* pool = n_threads > 1 ? &shared_thread_pool(int(n_threads)) : nullptr;
             const MatrixView<T> o(result.mutable_data(), x.rows, self.net.n_outputs());
             auto run = [&] {
               auto lock = self.lock_for_predict();
               self.net.predict(x, o, pool);
             };
             // Releasing the GIL costs more than a small prediction takes.
             if (x.rows * self.net.n_params() < (std::size_t(1) << 16)) {
               run();
             } else {
               py::gil_scoped_release release;
               run();
             }
             return std::move(result);
           }, py::arg("X"), py::arg("out"), py::arg("threads"),
           "The outputs for X, or None when the arguments need converting or checking.")
      .def("loss_and_gradient", [](const Net& self, const Array<T>& X, const Array<T>& Y) {
             const ConstMatrixView<T> x = view_of(X, "X"), y = view_of(Y, "Y");
             check_fit_inputs(self.net, x, y);
             Workspace<T> ws(self.net, x.rows, false);
             const double loss = loss_and_gradient(self.net, x, y, ws);
             return py::make_tuple(loss, py::array_t<T>(ws.grads.size(), ws.grads.data()));
           }, py::arg("X").noconvert(), py::arg("Y").noconvert(),
           "The loss on (X, Y) and its gradient, laid out as the flat parameters.");
}

// --- dense operations, exposed for tests ------------------------------------------------

template <class T>
void bind_dense_ops(py::module_& m) {
  m.def("gemm", [](bool trans_a, bool trans_b, T alpha, const Array<T>& A, const Array<T>& B,
                   T beta, Array<T>& C) {
          const ConstMatrixView<T> a = view_of(A, "A"), b = view_of(B, "B");
          const MatrixView<T> c = mutable_view_of(C, "C");
          const std::size_t m_ = trans_a ? a.cols : a.rows, k = trans_a ? a.rows : a.cols;
          const std::size_t kb = trans_b ? b.cols : b.rows, n = trans_b ? b.rows : b.cols;
          if (k != kb || c.rows != m_ || c.cols != n)
            throw std::invalid_argument("gemm: shapes do not match");
          py::gil_scoped_release release;
          gemm(Trans(trans_a), Trans(trans_b), m_, n, k, alpha, a.data, a.stride, b.data,
               b.stride, beta, c.data, c.stride);
        }, py::arg("trans_a"), py::arg("trans_b"), py::arg("alpha"), py::arg("A").noconvert(),
        py::arg("B").noconvert(), py::arg("beta"), py::arg("C").noconvert(),
        "C = alpha * op(A) @ op(B) + beta * C, in place.");
  m.def("dense_forward", [](const Array<T>& X, const Array<T>& W, const Array<T>& b,
                            const std::string& activation, double leaky_slope) {
          const ConstMatrixView<T> x = view_of(X, "X"), w = view_of(W, "W");
          if (x.cols != w.rows || b.ndim() != 1 || std::size_t(b.shape(0)) != w.cols)
            throw std::invalid_argument("dense_forward: shapes do not match");
          Array<T> A({x.rows, w.cols});
          Activation f = activation_from_name(activation, "activation", true);
          f.slope = leaky_slope;
          dense_forward(mutable_view_of(A, "A"), x, w, b.data(), f);
          return A;
        }, py::arg("X").noconvert(), py::arg("W").noconvert(), py::arg("b").noconvert(),
        py::arg("activation"), py::arg("leaky_slope") = Activation::kDefaultSlope,
        "activation(X @ W + b); leaky_relu's slope is leaky_slope.");
  m.def("dense_backward", [](const Array<T>& dZ, const Array<T>& X, const Array<T>& W) {
          const ConstMatrixView<T> dz = view_of(dZ, "dZ"), x = view_of(X, "X"),
                                   w = view_of(W, "W");
          if (x.cols != w.rows || dz.cols != w.cols || dz.rows != x.rows)
            throw std::invalid_argument("dense_backward: shapes do not match");
          Array<T> dX({x.rows, x.cols}), dW({w.rows, w.cols}), db(w.cols);
          dense_backward(mutable_view_of(dX, "dX"), mutable_view_of(dW, "dW"),
                         db.mutable_data(), dz, x, w);
          return py::make_tuple(dX, dW, db);
        }, py::arg("dZ").noconvert(), py::arg("X").noconvert(), py::arg("W").noconvert(),
        "(dZ @ W.T, X.T @ dZ, dZ.sum(axis=0)).");
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastmlp's C++ core; the public API is the fastmlp package.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const OutOfMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    }
  });
  bind_network<double>(m, "Network64");
  bind_network<float>(m, "Network32");
  bind_dense_ops<double>(m);
  bind_dense_ops<float>(m);
  m.def("gemm_kernel", &gemm_kernel_name, "The GEMM micro-kernel in use.");
  m.def("default_threads", &default_thread_count,
        "FASTMLP_NUM_THREADS if set, else the CPUs this process may use.");
  m.def("cli_main", [](const std::vector<std::string>& args, const std::string& data_dir) {
          cli::Environment env;
          env.data_dir = data_dir;
          bool interrupted = false;
          env.should_stop = [&interrupted] {
            py::gil_scoped_acquire gil;
            interrupted = interrupted || PyErr_CheckSignals() != 0;
            return interrupted;
          };
          int status;
          {
            py::gil_scoped_release release;
            status = cli::run(args, std::cout, std::cerr, env);
            std::cout.flush();
          }
          if (interrupted) PyErr_Clear();
          return status;
        }, py::arg("args"), py::arg("data_dir"),
        "Run the fastmlp command line; returns its exit status.");
}
