// fastmlp._core: the pybind11 module, the only code that knows Python.
//
// Arrays arrive as C-contiguous arrays of the network's dtype with noconvert(),
// so a conforming array is read in place and anything else is refused here;
// conversion happens once, visibly, in the Python layer. The GIL is released
// while C++ works, and long runs poll for Ctrl-C.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include <fastmlp/gemm.hpp>
#include <fastmlp/io_csv.hpp>
#include <fastmlp/io_file.hpp>
#include <fastmlp/io_safetensors.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/optim.hpp>
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

// `a` as a C-contiguous array of T with `ndim` dimensions, or ValueError: the
// Python layer has converted it already, so anything else is a mistake there.
template <class T>
Array<T> array_arg(py::handle a, const char* name, py::ssize_t ndim) {
  if (!py::isinstance<Array<T>>(a) || py::reinterpret_borrow<py::array>(a).ndim() != ndim)
    throw std::invalid_argument(std::string(name) + " must be a C-contiguous " +
                                std::to_string(ndim) + "-D array of the network's dtype");
  return py::reinterpret_borrow<Array<T>>(a);
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

// A network plus the lock that keeps a fit from running beside anything else
// on the same network from another Python thread: a second fit, initialize or
// reset_optimizer (writers), or predict, loss_and_gradient, save and to_bytes
// (readers, which may run side by side). That raises RuntimeError at once
// instead of racing or waiting.
// A fit's callback may predict: its thread is recorded while the callback
// runs, between epochs, when the parameters hold still.
template <class T>
struct PyNetwork {
  Network<T> net;
  mutable std::shared_mutex busy;
  Optimizer<T> optimizer;  // its state carries over from one fit to the next
  std::atomic<std::thread::id> callback_thread{};

  std::unique_lock<std::shared_mutex> lock_for_fit() {
    std::unique_lock<std::shared_mutex> lock(busy, std::try_to_lock);
    if (!lock.owns_lock())
      throw std::runtime_error("the network is in use by another thread (fit or predict)");
    return lock;
  }
  std::shared_lock<std::shared_mutex> lock_for_predict() const {
    std::shared_lock<std::shared_mutex> lock(busy, std::try_to_lock);
    if (!lock.owns_lock() && callback_thread.load() != std::this_thread::get_id())
      throw std::runtime_error("the network is being trained by another thread");
    return lock;
  }
};

// An EpochCallback that calls the Python callable `fn(epoch, logs)` with the
// GIL taken only then; a Python exception is left set, `failed` raised, and the
// fit stopped. Returning False stops the fit too.
template <class T>
EpochCallback python_callback(PyNetwork<T>& self, py::handle fn, bool validating,
                              const std::string& score_key, bool& failed) {
  return [&self, fn, validating, score_key, &failed](const EpochLog& log) {
    py::gil_scoped_acquire gil;
    self.callback_thread = std::this_thread::get_id();
    bool go_on = false;
    try {
      py::dict logs;
      logs["loss"] = log.loss;
      logs["learning_rate"] = log.learning_rate;
      if (validating) {
        logs["val_loss"] = log.val_loss;
        logs[py::str(score_key)] = log.val_score;
      }
      const py::object answer = fn(log.epoch, logs);
      go_on = !(py::isinstance<py::bool_>(answer) && !answer.cast<bool>());
    } catch (py::error_already_set& e) {
      e.restore();
      failed = true;
    }
    self.callback_thread = std::thread::id();
    return go_on;
  };
}

// A new float64 array holding v's values.
py::array_t<double> to_numpy(const std::vector<double>& v) {
  return py::array_t<double>(static_cast<py::ssize_t>(v.size()), v.data());
}

// --- fit options ----------------------------------------------------------------------

void bind_fit_options(py::module_& m) {
  py::class_<FitOptions>(m, "FitOptions", "fastmlp::FitOptions: every option of a fit.")
      .def(py::init<>())
      .def_readwrite("epochs", &FitOptions::epochs)
      .def_readwrite("learning_rate", &FitOptions::learning_rate)
      .def_readwrite("batch_size", &FitOptions::batch_size)
      .def_readwrite("shuffle", &FitOptions::shuffle)
      .def_readwrite("seed", &FitOptions::seed)
      .def_readwrite("first_epoch", &FitOptions::first_epoch)
      .def_readwrite("threads", &FitOptions::threads)
      .def_property("optimizer",
                    [](const FitOptions& o) { return optimizer_name(o.optimizer.kind); },
                    [](FitOptions& o, const std::string& name) {
                      o.optimizer.kind = optimizer_from_name(name);
                    })
      .def_property("momentum", [](const FitOptions& o) { return o.optimizer.momentum; },
                    [](FitOptions& o, double v) { o.optimizer.momentum = v; })
      .def_property("nesterov", [](const FitOptions& o) { return o.optimizer.nesterov; },
                    [](FitOptions& o, bool v) { o.optimizer.nesterov = v; })
      .def_property("beta1", [](const FitOptions& o) { return o.optimizer.beta1; },
                    [](FitOptions& o, double v) { o.optimizer.beta1 = v; })
      .def_property("beta2", [](const FitOptions& o) { return o.optimizer.beta2; },
                    [](FitOptions& o, double v) { o.optimizer.beta2 = v; })
      .def_property("eps", [](const FitOptions& o) { return o.optimizer.eps; },
                    [](FitOptions& o, double v) { o.optimizer.eps = v; })
      .def_property("weight_decay", [](const FitOptions& o) { return o.optimizer.weight_decay; },
                    [](FitOptions& o, double v) { o.optimizer.weight_decay = v; })
      .def_property("schedule",
                    [](const FitOptions& o) { return schedule_name(o.schedule.kind); },
                    [](FitOptions& o, const std::string& name) {
                      o.schedule.kind = schedule_from_name(name);
                    })
      .def_property("step_size", [](const FitOptions& o) { return o.schedule.step_size; },
                    [](FitOptions& o, std::uint64_t v) { o.schedule.step_size = v; })
      .def_property("gamma", [](const FitOptions& o) { return o.schedule.gamma; },
                    [](FitOptions& o, double v) { o.schedule.gamma = v; })
      .def_property("power_t", [](const FitOptions& o) { return o.schedule.power_t; },
                    [](FitOptions& o, double v) { o.schedule.power_t = v; })
      .def_property("lr_min", [](const FitOptions& o) { return o.schedule.lr_min; },
                    [](FitOptions& o, double v) { o.schedule.lr_min = v; })
      .def_readwrite("l2", &FitOptions::l2)
      .def_readwrite("clip_norm", &FitOptions::clip_norm)
      .def_readwrite("early_stopping", &FitOptions::early_stopping)
      .def_readwrite("tol", &FitOptions::tol)
      .def_readwrite("stop_on_divergence", &FitOptions::stop_on_divergence);
}

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
           }, "Each dense layer's activation, by name.")
      .def_property_readonly("loss", [](const Net& self) { return loss_name(self.net.loss()); })
      .def_property_readonly("reduction",
                             [](const Net& self) { return reduction_name(self.net.reduction()); })
      .def_property_readonly("leaky_slope", [](const Net& self) { return self.net.leaky_slope(); })
      .def("to_bytes", [](const Net& self, const Metadata& extra) {
             std::string bytes;
             {
               py::gil_scoped_release release;
               auto lock = self.lock_for_predict();
               bytes = to_safetensors(self.net, extra);
             }
             return py::bytes(bytes);
           }, py::arg("extra"), "The model file's bytes, with `extra` in its metadata.")
      .def("save", [](const Net& self, const std::string& path, const Metadata& extra) {
             py::gil_scoped_release release;
             auto lock = self.lock_for_predict();
             save(self.net, path, extra);
           }, py::arg("path"), py::arg("extra"),
           "Write the model file at `path` atomically, with `extra` in its metadata.")
      .def("initialize", [](Net& self, const std::string& init, std::uint64_t seed) {
             auto lock = self.lock_for_fit();
             self.net.initialize(init_from_name(init), seed);
             self.optimizer.reset();
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
      .def("fit", [](Net& self, const Array<T>& X, const Array<T>& Y, py::handle sample_weight,
                     py::handle X_val, py::handle Y_val, const FitOptions& options,
                     py::handle callback, std::size_t callback_every, py::handle progress,
                     double progress_seconds) {
             FitData<T> data;
             data.X = view_of(X, "X");
             data.Y = view_of(Y, "Y");
             Array<T> w, xv, yv;  // hold the optional arrays while C++ reads them
             if (!sample_weight.is_none()) {
               w = array_arg<T>(sample_weight, "sample_weight", 1);
               if (static_cast<std::size_t>(w.shape(0)) != data.X.rows)
                 throw std::invalid_argument("sample_weight has " + std::to_string(w.shape(0)) +
                                             " entries but X has " + std::to_string(data.X.rows) +
                                             " rows");
               data.sample_weight = w.data();
             }
             if (!X_val.is_none()) {
               xv = array_arg<T>(X_val, "X_val", 2);
               yv = array_arg<T>(Y_val, "Y_val", 2);
               data.X_val = view_of(xv, "X_val");
               data.Y_val = view_of(yv, "Y_val");
             }
             const bool validating = !X_val.is_none();
             const std::string score_key =
                 std::string("val_") + validation_score_name(self.net.activation(self.net.n_layers() - 1));
             bool failed = false;
             FitHooks hooks;
             hooks.should_stop = python_signal_check();
             if (!callback.is_none())
               hooks.callback = python_callback(self, callback, validating, score_key, failed);
             hooks.callback_every = callback_every;
             if (!progress.is_none())
               hooks.progress = python_callback(self, progress, validating, score_key, failed);
             hooks.progress_seconds = progress_seconds;
             FitResult result;
             std::string diverged;
             {
               py::gil_scoped_release release;
               auto lock = self.lock_for_fit();
               try {
                 result = fit(self.net, data, options, self.optimizer, hooks);
               } catch (const Diverged& e) {
                 result = e.result();
                 diverged = e.what();
               }
             }
             py::dict out;
             // Ctrl-C or a callback's exception: handed back, raised by the
             // Python layer once the completed epochs are in the history
             out["exception"] = py::none();
             if (result.stopped || failed) {
               const py::error_already_set error;
               if (error.trace()) PyException_SetTraceback(error.value().ptr(), error.trace().ptr());
               out["exception"] = error.value();
             }
             out["loss"] = to_numpy(result.loss);
             out["learning_rate"] = to_numpy(result.learning_rate);
             if (validating) {
               out["val_loss"] = to_numpy(result.val_loss);
               out[py::str(score_key)] = to_numpy(result.val_score);
             }
             const bool restored = options.early_stopping > 0 && result.epochs > 0 && diverged.empty() &&
                                   !result.stopped;
             out["best_epoch"] = restored
                                     ? py::object(py::int_(result.best_epoch)) : py::object(py::none());
             out["early_stopped"] = result.early_stopped;
             out["stopped_by_callback"] = result.stopped_by_callback;
             out["diverged"] = diverged.empty() ? py::object(py::none()) : py::object(py::str(diverged));
             return out;
           }, py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("sample_weight"),
           py::arg("X_val"), py::arg("Y_val"), py::arg("options"), py::arg("callback"),
           py::arg("callback_every"), py::arg("progress"), py::arg("progress_seconds"),
           "Train in place; returns the figures of every epoch and how the fit ended.")
      .def("reset_optimizer", [](Net& self) {
             auto lock = self.lock_for_fit();
             self.optimizer.reset();
           }, "Forget the optimiser's state (velocity, moments, step count).")
      .def_property_readonly("optimizer_steps", [](const Net& self) { return self.optimizer.steps(); },
                             "Steps the optimiser's state has taken since it began.")
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
             // Rows go in chunks of about 2^28 multiply-adds (a few ms on a
             // few cores), with a check for Ctrl-C between chunks. A row's
             // result does not depend on the chunk it is in; each chunk packs
             // the weights afresh, so chunks are not made smaller.
             const std::size_t per_chunk =
                 std::max<std::size_t>((std::size_t(1) << 28) / self.net.n_params(), 1);
             const StopCheck interrupted = python_signal_check();
             auto run = [&] {
               auto lock = self.lock_for_predict();
               for (std::size_t first = 0; first < x.rows; first += per_chunk) {
                 const std::size_t n = std::min(per_chunk, x.rows - first);
                 self.net.predict(x.rows_range(first, n), o.rows_range(first, n), pool);
                 if (first + n < x.rows && interrupted()) return false;
               }
               return true;
             };
             // Releasing the GIL costs more than a small prediction takes.
             bool done;
             if (x.rows * self.net.n_params() < (std::size_t(1) << 16)) {
               done = run();
             } else {
               py::gil_scoped_release release;
               done = run();
             }
             if (!done) throw py::error_already_set();  // the KeyboardInterrupt
             return std::move(result);
           }, py::arg("X"), py::arg("out"), py::arg("threads"),
           "The outputs for X, or None when the arguments need converting or checking.\n\n"
           "Rows go in chunks with a check for Ctrl-C between them (KeyboardInterrupt).")
      .def("loss_and_gradient", [](const Net& self, const Array<T>& X, const Array<T>& Y,
                                   py::handle sample_weight) {
             auto lock = self.lock_for_predict();
             const ConstMatrixView<T> x = view_of(X, "X"), y = view_of(Y, "Y");
             check_fit_inputs(self.net, x, y);
             Array<T> w;
             if (!sample_weight.is_none()) {
               w = array_arg<T>(sample_weight, "sample_weight", 1);
               if (static_cast<std::size_t>(w.shape(0)) != x.rows)
                 throw std::invalid_argument("sample_weight must have one entry per row of X");
             }
             Workspace<T> ws(self.net, x.rows, false);
             const double loss = loss_and_gradient(self.net, x, y, ws, nullptr,
                                                   sample_weight.is_none() ? nullptr : w.data());
             return py::make_tuple(loss, py::array_t<T>(ws.grads.size(), ws.grads.data()));
           }, py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("sample_weight"),
           "The loss on (X, Y) and its gradient, laid out as the flat parameters.");
}

