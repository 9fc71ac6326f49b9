// Files by path: opening them (paths are UTF-8 bytes on every platform), and
// writing one atomically, so that a reader never sees a half-written file and
// a failed write leaves the previous file as it was.
//
// Model files and the command line's CSV outputs are written through here.
// Not a general file library: no locking, no directories.
#pragma once

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <fastmlp/errors.hpp>

namespace fastmlp {

// --- paths and handles ------------------------------------------------------------

// `path` (UTF-8 bytes) as a filesystem path.
std::filesystem::path fs_path(const std::string& path);

// `p` as UTF-8 bytes, whichever standard the code is compiled with.
std::string utf8_of(const std::filesystem::path& p);

// std::fopen of a UTF-8 path (on Windows too); nullptr with errno set on failure.
std::FILE* open_file(const std::string& path, const char* mode);

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// --- atomic writes -------------------------------------------------------------------

// A file written beside its target and renamed over it only when complete: a
// temporary file in the same directory, flushed to disk, then renamed. Until
// commit(), or when anything fails, the target is left as it was and the
// temporary is removed. Every failure is a FileError naming the target (a
// path with a NUL byte: std::invalid_argument, before anything is created).
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(const void* data, std::size_t bytes);

  // Flush to disk, close, and rename over the target.
  void commit();

 private:
  FileError error(const char* action) const;

  std::string path_, temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// Writes `bytes` to the file at `path` atomically (AtomicFile).
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace fastmlp
