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
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
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
#include <fastmlp/metrics.hpp>
#include <fastmlp/network.hpp>
#include <fastmlp/optim.hpp>
#include <fastmlp/options.hpp>
#include <fastmlp/sparse.hpp>
#include <fastmlp/threads.hpp>
#include <fastmlp/train.hpp>

#include "cli.hpp"

namespace py = pybind11;
using namespace fastmlp;

namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style>;

std::string shape_of(const py::array& a);

// --- arrays <-> views -----------------------------------------------------------------

template <class T>
ConstMatrixView<T> view_of(const Array<T>& a, const char* name) {
  if (a.ndim() != 2)
    throw std::invalid_argument(std::string(name) + " must be 2-D (samples x features); got " +
                                std::to_string(a.ndim()) + "-D with shape " + shape_of(a));
  return {a.data(), static_cast<std::size_t>(a.shape(0)), static_cast<std::size_t>(a.shape(1))};
}

template <class T>
MatrixView<T> mutable_view_of(Array<T>& a, const char* name) {
  if (!a.writeable()) throw std::invalid_argument(std::string(name) + " is read-only");
  ConstMatrixView<T> v = view_of(a, name);
  return {a.mutable_data(), v.rows, v.cols};
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

// A CSR matrix as fastmlp._sparse hands it over: (rows, cols, data, indices,
// indptr), data a C-contiguous 1-D array of T, indices and indptr both int32 or
// both int64, read in place (the caller's tuple keeps them alive). The
// structure is checked by the core (check_csr) before any kernel reads it, and
// by the kernels as they read it (it may change: see CsrView). `name`, a
// string literal, names it in their errors.
template <class T>
CsrView<T> csr_of(py::handle X, const char* name) {
  const auto t = py::reinterpret_borrow<py::tuple>(X);
  if (t.size() != 5) throw std::invalid_argument(std::string(name) + ": a CSR tuple has 5 items");
  using I32 = py::array_t<std::int32_t, py::array::c_style>;
  using I64 = py::array_t<std::int64_t, py::array::c_style>;
  CsrView<T> v;
  v.rows = t[0].cast<std::size_t>();
  v.cols = t[1].cast<std::size_t>();
  const Array<T> data = array_arg<T>(t[2], name, 1);
  const py::handle indices = t[3], indptr = t[4];
  v.wide = py::isinstance<I64>(indices) && py::isinstance<I64>(indptr);
  if (!v.wide && !(py::isinstance<I32>(indices) && py::isinstance<I32>(indptr)))
    throw std::invalid_argument(std::string(name) + ".indices and .indptr must be C-contiguous and both int32 or both int64");
  const auto ind = py::reinterpret_borrow<py::array>(indices), ptr = py::reinterpret_borrow<py::array>(indptr);
  if (ind.ndim() != 1 || ptr.ndim() != 1 || static_cast<std::size_t>(ptr.shape(0)) != v.rows + 1 ||
      ind.shape(0) != data.shape(0))
    throw std::invalid_argument(std::string(name) + " is not a valid CSR matrix: indptr needs rows + 1 entries "
                                "and indices one per stored value");
  v.nnz = static_cast<std::size_t>(data.shape(0));
  v.data = data.data();
  v.indices = ind.data();
  v.indptr = ptr.data();
  v.name = name;
  return v;
}

// The input X of fit, loss_and_gradient or predict: a CSR tuple (into `csr`;
// the view returned holds its shape, no data) or a C-contiguous 2-D array of T
// (into `hold`, which keeps it alive).
template <class T>
ConstMatrixView<T> input_of(py::handle X, const char* name, Array<T>& hold, CsrView<T>& csr) {
  if (py::isinstance<py::tuple>(X)) {
    csr = csr_of<T>(X, name);
    return {nullptr, csr.rows, csr.cols};
  }
  if (!py::isinstance<Array<T>>(X))
    throw py::type_error(std::string(name) + " must be a C-contiguous array of the network's dtype");
  hold = py::reinterpret_borrow<Array<T>>(X);
  return view_of(hold, name);
}

// A shape as Python prints a tuple: "(3, 4)", "(4,)".
std::string shape_of(const py::array& a) {
  std::string text = "(";
  for (py::ssize_t d = 0; d < a.ndim(); ++d) text += (d ? ", " : "") + std::to_string(a.shape(d));
  return text + (a.ndim() == 1 ? ",)" : ")");
}

// TypeError or ValueError unless `out` can take a (rows, cols) result of T in place.
template <class T>
void check_out(py::handle out, py::ssize_t rows, py::ssize_t cols) {
  if (!py::isinstance<py::array>(out))
    throw py::type_error(std::string("out must be a NumPy array; got ") + Py_TYPE(out.ptr())->tp_name);
  const auto a = py::reinterpret_borrow<py::array>(out);
  const char* dtype = sizeof(T) == 8 ? "float64" : "float32";
  if (!py::isinstance<Array<T>>(out))
    throw std::invalid_argument(std::string("out must be a C-contiguous ") + dtype + " array; got " +
                                py::str(a.dtype()).cast<std::string>() +
                                (a.flags() & py::array::c_style ? "" : ", not C-contiguous"));
  if (a.ndim() != 2 || a.shape(0) != rows || a.shape(1) != cols)
    throw std::invalid_argument("out must have shape (" + std::to_string(rows) + ", " + std::to_string(cols) +
                                "); got " + shape_of(a));
  if (!a.writeable()) throw std::invalid_argument("out is read-only");
}

// What predict returns: `out`, checked, or a new (rows, cols) array.
template <class T>
Array<T> predict_result(py::handle out, py::ssize_t rows, py::ssize_t cols) {
  if (out.is_none()) return Array<T>({rows, cols});
  check_out<T>(out, rows, cols);
  return py::reinterpret_borrow<Array<T>>(out);
}

// Whether the bytes [a, a + a_bytes) and [b, b + b_bytes) overlap.
bool overlaps(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
  const auto a0 = reinterpret_cast<std::uintptr_t>(a), b0 = reinterpret_cast<std::uintptr_t>(b);
  return a_bytes != 0 && b_bytes != 0 && a0 < b0 + b_bytes && b0 < a0 + a_bytes;
}

// Whether the memory of two C-contiguous arrays overlaps.
bool overlaps(const py::array& a, const py::array& b) {
  return overlaps(a.data(), static_cast<std::size_t>(a.nbytes()), b.data(), static_cast<std::size_t>(b.nbytes()));
}

// Whether a C-contiguous array shares memory with a network's parameters (a
// view from weight() or bias(), or one made from it).
template <class T>
bool overlaps_parameters(const Network<T>& net, const py::array& a) {
  return overlaps(net.params(), net.n_params() * sizeof(T), a.data(), static_cast<std::size_t>(a.nbytes()));
}

// --- the GIL at interpreter exit ----------------------------------------------------------

// A daemon thread that wants the GIL while the interpreter shuts down waits
// here for the process to end. Python up to 3.13 would end the thread with
// pthread_exit instead, and its unwinding aborts the process where it crosses
// a destructor (one that takes the GIL back, say); 3.14 waits the same way.
void wait_if_finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  const bool finalizing = Py_IsFinalizing() != 0;
#else
  const bool finalizing = _Py_IsFinalizing() != 0;
#endif
  if (finalizing)
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
}

