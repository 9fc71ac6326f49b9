// Model files: a network saved in the safetensors layout, so that Python, C++,
// the command line and any safetensors reader open the same file.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON (padded with
// spaces), then the tensors' raw little-endian bytes: layers.{i}.weight (in, out)
// and layers.{i}.bias (out), all F64 or all F32. The header's __metadata__ holds
// strings: format ("fastmlp"), format_version ("1"), sizes ("4,5,3"),
// activations (one per dense layer, "sigmoid,sigmoid"), leaky_slope, loss,
// reduction; dropout (one training rate per hidden layer) for a network that
// drops; when known, init, seed, feature_names, task, classes, classes_type
// and target_names (ModelInfo); and any entries a caller adds (the Python
// package stores its own).
// Reading trusts nothing and checks every number before it sizes anything. Not
// a general safetensors library: only networks, in this layout.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <fastmlp/errors.hpp>
#include <fastmlp/network.hpp>

namespace fastmlp {

// Metadata entries beside the format's own, string to string.
using Metadata = std::map<std::string, std::string>;

// --- errors ----------------------------------------------------------------------

// Model data that breaks the format; the message says what is wrong (and, from
// load, names the file).
class ModelFileError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// --- limits -------------------------------------------------------------------------

constexpr std::size_t kMaxHeaderBytes = 100'000'000;  // the safetensors package's own cap
constexpr std::size_t kMaxLayers = 10'000;            // dense layers in one file
constexpr const char* kFormatName = "fastmlp";
constexpr const char* kFormatVersion = "1";

// What the network's outputs mean: one output per class, or per target.
enum class Task { Classification, Regression };

const char* task_name(Task task);
Task task_from_name(const std::string& name);  // std::invalid_argument naming the choices

// Why a network of `loss` whose output layer is `output` cannot be a model of
// `task`, or "" when it can: the one rule that the command line's train, model
// files (written and read) and Python's Network.task and classes follow. A
// classifier's outputs are scores of classes; the Poisson loss and the exp
// output (its log link) model counts or rates, a regression. (Other outputs
// trained with mse score classes: the article's sigmoid, or least squares.)
std::string task_problem(Task task, Loss loss, Activation output);

// What a file records of how its network was made and what its inputs and
// outputs are, beside the network: each entry written when known (a vector when
// non-empty), and checked when read (absent from files that lack it). Lists are
// stored as JSON arrays of strings.
struct ModelInfo {
  std::optional<Init> init;           // "init": the weights' initialisation
  std::optional<std::uint64_t> seed;  // "seed": the initialisation's seed
  // "epochs": the epochs trained so far, over every fit; a fit of the loaded
  // network continues their count, so its shuffles and dropout masks are
  // those of one uninterrupted run.
  std::optional<std::uint64_t> epochs;
  // "feature_names": one per input, unique; predict/eval match columns by them.
  std::vector<std::string> feature_names;
  // "task". Files without it keep any classes, classes_type and target_names
  // entries in Model::extra, uninterpreted (written before those keys were the
  // format's).
  std::optional<Task> task;
  // "classes" (classification only): the labels in output order, as scikit-learn's
  // classes_ (sorted); one per output, or 2 for a single sigmoid output (output >
  // 0.5 means class_names[1]). Unique.
  std::vector<std::string> class_names;
  // "classes_type": how Python restores classes_ values: "str", "int", "float" or
  // "bool" (only with class_names).
  std::string classes_type;
  // "target_names" (regression only): one per output, unique.
  std::vector<std::string> target_names;
};

// --- writing ------------------------------------------------------------------------

// The whole file as bytes. `extra` entries are stored in __metadata__ beside the
// format's own keys, which they may not reuse (std::invalid_argument); an info
// inconsistent with the network (lengths, duplicates, classes without the task
// classification) is std::invalid_argument too.
template <class T>
std::string to_safetensors(const Network<T>& net, const ModelInfo& info = {}, const Metadata& extra = {});

// Write the file at `path` atomically: a temporary file in the same directory,
// flushed to disk, then renamed over `path`. On any failure the temporary is
// removed, a previous file at `path` is left as it was, and FileError is thrown.
template <class T>
void save(const Network<T>& net, const std::string& path, const ModelInfo& info = {},
          const Metadata& extra = {});

// --- reading ------------------------------------------------------------------------

// A loaded network, in the precision the file stores, and the file's extra entries.
struct Model {
  std::variant<Network<double>, Network<float>> network;
  ModelInfo info;
  Metadata extra;
};

// The model in `size` bytes at `data`; ModelFileError unless they are a valid file.
Model from_safetensors(const void* data, std::size_t size);

// The model in the file at `path`: FileError if it cannot be read, ModelFileError
// (naming the file) if its contents are not a valid model file.
Model load(const std::string& path);

}  // namespace fastmlp