// --- model files ------------------------------------------------------------------------

// (core network, dtype name, extra metadata) for a loaded model.
py::tuple model_tuple(Model&& model) {
  if (auto* net = std::get_if<Network<double>>(&model.network))
    return py::make_tuple(py::cast(new PyNetwork<double>{std::move(*net), {}},
                                   py::return_value_policy::take_ownership),
                          "float64", model.extra);
  auto& net = std::get<Network<float>>(model.network);
  return py::make_tuple(py::cast(new PyNetwork<float>{std::move(net), {}},
                                 py::return_value_policy::take_ownership),
                        "float32", model.extra);
}

void bind_model_files(py::module_& m) {
  m.def("from_bytes", [](py::handle data) {
          Py_buffer view;
          if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_SIMPLE) != 0) {
            PyErr_Clear();
            throw py::type_error(std::string("data must be bytes or a contiguous buffer; got ") +
                                 Py_TYPE(data.ptr())->tp_name);
          }
          std::unique_ptr<Py_buffer, void (*)(Py_buffer*)> release_view(&view, PyBuffer_Release);
          std::optional<Model> model;
          {
            py::gil_scoped_release release;
            model.emplace(from_safetensors(view.buf, static_cast<std::size_t>(view.len)));
          }
          return model_tuple(std::move(*model));
        }, py::arg("data"),
        "(core network, dtype name, extra metadata) from a model file's bytes.");
  m.def("load", [](const std::string& path) {
          std::optional<Model> model;
          {
            py::gil_scoped_release release;
            model.emplace(load(path));
          }
          return model_tuple(std::move(*model));
        }, py::arg("path"), "(core network, dtype name, extra metadata) from a model file.");
}