// The GIL released for a scope (py::gil_scoped_release), taken back safely at
// interpreter exit. noexcept(false): when shutdown begins while this thread
// waits for the GIL, Python's unwinding of the thread passes through here.
class ReleaseGil {
 public:
  ReleaseGil() : state_(PyEval_SaveThread()) {}
  ~ReleaseGil() noexcept(false) {
    wait_if_finalizing();
    PyEval_RestoreThread(state_);
  }
  ReleaseGil(const ReleaseGil&) = delete;
  ReleaseGil& operator=(const ReleaseGil&) = delete;

 private:
  PyThreadState* state_;
};

// A StopCheck that takes the GIL and asks Python whether a signal (Ctrl-C)
// arrived; the error it leaves set is raised when the fit returns.
StopCheck python_signal_check() {
  return [] {
    wait_if_finalizing();
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
    if (!lock.owns_lock() && callback_thread.load() == std::this_thread::get_id())
      throw std::runtime_error("a fit's callback cannot fit, initialize or reset the network it is "
                               "called from (it may predict)");
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

  // --- predict's packed weights, kept while the weights hold still ---
  //
  // Python writes the weights through the views weight() and bias() hand out,
  // unseen, and fit writes them between its callbacks. So the packed weights
  // are kept only while no such view is alive and no fit runs (`writers`),
  // and only while `version` is as it was when they were packed: it moves
  // whenever a writer ends and whenever initialize redraws the weights.
  using Packed = typename Network<T>::PackedWeights;
  std::atomic<int> writers{0};
  std::atomic<std::uint64_t> version{0};
  mutable std::mutex packed_mutex;
  mutable std::shared_ptr<Packed> packed;  // ready for packed_version, or null
  mutable std::uint64_t packed_version = 0;

  void writer_ends() {
    version.fetch_add(1);
    writers.fetch_sub(1);
  }

  // The packed weights a predict of the current weights reads (ready), or
  // one it fills (not ready; give it back with keep_packed), or null while
  // the weights may change under it. The version is noted in `seen`.
  std::shared_ptr<Packed> take_packed(std::uint64_t& seen) const {
    seen = version.load();
    if (writers.load() != 0) return nullptr;
    std::lock_guard<std::mutex> guard(packed_mutex);
    if (packed && packed_version == seen) return packed;
    // reused when no other predict reads it (no allocation), else a new one
    std::shared_ptr<Packed> fresh = packed.use_count() == 1 ? std::move(packed) : std::make_shared<Packed>();
    packed.reset();
    fresh->ready = false;
    return fresh;
  }

  // Keeps what a predict packed when the weights are still those it read.
  void keep_packed(std::shared_ptr<Packed> p, std::uint64_t seen) const {
    if (!p || !p->ready) return;
    std::lock_guard<std::mutex> guard(packed_mutex);
    if (version.load() == seen && writers.load() == 0) {
      packed = std::move(p);
      packed_version = seen;
    }
  }
};

// A NumPy view of a network's parameters at `data`, shaped (rows, cols), or
// (rows,) when cols is 0: a writer while it, or anything made from it, is
// alive; it keeps the network alive.
template <class T>
py::array_t<T> parameter_view(py::object self_obj, PyNetwork<T>& self, T* data, std::size_t rows,
                              std::size_t cols) {
  struct Writer {
    py::object owner;
    PyNetwork<T>* net;
  };
  auto* writer = new Writer{self_obj, &self};
  self.writers.fetch_add(1);
  const py::capsule guard(writer, [](void* p) {  // with the GIL: NumPy drops its base
    auto* w = static_cast<Writer*>(p);
    w->net->writer_ends();
    delete w;
  });
  if (cols == 0) return py::array_t<T>({rows}, {sizeof(T)}, data, guard);
  return py::array_t<T>({rows, cols}, {cols * sizeof(T), sizeof(T)}, data, guard);
}

// An EpochCallback that calls the Python callable `fn(epoch, logs)` with the
// GIL taken only then; a Python exception is left set, `failed` raised, and the
// fit stopped. Returning a false value other than None (False, np.False_, 0)
// stops the fit too; None, what a function without `return` gives, goes on.
template <class T>
EpochCallback python_callback(PyNetwork<T>& self, py::handle fn, bool validating,
                              const std::string& score_key, bool& failed) {
  return [&self, fn, validating, score_key, &failed](const EpochLog& log) {
    wait_if_finalizing();
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
      go_on = answer.is_none() || py::bool_(answer);
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
//
// Python's keyword arguments become OptionValues here and are checked and
// stored by the core's table (options.hpp), so Python, the command line and
// C++ give one verdict with one message.

// True for Python's bool and NumPy's bool_.
bool is_bool(py::handle v) {
  static const py::object numpy_bool = py::module_::import("numpy").attr("bool_");
  return PyBool_Check(v.ptr()) || py::isinstance(v, numpy_bool);
}

// `v` as an OptionValue of the type its Python type says; values of other
// types keep only their type's name, for set_fit_option's TypeError.
OptionValue option_value(py::handle v) {
  static const py::object integral = py::module_::import("numbers").attr("Integral");
  static const py::object real = py::module_::import("numbers").attr("Real");
  OptionValue value;
  value.type_name = Py_TYPE(v.ptr())->tp_name;
  // the value as messages show it: scalars by their repr (an int of more than
  // 64 bits by its size; a repr of thousands of digits is refused by Python),
  // anything else by its type alone
  const bool scalar = PyLong_Check(v.ptr()) || PyFloat_Check(v.ptr()) || PyUnicode_Check(v.ptr()) ||
                      py::isinstance(v, real) || is_bool(v);
  if (PyLong_Check(v.ptr()) && _PyLong_NumBits(v.ptr()) > 64) {
    value.shown = "an int of " + std::to_string(_PyLong_NumBits(v.ptr())) + " bits";
  } else if (scalar) {
    PyObject* text = PyObject_Repr(v.ptr());
    if (text == nullptr) throw py::error_already_set();
    value.shown = py::reinterpret_steal<py::str>(text).cast<std::string>();  // repr() is valid UTF-8
    if (value.shown.size() > 64) value.shown = value.shown.substr(0, 64) + "...";
  } else {
    value.shown = "a " + value.type_name;
  }
  if (v.is_none()) return value;
  if (is_bool(v)) {
    value.type = OptionValue::Type::Flag;
    value.flag = PyObject_IsTrue(v.ptr()) == 1;
  } else if (py::isinstance(v, integral)) {
    const py::int_ number = py::reinterpret_steal<py::int_>(PyNumber_Index(v.ptr()));
    if (!number) {  // an "Integral" that is no integer (NumPy's timedelta64): the wrong type
      PyErr_Clear();
      value.type = OptionValue::Type::Other;
      return value;
    }
    value.type = OptionValue::Type::Integer;
    value.negative = PyObject_RichCompareBool(number.ptr(), py::int_(0).ptr(), Py_LT) == 1;
    const py::object magnitude =
        value.negative ? py::reinterpret_steal<py::object>(PyNumber_Negative(number.ptr())) : py::object(number);
    if (!magnitude) throw py::error_already_set();
    value.magnitude = PyLong_AsUnsignedLongLong(magnitude.ptr());
    if (PyErr_Occurred()) {
      PyErr_Clear();
      value.too_large = true;
    }
  } else if (py::isinstance(v, real)) {
    value.type = OptionValue::Type::Real;
    value.real = PyFloat_AsDouble(v.ptr());
    if (PyErr_Occurred()) {
      if (!PyErr_ExceptionMatches(PyExc_OverflowError)) throw py::error_already_set();
      PyErr_Clear();  // an int past float's range: out of every option's range
      value.real = std::numeric_limits<double>::infinity();
    }
  } else if (PyUnicode_Check(v.ptr())) {
    value.type = OptionValue::Type::Name;
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(v.ptr(), &size);
    if (utf8 == nullptr) PyErr_Clear();  // a lone surrogate: a name no option has
    value.name = utf8 == nullptr ? std::string("\xff") : std::string(utf8, static_cast<std::size_t>(size));
  } else {
    value.type = OptionValue::Type::Other;
  }
  return value;
}

// class_weight={class index: weight}: the table's entries, checked here for
// their types and values; their indices against the classes when the fit
// has them.
std::vector<std::pair<std::size_t, double>> class_weight_table(const py::dict& mapping) {
  static const py::object integral = py::module_::import("numbers").attr("Integral");
  std::vector<std::pair<std::size_t, double>> table;
  for (const auto& item : mapping) {
    const OptionValue key = option_value(item.first), weight = option_value(item.second);
    if (key.type != OptionValue::Type::Integer)
      throw py::type_error("class_weight's keys must be class indices (ints); got " + key.type_name);
    if (key.negative || key.too_large)
      throw std::invalid_argument("class_weight's keys must be class indices >= 0; got " + key.shown);
    if (weight.type != OptionValue::Type::Real && weight.type != OptionValue::Type::Integer)
      throw py::type_error("class_weight[" + key.shown + "] must be a number; got " + weight.type_name);
    const double w = weight.type == OptionValue::Type::Real ? weight.real
                     : weight.too_large ? std::numeric_limits<double>::infinity()
                                        : (weight.negative ? -1.0 : 1.0) * static_cast<double>(weight.magnitude);
    if (!(w >= 0) || !std::isfinite(w))
      throw std::invalid_argument("class_weight[" + key.shown + "] must be a finite number >= 0; got " +
                                  weight.shown);
    table.emplace_back(static_cast<std::size_t>(key.magnitude), w);
  }
  return table;
}

FitOptions options_from_kwargs(const py::kwargs& kwargs) {
  FitOptions options;
  for (const auto& item : kwargs) {
    const std::string name = item.first.cast<std::string>();
    const OptionSpec* spec = find_fit_option(name);
    if (spec == nullptr) throw py::type_error("unknown fit option " + in_quotes(name));
    static const py::object mapping = py::module_::import("collections.abc").attr("Mapping");
    if (name == "class_weight" && py::isinstance(item.second, mapping)) {
      options.class_weight = {ClassWeightKind::PerClass, class_weight_table(py::dict(py::reinterpret_borrow<py::object>(item.second)))};
      continue;
    }
    set_fit_option(options, *spec, option_value(item.second));
  }
  return options;
}

void bind_fit_options(py::module_& m) {
  py::class_<FitOptions>(m, "FitOptions",
                         "fastmlp::FitOptions: every option of a fit, checked by the core's table.")
      .def(py::init<>())
      .def_static("from_kwargs", &options_from_kwargs,
                  "The options named by keyword (the table's names; None where an option has none), "
                  "each checked: TypeError for a value of the wrong type, ValueError out of range.")
      .def("get", [](const FitOptions& o, const std::string& name) -> py::object {
             const OptionSpec* spec = find_fit_option(name);
             if (spec == nullptr) throw py::key_error(name);
             const OptionValue v = spec->get(o);
             switch (v.type) {
               case OptionValue::Type::Flag: return py::bool_(v.flag);
               case OptionValue::Type::Integer: return py::int_(v.magnitude);
               case OptionValue::Type::Real: return py::float_(v.real);
               case OptionValue::Type::Name: return py::str(v.name);
               default: return py::none();
             }
           }, py::arg("name"), "The value of option `name` as stored (0 or None where it is unset).")
      .def_readwrite("seed", &FitOptions::seed)
      .def_readwrite("first_epoch", &FitOptions::first_epoch);
  m.def("fit_option_table", [] {
          py::list rows;
          for (const OptionSpec& spec : fit_option_table()) {
            py::dict row;
            row["name"] = spec.name;
            row["kind"] = spec.kind == OptionKind::Count ? "int" : spec.kind == OptionKind::Real ? "float"
                          : spec.kind == OptionKind::Flag ? "bool" : "str";
            row["default"] = spec.defaults;
            row["none_means"] = spec.none_means == nullptr ? py::object(py::none()) : py::str(spec.none_means);
            row["rule"] = option_rule(spec);
            row["choices"] = spec.choices;
            row["alias"] = spec.alias == nullptr ? py::object(py::none()) : py::str(spec.alias);
            row["on_command_line"] = spec.on_command_line;
            row["doc"] = spec.doc;
            rows.append(row);
          }
          return rows;
        }, "Every fit option as the core's table defines it, one dict per row, in order.");
}

// How a fit ended, as Python sees it: the core's FitResult, the validation
// score's name, and the exception (Ctrl-C's, or the callback's) that the
// Python layer raises once the completed epochs are in the history.
struct PyFitResult {
  FitResult result;
  std::string score_name;     // "accuracy" or "r2"
  bool validating = false;
  bool restored = false;      // early stopping put the best parameters back
  py::object exception;       // None, or the exception to raise
};

void bind_fit_result(py::module_& m) {
  py::class_<PyFitResult>(m, "FitResult", "What a fit did: the figures of each epoch, and how it ended.")
      .def_property_readonly("epochs", [](const PyFitResult& r) { return r.result.epochs; })
      .def_property_readonly("history", [](const PyFitResult& r) {
             py::dict h;
             h["loss"] = to_numpy(r.result.loss);
             h["learning_rate"] = to_numpy(r.result.learning_rate);
             if (r.validating) {
               h["val_loss"] = to_numpy(r.result.val_loss);
               h[py::str("val_" + r.score_name)] = to_numpy(r.result.val_score);
             }
             return h;
           }, "The per-epoch figures, keyed as Network.history.")
      .def_property_readonly("best_epoch", [](const PyFitResult& r) -> py::object {
             return r.restored ? py::object(py::int_(r.result.best_epoch)) : py::object(py::none());
           }, "Early stopping: the epoch whose parameters the network holds; else None.")
      .def_property_readonly("early_stopped", [](const PyFitResult& r) { return r.result.early_stopped; })
      .def_property_readonly("early_stopping_summary", [](const PyFitResult& r) -> py::object {
             if (!r.result.early_stopped) return py::none();
             return py::str(early_stopping_summary(r.result));
           }, "Where early stopping ended the fit (the command line's words); else None.")
      .def_property_readonly("stopped_by_callback",
                             [](const PyFitResult& r) { return r.result.stopped_by_callback; })
      .def_property_readonly("exception", [](const PyFitResult& r) { return r.exception; },
                             "Ctrl-C's KeyboardInterrupt or the callback's exception, else None.");
}

// predict's `threads` checked: 0 for None (the default), else the count in
// the table's range. An int in range is taken as it is; anything else goes
// through the table, which gives fit's verdict and message.
int predict_threads(py::handle threads) {
  if (threads.is_none()) return 0;
  static const OptionSpec& spec = *find_fit_option("threads");
  if (PyLong_CheckExact(threads.ptr())) {
    int overflow = 0;
    const long n = PyLong_AsLongAndOverflow(threads.ptr(), &overflow);
    if (overflow == 0 && n >= spec.low && n <= spec.high) return static_cast<int>(n);
  }
  FitOptions o;
  set_fit_option(o, spec, option_value(threads));
  return o.threads;
}

// The pool for a checked thread count (0: the default, which asks the OS for
// this process's CPUs), or none for one thread.
ThreadPool* pool_of(int threads) {
  const int n = resolve_threads(threads);
  return n > 1 ? &shared_thread_pool(n) : nullptr;
}

// The pool for predict's `threads` (None or the table's range).
ThreadPool* predict_pool(py::handle threads) { return pool_of(predict_threads(threads)); }

// Network.predict on a CSR tuple X (csr_of), into `out` when given. An `out`
// that shares memory with anything predict reads, X's values, indices or
// indptr or the network's parameters, gets the result through a temporary:
// predict reads them after writing earlier rows of out (indices or indptr
// overwritten so would be read as garbage: the kernels would refuse them).
template <class T, class Net>
Array<T> sparse_predict_py(const Net& self, py::handle X_tuple, py::handle out, py::handle threads) {
  const CsrView<T> X = csr_of<T>(X_tuple, "X");
  const auto rows = static_cast<py::ssize_t>(X.rows), cols = static_cast<py::ssize_t>(self.net.n_outputs());
  Array<T> result = predict_result<T>(out, rows, cols);
  ThreadPool* pool = predict_pool(threads);
  Array<T> target = result;
  const auto parts = py::reinterpret_borrow<py::tuple>(X_tuple);
  bool shared = overlaps_parameters(self.net, result);
  for (const std::size_t part : {2, 3, 4})  // data, indices, indptr: arrays (csr_of)
    shared = shared || overlaps(py::reinterpret_borrow<py::array>(parts[part]), result);
  if (shared) target = Array<T>({rows, cols});
  {
    ReleaseGil release;
    auto lock = self.lock_for_predict();
    sparse_predict(self.net, X, MatrixView<T>(target.mutable_data(), X.rows, self.net.n_outputs()), pool);
  }
  if (target.ptr() != result.ptr())
    std::memcpy(result.mutable_data(), target.data(), sizeof(T) * X.rows * self.net.n_outputs());
  return result;
}

// fastmlp._core.Diverged, a FloatingPointError carrying the FitResult of the
// epochs completed before it.
PyObject* diverged_type = nullptr;

// --- model files: what they record beside the network -------------------------------------

using OptNames = std::optional<std::vector<std::string>>;

// The keywords that name a model file's inputs, outputs and task (ModelInfo).
#define MODEL_INFO_ARGS                                                                    \
  py::arg("feature_names") = py::none(), py::arg("classes") = py::none(),                \
      py::arg("classes_type") = py::none(), py::arg("target_names") = py::none(),        \
      py::arg("task") = py::none(), py::arg("epochs") = py::none()

// The ModelInfo of save's and to_bytes' arguments; the core checks it against the
// network (ValueError naming the metadata key).
ModelInfo model_info(const std::string& init, std::uint64_t seed, const OptNames& feature_names,
                     const OptNames& classes, const std::optional<std::string>& classes_type,
                     const OptNames& target_names, const std::optional<std::string>& task,
                     std::optional<std::uint64_t> epochs) {
  ModelInfo info{init_from_name(init), seed, epochs};
  if (feature_names) info.feature_names = *feature_names;
  if (classes) info.class_names = *classes;
  if (classes_type) info.classes_type = *classes_type;
  if (target_names) info.target_names = *target_names;
  if (task) info.task = task_from_name(*task);
  return info;
}

template <class T>
void bind_network(py::module_& m, const char* name) {
  using Net = PyNetwork<T>;
  py::class_<Net>(m, name, "A dense network's C++ storage; use fastmlp.Network.")
      .def(py::init([](std::vector<std::size_t> sizes, const std::vector<std::string>& activations,
                       const std::string& loss, const std::string& reduction, double leaky_slope,
                       const std::vector<double>& dropout) {
             std::vector<Activation> layers;
             for (std::size_t l = 0; l < activations.size(); ++l) {
               const bool last = l + 1 == activations.size();
               layers.push_back(activation_from_name(activations[l], last ? "output" : "activation",
                                                     last));
             }
             auto* net = new Net{Network<T>(std::move(sizes), std::move(layers), loss_from_name(loss),
                                            reduction_from_name(reduction), leaky_slope),
                                 {}};
             if (!dropout.empty()) {
               try {
                 net->net.set_dropout(dropout);
               } catch (...) {
                 delete net;
                 throw;
               }
             }
             return net;
           }),
           py::arg("sizes"), py::arg("activations"), py::arg("loss"), py::arg("reduction"),
           py::arg("leaky_slope"), py::arg("dropout") = std::vector<double>{},
           "`dropout`: one training rate per hidden layer, or empty for none.")
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
      .def_property_readonly("dropout", [](const Net& self) {
             std::vector<double> rates;
             for (std::size_t l = 0; l + 1 < self.net.n_layers(); ++l) rates.push_back(self.net.dropout(l));
             return rates;
           }, "Each hidden layer's dropout rate while training.")
      .def("to_bytes", [](const Net& self, const std::string& init, std::uint64_t seed, const Metadata& extra,
                          const OptNames& feature_names, const OptNames& classes,
                          const std::optional<std::string>& classes_type, const OptNames& target_names,
                          const std::optional<std::string>& task, std::optional<std::uint64_t> epochs) {
             const ModelInfo info =
                 model_info(init, seed, feature_names, classes, classes_type, target_names, task, epochs);
             std::string bytes;
             {
               ReleaseGil release;
               auto lock = self.lock_for_predict();
               bytes = to_safetensors(self.net, info, extra);
             }
             return py::bytes(bytes);
           }, py::arg("init"), py::arg("seed"), py::arg("extra"), py::kw_only(), MODEL_INFO_ARGS,
           "The model file's bytes, recording `init`, `seed`, the epochs trained and the names and task given, with `extra` in "
           "its metadata.")
      .def("save", [](const Net& self, const std::string& path, const std::string& init, std::uint64_t seed,
                      const Metadata& extra, const OptNames& feature_names, const OptNames& classes,
                      const std::optional<std::string>& classes_type, const OptNames& target_names,
                      const std::optional<std::string>& task, std::optional<std::uint64_t> epochs) {
             const ModelInfo info =
                 model_info(init, seed, feature_names, classes, classes_type, target_names, task, epochs);
             ReleaseGil release;
             auto lock = self.lock_for_predict();
             save(self.net, path, info, extra);
           }, py::arg("path"), py::arg("init"), py::arg("seed"), py::arg("extra"), py::kw_only(), MODEL_INFO_ARGS,
           "Write the model file at `path` atomically, recording `init`, `seed`, the epochs trained and the names "
           "and task given, "
           "with `extra` in its metadata.")
      .def("initialize", [](Net& self, const std::string& init, std::uint64_t seed) {
             auto lock = self.lock_for_fit();
             self.net.initialize(init_from_name(init), seed);
             self.version.fetch_add(1);
             self.optimizer.reset();
           }, py::arg("init"), py::arg("seed"))
      .def("weight", [](py::object self_obj, std::size_t l) {
             Net& self = self_obj.cast<Net&>();
             if (l >= self.net.n_layers()) throw py::index_error("layer index out of range");
             MatrixView<T> w = self.net.weight(l);
             return parameter_view(self_obj, self, w.data, w.rows, w.cols);
           }, py::arg("layer"))
      .def("bias", [](py::object self_obj, std::size_t l) {
             Net& self = self_obj.cast<Net&>();
             if (l >= self.net.n_layers()) throw py::index_error("layer index out of range");
             return parameter_view(self_obj, self, self.net.bias(l), self.net.sizes()[l + 1], 0);
           }, py::arg("layer"))
      .def("fit", [](Net& self, py::handle X, const Array<T>& Y, py::handle sample_weight,
                     py::handle X_val, py::handle Y_val, const FitOptions& options,
                     py::handle callback, py::handle progress, double progress_seconds) {
             FitData<T> data;
             Array<T> x, w, xv, yv;  // hold the arrays while C++ reads them
             data.X = input_of(X, "X", x, data.X_csr);
             data.Y = view_of(Y, "Y");
             if (!sample_weight.is_none()) {
               w = array_arg<T>(sample_weight, "sample_weight", 1);
               if (static_cast<std::size_t>(w.shape(0)) != data.X.rows)
                 throw std::invalid_argument("sample_weight has " + std::to_string(w.shape(0)) +
                                             " entries but X has " + std::to_string(data.X.rows) +
                                             " rows");
               data.sample_weight = w.data();
             }
             if (!X_val.is_none()) {
               data.X_val = input_of(X_val, "X_val", xv, data.X_val_csr);
               yv = array_arg<T>(Y_val, "Y_val", 2);
               data.Y_val = view_of(yv, "Y_val");
             }
             PyFitResult out;
             out.validating = !X_val.is_none() || options.validation_fraction != 0;
             out.score_name = validation_score_name(self.net.activation(self.net.n_layers() - 1));
             const std::string score_key = "val_" + out.score_name;
             bool failed = false;
             FitHooks hooks;
             hooks.should_stop = python_signal_check();
             if (!callback.is_none())
               hooks.callback = python_callback(self, callback, out.validating, score_key, failed);
             if (!progress.is_none())
               hooks.progress = python_callback(self, progress, out.validating, score_key, failed);
             hooks.progress_seconds = progress_seconds;
             std::optional<std::string> diverged, changed;
             {
               ReleaseGil release;
               auto lock = self.lock_for_fit();
               self.writers.fetch_add(1);
               const std::unique_ptr<Net, void (*)(Net*)> writing(&self, [](Net* n) { n->writer_ends(); });
               try {
                 out.result = fit(self.net, data, options, self.optimizer, hooks);
               } catch (const Diverged& e) {
                 out.result = e.result();
                 diverged = e.what();
               } catch (const InputChanged& e) {
                 out.result = e.result();
                 changed = e.what();
               }
             }
             out.exception = py::none();
             if (out.result.stopped || failed) {
               const py::error_already_set error;
               if (error.trace()) PyException_SetTraceback(error.value().ptr(), error.trace().ptr());
               out.exception = error.value();
             }
             out.restored = out.result.restored && !diverged && !changed;
             // Diverged, or ValueError for X changed under the fit, with the
             // FitResult of the epochs before it as `result`
             if (diverged || changed) {
               PyObject* type = diverged ? diverged_type : PyExc_ValueError;
               py::object error = py::reinterpret_steal<py::object>(
                   PyObject_CallFunction(type, "s", (diverged ? diverged : changed)->c_str()));
               if (!error) throw py::error_already_set();
               error.attr("result") = py::cast(std::move(out));
               PyErr_SetObject(type, error.ptr());
               throw py::error_already_set();
             }
             return out;
           }, py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("sample_weight"),
           py::arg("X_val"), py::arg("Y_val"), py::arg("options"), py::arg("callback"),
           py::arg("progress"), py::arg("progress_seconds"),
           "Train in place; a FitResult. A divergence raises Diverged, and a CSR X or X_val "
           "changed while the fit reads it ValueError, whose `result` is the FitResult of the "
           "epochs before it.")
      .def("reset_optimizer", [](Net& self) {
             auto lock = self.lock_for_fit();
             self.optimizer.reset();
           }, "Forget the optimiser's state (velocity, moments, step count).")
      .def_property_readonly("optimizer_steps", [](const Net& self) { return self.optimizer.steps(); },
                             "Steps the optimiser's state has taken since it began.")
      .def("optimizer_state", [](const Net& self) -> py::object {
             typename Optimizer<T>::State s;
             {
               auto lock = self.lock_for_predict();
               s = self.optimizer.state();
             }
             if (!s.prepared) return py::none();
             const OptimizerConfig& c = s.config;
             return py::make_tuple(optimizer_name(c.kind), c.momentum, c.nesterov, c.beta1, c.beta2, c.eps,
                                   c.weight_decay, s.n_params, py::array_t<T>(s.m.size(), s.m.data()),
                                   py::array_t<T>(s.v.size(), s.v.data()), s.t, s.beta1_t, s.beta2_t,
                                   c.eps_hat);
           }, "The optimiser's whole state as a tuple for pickling (None before its first fit); "
              "set_optimizer_state takes it back.")
      .def("set_optimizer_state", [](Net& self, py::object state) {
             typename Optimizer<T>::State s;
             if (!state.is_none()) {
               const auto t = state.cast<py::tuple>();
               if (t.size() != 14) throw std::invalid_argument("optimizer state: expected a tuple of 14 items");
               s.prepared = true;
               s.config.kind = optimizer_from_name(t[0].cast<std::string>());
               s.config.momentum = t[1].cast<double>();
               s.config.nesterov = t[2].cast<bool>();
               s.config.beta1 = t[3].cast<double>();
               s.config.beta2 = t[4].cast<double>();
               s.config.eps = t[5].cast<double>();
               s.config.weight_decay = t[6].cast<double>();
               s.n_params = t[7].cast<std::size_t>();
               s.m = t[8].cast<std::vector<T>>();
               s.v = t[9].cast<std::vector<T>>();
               s.t = t[10].cast<std::uint64_t>();
               s.beta1_t = t[11].cast<double>();
               s.beta2_t = t[12].cast<double>();
               s.config.eps_hat = t[13].cast<bool>();
             }
             auto lock = self.lock_for_fit();
             self.optimizer.restore(s);
           }, py::arg("state"), "Take back a state optimizer_state gave (None: none, as reset).")
      .def("predict_csr", &sparse_predict_py<T, Net>, py::arg("X"), py::arg("out"), py::arg("threads"),
           "The outputs for X (a CSR tuple), into `out` when given.")
      .def("predict", [](const Net& self, py::handle X, py::handle out, py::handle threads) {
             // The strict entry, every check here: X a C-contiguous 2-D array
             // of the dtype (TypeError for anything else, which the Python
             // layer then converts once), out None or a writable C-contiguous
             // array of the result's shape and dtype, threads None or the
             // table's range.
             if (!py::isinstance<Array<T>>(X))
               throw py::type_error("X must be a C-contiguous array of the network's dtype");
             const auto x_array = py::reinterpret_borrow<Array<T>>(X);
             const ConstMatrixView<T> x = view_of(x_array, "X");
             if (x.rows == 0 || x.cols == 0) throw std::invalid_argument("X is empty (shape " + shape_of(x_array) + ")");
             const py::ssize_t rows = x_array.shape(0);
             const auto cols = static_cast<py::ssize_t>(self.net.n_outputs());
             Array<T> result = predict_result<T>(out, rows, cols);
             const int n_threads = predict_threads(threads);
             // Rows that make one block run on this thread whatever the count.
             ThreadPool* pool = Network<T>::predict_splits(x.rows) ? pool_of(n_threads) : nullptr;
             // An `out` that shares memory with X or the network's parameters
             // gets the result through a temporary: predict reads rows of X
             // (and the weights) after writing earlier rows of out.
             Array<T> target = result;
             if (overlaps(x_array, result) || overlaps_parameters(self.net, result))
               target = Array<T>({rows, cols});
             const MatrixView<T> o(target.mutable_data(), x.rows, self.net.n_outputs());
             // Rows go in chunks of about 2^28 multiply-adds (a few ms on a
             // few cores), with a check for Ctrl-C between chunks. A row's
             // result does not depend on the chunk it is in. The packed
             // weights are the network's own while its weights hold still
             // (PyNetwork::take_packed), else packed afresh by each chunk.
             const std::size_t per_chunk =
                 std::max<std::size_t>((std::size_t(1) << 28) / self.net.n_params(), 1);
             auto run = [&] {
               auto lock = self.lock_for_predict();
               std::uint64_t seen = 0;
               std::shared_ptr<typename Net::Packed> packed;
               if (Network<T>::predict_may_pack(std::min(per_chunk, x.rows))) packed = self.take_packed(seen);
               bool done = true;
               for (std::size_t first = 0; first < x.rows; first += per_chunk) {
                 const std::size_t n = std::min(per_chunk, x.rows - first);
                 self.net.predict(x.rows_range(first, n), o.rows_range(first, n), pool, packed.get());
                 if (first + n < x.rows && python_signal_check()()) {
                   done = false;
                   break;
                 }
               }
               self.keep_packed(std::move(packed), seen);
               return done;
             };
             // Releasing the GIL costs more than a small prediction takes.
             bool done;
             if (x.rows * self.net.n_params() < (std::size_t(1) << 16)) {
               done = run();
             } else {
               ReleaseGil release;
               done = run();
             }
             if (!done) throw py::error_already_set();  // the KeyboardInterrupt
             if (target.ptr() != result.ptr())
               std::memcpy(result.mutable_data(), target.data(), sizeof(T) * x.rows * self.net.n_outputs());
             return result;
           }, py::arg("X"), py::arg("out"), py::arg("threads"),
           "The outputs for X (a C-contiguous 2-D array of the dtype), into `out` when given.\n\n"
           "Rows go in chunks with a check for Ctrl-C between them (KeyboardInterrupt).")
      .def("loss_and_gradient", [](const Net& self, py::handle X, const Array<T>& Y,
                                   py::handle sample_weight) {
             auto lock = self.lock_for_predict();
             Array<T> hold;
             CsrView<T> csr;
             const ConstMatrixView<T> x = input_of(X, "X", hold, csr), y = view_of(Y, "Y");
             if (csr.empty())
               check_fit_inputs(self.net, x, y);
             else
               check_fit_inputs(self.net, csr, y);
             Array<T> w;
             if (!sample_weight.is_none()) {
               w = array_arg<T>(sample_weight, "sample_weight", 1);
               if (static_cast<std::size_t>(w.shape(0)) != x.rows)
                 throw std::invalid_argument("sample_weight must have one entry per row of X");
             }
             Workspace<T> ws(self.net, x.rows, false, true, !csr.empty());
             const T* weight = sample_weight.is_none() ? nullptr : w.data();
             const double loss = csr.empty() ? loss_and_gradient(self.net, x, y, ws, nullptr, weight)
                                             : loss_and_gradient(self.net, csr, y, ws, nullptr, weight);
             return py::make_tuple(loss, py::array_t<T>(ws.grads.size(), ws.grads.data()));
           }, py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("sample_weight"),
           "The loss on (X, Y) and its gradient, laid out as the flat parameters.");
}

// --- model files ------------------------------------------------------------------------

// (core network, dtype name, info, extra metadata) for a loaded model; info
// holds "init", "seed", "epochs", "feature_names", "classes", "classes_type",
// "target_names" and "task", each None where the file does not record it.
py::tuple model_tuple(Model&& model) {
  const ModelInfo& mi = model.info;
  auto names = [](const std::vector<std::string>& v) -> py::object {
    return v.empty() ? py::none() : py::object(py::cast(v));
  };
  py::dict info;
  info["init"] = mi.init ? py::object(py::str(init_name(*mi.init))) : py::none();
  info["seed"] = mi.seed ? py::object(py::int_(*mi.seed)) : py::none();
  info["epochs"] = mi.epochs ? py::object(py::int_(*mi.epochs)) : py::none();
  info["feature_names"] = names(mi.feature_names);
  info["classes"] = names(mi.class_names);
  info["classes_type"] = mi.classes_type.empty() ? py::none() : py::object(py::str(mi.classes_type));
  info["target_names"] = names(mi.target_names);
  info["task"] = mi.task ? py::object(py::str(task_name(*mi.task))) : py::none();
  if (auto* net = std::get_if<Network<double>>(&model.network))
    return py::make_tuple(py::cast(new PyNetwork<double>{std::move(*net), {}},
                                   py::return_value_policy::take_ownership),
                          "float64", info, model.extra);
  auto& net = std::get<Network<float>>(model.network);
  return py::make_tuple(py::cast(new PyNetwork<float>{std::move(net), {}},
                                 py::return_value_policy::take_ownership),
                        "float32", info, model.extra);
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
            ReleaseGil release;
            model.emplace(from_safetensors(view.buf, static_cast<std::size_t>(view.len)));
          }
          return model_tuple(std::move(*model));
        }, py::arg("data"),
        "(core network, dtype name, info, extra metadata) from a model file's bytes.");
  m.def("load", [](const std::string& path) {
          std::optional<Model> model;
          {
            ReleaseGil release;
            model.emplace(load(path));
          }
          return model_tuple(std::move(*model));
        }, py::arg("path"), "(core network, dtype name, info, extra metadata) from a model file.");
  m.def("task_problem", [](const std::string& task, const std::string& loss, const std::string& output) {
          return task_problem(task_from_name(task), loss_from_name(loss), activation_from_name(output, "output", true));
        }, py::arg("task"), py::arg("loss"), py::arg("output"),
        "Why a network of `loss` with output layer `output` cannot be a model of `task` (the rule model "
        "files and the command line follow), or '' when it can.");
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
        "Each row's weight from its class (predicted_classes' rule applied to its Y row): "
        "per_class[class], or scikit-learn's 'balanced' weights when per_class is empty.");
}

