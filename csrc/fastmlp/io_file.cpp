// Opening files by UTF-8 path, and the atomic write: temporary file, fsync,
// rename, fsync of the directory.
#include <fastmlp/io_file.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <utility>

#include <fastmlp/rng.hpp>

#if defined(_WIN32)
#include <io.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

namespace fastmlp {

// --- paths and handles ------------------------------------------------------------

std::filesystem::path fs_path(const std::string& path) {
#if defined(_WIN32)
  return std::filesystem::u8path(path);  // Windows: the bytes are UTF-8, not the code page
#else
  return std::filesystem::path(path);
#endif
}

std::string utf8_of(const std::filesystem::path& p) {
  const auto s = p.u8string();
  return std::string(s.begin(), s.end());
}

std::FILE* open_file(const std::string& path, const char* mode) {
#if defined(_WIN32)
  std::wstring wmode(mode, mode + std::strlen(mode));
  return _wfopen(fs_path(path).c_str(), wmode.c_str());
#else
  return std::fopen(path.c_str(), mode);
#endif
}

// --- atomic writes -------------------------------------------------------------------

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  check_path(path_);
  std::filesystem::path dir = fs_path(path_).parent_path();
  if (dir.empty()) dir = ".";
  static std::atomic<std::uint64_t> counter{0};
  Rng rng(static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
          reinterpret_cast<std::uintptr_t>(this) ^ ++counter);
  for (int attempt = 0; attempt < 100; ++attempt) {
    char name[40];
    std::snprintf(name, sizeof name, ".fastmlp-%016llx.tmp",
                  static_cast<unsigned long long>(rng.next()));
    temp_ = utf8_of(dir / name);
    errno = 0;
    file_ = open_file(temp_, "wbx");  // x: fails rather than reuse an existing file
    if (file_ != nullptr) return;
    if (errno != EEXIST) break;
  }
  const int code = errno;
  temp_.clear();
  throw FileError(path_, "cannot create a temporary file in its directory", code);
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!temp_.empty() && !committed_) {
    std::error_code ignored;
    std::filesystem::remove(fs_path(temp_), ignored);
  }
}

void AtomicFile::write(const void* data, std::size_t bytes) {
  errno = 0;
  if (bytes != 0 && std::fwrite(data, 1, bytes, file_) != bytes) throw error("cannot write");
}

void AtomicFile::commit() {
  errno = 0;
  if (std::fflush(file_) != 0) throw error("cannot write");
#if defined(_WIN32)
  if (_commit(_fileno(file_)) != 0) throw error("cannot flush to disk");
#else
  if (::fsync(fileno(file_)) != 0) throw error("cannot flush to disk");
#endif
  std::FILE* f = file_;
  file_ = nullptr;
  if (std::fclose(f) != 0) throw error("cannot write");
  std::error_code ec;
  std::filesystem::rename(fs_path(temp_), fs_path(path_), ec);
  if (ec) throw FileError(path_, "cannot replace it with the new file", ec.value());
  committed_ = true;
#if !defined(_WIN32)
  // Make the rename itself durable. The new file is in place whatever this
  // returns, so a failure here is not reported as a failed write.
  const std::filesystem::path parent = fs_path(path_).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  const int fd = ::open(dir.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
#endif
}

FileError AtomicFile::error(const char* action) const {
  return FileError(path_, action, errno ? errno : EIO);
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace fastmlp