// --- data and files -----------------------------------------------------------------------

// A copy of M as a new NumPy array.
py::array_t<double> numpy_copy(const Matrix<double>& M) {
  py::array_t<double> a({M.rows(), M.cols()});
  if (M.rows() * M.cols() != 0) std::copy(M.data(), M.data() + M.rows() * M.cols(), a.mutable_data());
  return a;
}

template <class T>
void bind_class_weights(py::module_& m) {
  m.def("class_weights", [](const Array<T>& Y, const std::vector<double>& per_class) {
          const std::vector<T> w = class_weights(view_of(Y, "Y"), per_class);
          return py::array_t<T>(w.size(), w.data());
        }, py::arg("Y").noconvert(), py::arg("per_class"),
        "Each row's weight from its class (the argmax of its Y row; Y >= 0.5 for one column): "
        "per_class[class], or scikit-learn's 'balanced' weights when per_class is empty.");
}

void bind_files(py::module_& m) {
  m.def("read_csv", [](const std::string& path, std::size_t n_labels) {
          std::optional<CsvData> data;
          {
            py::gil_scoped_release release;
            data.emplace(read_csv(path, n_labels));
          }
          return py::make_tuple(data->header, numpy_copy(data->X), numpy_copy(data->Y));
        }, py::arg("path"), py::arg("n_labels"),
        "(header, X, Y) of a numeric CSV file, as the command line reads it: Y its last "
        "n_labels columns, float64.");
  m.def("write_file_atomically", [](const std::string& path, const py::bytes& data) {
          std::string bytes = data;
          py::gil_scoped_release release;
          write_file_atomically(path, bytes);
        }, py::arg("path"), py::arg("data"),
        "Write data to path atomically, as model files are written.");
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
          dense_backward_input(mutable_view_of(dX, "dX"), dz, w);
          dense_backward_weight(mutable_view_of(dW, "dW"), x, dz);
          dense_backward_bias(db.mutable_data(), dz);
          return py::make_tuple(dX, dW, db);
        }, py::arg("dZ").noconvert(), py::arg("X").noconvert(), py::arg("W").noconvert(),
        "(dZ @ W.T, X.T @ dZ, dZ.sum(axis=0)).");
}