// Each row's class by `row_class` (predicted_class_of_row or true_class_of_row), int64.
template <class T, class RowClass>
py::array_t<std::int64_t> classes_of(const Array<T>& M, const std::string& what, RowClass row_class) {
  const ConstMatrixView<T> v = view_of(M, what.c_str());
  if (v.cols == 0) throw std::invalid_argument(what + " has no columns");
  py::array_t<std::int64_t> classes(static_cast<py::ssize_t>(v.rows));
  std::int64_t* c = classes.mutable_data();
  for (std::size_t i = 0; i < v.rows; ++i) c[i] = static_cast<std::int64_t>(row_class(v.row(i), v.cols, what, i));
  return classes;
}

template <class T>
void bind_metrics(py::module_& m) {
  m.def("predicted_classes", [](const Array<T>& P, const std::string& what) {
          return classes_of(P, what, predicted_class_of_row<T>);
        }, py::arg("P").noconvert(), py::arg("what"),
        "Each row's class by the one rule (metrics.hpp's class_of_row), int64; ValueError naming "
        "the row for an output that is not finite.");
  m.def("true_classes", [](const Array<T>& Y, const std::string& what) {
          return classes_of(Y, what, true_class_of_row<T>);
        }, py::arg("Y").noconvert(), py::arg("what"),
        "Each row's true class by the same rule, int64; ValueError naming the row for a value "
        "that is not finite or a row without a single largest value (an all-zero one-hot row).");
}

void bind_files(py::module_& m) {
  m.def("read_csv", [](const std::string& path, std::size_t n_labels) {
          std::optional<CsvData> data;
          {
            ReleaseGil release;
            data.emplace(read_csv(path, n_labels));
          }
          return py::make_tuple(data->header, numpy_copy(data->X), numpy_copy(data->Y));
        }, py::arg("path"), py::arg("n_labels"),
        "(header, X, Y) of a numeric CSV file, as the command line reads it: Y its last "
        "n_labels columns, float64.");
  m.def("write_file_atomically", [](const std::string& path, const py::bytes& data) {
          std::string bytes = data;
          ReleaseGil release;
          write_file_atomically(path, bytes);
        }, py::arg("path"), py::arg("data"),
        "Write data to path atomically, as model files are written.");
  m.def("check_replaceable", [](const std::string& path) { check_replaceable(path); },
        py::arg("path"),
        "Raise what write_file_atomically(path, ...) would for the target itself (a special "
        "file, a directory, a missing directory), writing nothing.");
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
          ReleaseGil release;
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

// threadpoolctl's view of fastmlp (python/fastmlp/_threadpool.py finds the
// module's file among the loaded libraries and calls these through ctypes), so
// they keep C names and stay visible past the module's hidden symbols.
#if defined(_WIN32)
#define FASTMLP_C_EXPORT extern "C" __declspec(dllexport)
#else
#define FASTMLP_C_EXPORT extern "C" __attribute__((visibility("default")))
#endif

// The default thread count (what a fit or predict without threads= uses).
FASTMLP_C_EXPORT int fastmlp_get_num_threads() noexcept { return default_thread_count(); }

// Sets it for the whole process; 0 on success, -1 when n is outside [1, 1024].
FASTMLP_C_EXPORT int fastmlp_set_num_threads(int n) noexcept {
  if (n < 1 || n > ThreadPool::kMaxThreads) return -1;
  set_default_thread_count(n);
  return 0;
}

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
    } catch (const OptionTypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const std::invalid_argument& e) {
      set_value_error(e.what());
    } catch (const std::length_error& e) {
      set_value_error(e.what());
    }
  });
  bind_fit_options(m);
  bind_fit_result(m);
  diverged_type = PyErr_NewExceptionWithDoc(
      "fastmlp._core.Diverged",
      "A fit's loss or parameters became NaN or infinite (parameters: or too large to square); `result` is the FitResult of the "
      "epochs completed before.",
      PyExc_FloatingPointError, nullptr);
  if (diverged_type == nullptr) throw py::error_already_set();
  m.add_object("Diverged", py::handle(diverged_type));
  bind_network<double>(m, "Network64");
  bind_network<float>(m, "Network32");
  bind_model_files(m);
  bind_class_weights<double>(m);
  bind_class_weights<float>(m);
  bind_metrics<double>(m);
  bind_metrics<float>(m);
  m.attr("BINARY_THRESHOLD") = kBinaryThreshold;
  bind_files(m);
  bind_dense_ops<double>(m);
  bind_dense_ops<float>(m);
  m.def("dropout_mask", [](std::uint64_t seed, std::uint64_t epoch, std::size_t layer,
                           const std::vector<std::size_t>& rows, std::size_t units, double p) {
          if (!(p >= 0 && p < 1)) throw std::invalid_argument("p must be in [0, 1)");
          py::array_t<double> mask({rows.size(), units});
          const DropoutKey key{seed, epoch};
          for (std::size_t i = 0; i < rows.size(); ++i)
            dropout_mask_row(mask.mutable_data() + i * units, key.row_key(layer, rows[i]), units, p);
          return mask;
        }, py::arg("seed"), py::arg("epoch"), py::arg("layer"), py::arg("rows"), py::arg("units"),
        py::arg("p"),
        "The float64 dropout mask (len(rows), units) a fit with `seed` applies in `epoch` to "
        "layer `layer` for those training rows: 1 / (1 - p) where kept, 0 where dropped.");
  m.def("validation_split", [](std::size_t n, double fraction, std::uint64_t seed) {
          const RowSplit split = validation_split(n, fraction, seed);
          return py::make_tuple(py::array_t<std::size_t>(split.train.size(), split.train.data()),
                                py::array_t<std::size_t>(split.validation.size(), split.validation.data()));
        }, py::arg("n"), py::arg("fraction"), py::arg("seed"),
        "The (training, validation) row indices of a seeded split of n rows.");
  m.attr("MAX_THREADS") = ThreadPool::kMaxThreads;
  m.def("gemm_kernel", [] { return isa_name(active_isa()); }, "The GEMM micro-kernel in use.");
  m.def("default_threads", &default_thread_count,
        "The thread count of a call that names none: set_default_threads', else FASTMLP_NUM_THREADS, "
        "else the CPUs this process may use (at most OMP_NUM_THREADS).");
  m.def("set_default_threads", &set_default_thread_count, py::arg("threads"),
        "Set the default thread count of the process (0 or the natural count: follow the variables "
        "and CPUs again).");
  m.def("cli_main", [](const std::vector<std::string>& args, const std::string& data_dir,
                       py::object plot_check, py::object plot_draw) {
          cli::Environment env;
          env.data_dir = data_dir;
          // --plot: the Python callables, with the GIL taken only while they run;
          // their exceptions become the command's error (exit status 1)
          auto python_error = [] {
            const py::error_already_set e;
            return std::runtime_error("--plot: " + py::str(e.value()).cast<std::string>());
          };
          if (!plot_draw.is_none()) {
            env.plot.check = [plot_check, python_error](const std::string& path) {
              wait_if_finalizing();
              py::gil_scoped_acquire gil;
              try {
                return plot_check(path).cast<std::string>();
              } catch (py::error_already_set&) {
                throw python_error();
              }
            };
            env.plot.draw = [plot_draw, python_error](const std::string& path, const std::string& kind,
                                                      const std::vector<std::string>& names,
                                                      const Matrix<double>& table) {
              wait_if_finalizing();
              py::gil_scoped_acquire gil;
              try {
                return plot_draw(path, kind, names, numpy_copy(table)).cast<std::string>();
              } catch (py::error_already_set&) {
                throw python_error();
              }
            };
          }
          bool interrupted = false;
          env.should_stop = [&interrupted] {
            wait_if_finalizing();
            py::gil_scoped_acquire gil;
            interrupted = interrupted || PyErr_CheckSignals() != 0;
            return interrupted;
          };
          int status;
          {
            ReleaseGil release;
            std::cout.clear();  // an earlier call's lost output is not this one's
            status = cli::run(args, std::cout, std::cerr, env);
            std::cout.flush();
          }
          if (interrupted) PyErr_Clear();
          return status;
        }, py::arg("args"), py::arg("data_dir"), py::arg("plot_check") = py::none(),
        py::arg("plot_draw") = py::none(),
        "Run the fastmlp command line; returns its exit status. With plot_check(path) -> '' or why "
        "not, and plot_draw(path, kind, names, table) -> the image's bytes, --plot draws.");
}