// ValueError(message). A message may hold bytes that are not UTF-8 (a path
// given as bytes): they show as \xNN instead of turning the error into a
// UnicodeDecodeError, as pybind11's own translation would.
void set_value_error(const char* message) {
  py::object text = py::reinterpret_steal<py::object>(
      PyUnicode_DecodeUTF8(message, static_cast<py::ssize_t>(std::strlen(message)), "backslashreplace"));
  if (!text) throw py::error_already_set();
  PyErr_SetObject(PyExc_ValueError, text.ptr());
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastmlp's C++ core; the public API is the fastmlp package.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const OutOfMemory& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const FileError& e) {
      // OSError(errno, reason, filename): Python picks the subclass
      // (FileNotFoundError, IsADirectoryError, ...) from the errno.
      std::string reason = e.action();
      if (e.error_code() != 0) reason += ": " + std::generic_category().message(e.error_code());
      py::object filename = py::reinterpret_steal<py::object>(
          PyUnicode_DecodeFSDefaultAndSize(e.path().data(), static_cast<py::ssize_t>(e.path().size())));
      if (!filename) throw py::error_already_set();
      PyErr_SetObject(PyExc_OSError, py::make_tuple(e.error_code(), reason, filename).ptr());
    } catch (const std::invalid_argument& e) {
      set_value_error(e.what());
    } catch (const std::length_error& e) {
      set_value_error(e.what());
    }
  });
  bind_fit_options(m);
  bind_network<double>(m, "Network64");
  bind_network<float>(m, "Network32");
  bind_model_files(m);
  bind_class_weights<double>(m);
  bind_class_weights<float>(m);
  bind_files(m);
  bind_dense_ops<double>(m);
  bind_dense_ops<float>(m);
  m.def("validation_split", [](std::size_t n, double fraction, std::uint64_t seed) {
          const RowSplit split = validation_split(n, fraction, seed);
          return py::make_tuple(py::array_t<std::size_t>(split.train.size(), split.train.data()),
                                py::array_t<std::size_t>(split.validation.size(), split.validation.data()));
        }, py::arg("n"), py::arg("fraction"), py::arg("seed"),
        "The (training, validation) row indices of a seeded split of n rows.");
  m.def("gemm_kernel", [] { return isa_name(active_isa()); }, "The GEMM micro-kernel in use.");
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
