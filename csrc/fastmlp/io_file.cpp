// Opening regular files to read, and the atomic write: symlinks followed to the
// target, a random temporary beside it, fsync, rename, fsync of the directory.
// The rules are in io_file.hpp's header comment.
#include <fastmlp/io_file.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

#include <fastmlp/rng.hpp>

#if defined(_WIN32)
#include <io.h>
#include <sys/stat.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
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

namespace {

// The error for a file that is not a regular one: EISDIR for a directory,
// EINVAL naming the type for anything else. `verb`: "read", "replace".
FileError not_regular(const std::string& path, const char* verb, bool is_dir, const char* type) {
  return FileError(path, std::string("cannot ") + verb + " " + (is_dir ? "a directory" : type) +
                             ", not a regular file",
                   is_dir ? EISDIR : EINVAL);
}

#if defined(_WIN32)

const char* type_name(unsigned short mode) {
  return (mode & _S_IFMT) == _S_IFCHR ? "a character device" : "a special file";
}

#else

const char* type_name(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "a special file";
}

// A descriptor closed when it goes out of scope, unless released.
class Fd {
 public:
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(-1); }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// `path` split at its last '/' into a directory ("." when none) and a name.
std::pair<std::string, std::string> split(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// Linux's own limit on symbolic links followed in one lookup.
constexpr int kMaxLinks = 40;

// The text of the symbolic link `name` in the directory `dir`.
std::string read_link(int dir, const std::string& name, const std::string& path) {
  std::vector<char> buf(4096);
  for (;;) {
    const ssize_t n = ::readlinkat(dir, name.c_str(), buf.data(), buf.size());
    if (n < 0) throw FileError(path, "cannot read its symbolic link", errno);
    if (static_cast<std::size_t>(n) < buf.size()) return std::string(buf.data(), static_cast<std::size_t>(n));
    if (buf.size() >= (1u << 16)) throw FileError(path, "cannot read its symbolic link", ENAMETOOLONG);
    buf.resize(buf.size() * 2);
  }
}

// What a write to `path` replaces: the directory holding it (open), the
// entry's name there, and its status when it exists. Symbolic links are
// followed; a target that exists and is not a regular file is refused.
struct Target {
  int dir = -1;  // the caller closes it
  std::string name;
  bool exists = false;
  struct stat st {};
};

Target find_target(const std::string& path) {
  check_path(path);
  if (path.empty()) throw FileError(path, "cannot save there", ENOENT);  // as open("") fails
  auto [dir_path, name] = split(path);
  Fd dir(::open(dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) throw FileError(path, "cannot save there", errno);
  for (int links = 0;; ++links) {
    if (name.empty() || name == "." || name == "..") throw not_regular(path, "replace", true, "");
    struct stat st {};
    if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT) throw FileError(path, "cannot look it up", errno);
      return Target{dir.release(), name, false, {}};
    }
    if (!S_ISLNK(st.st_mode)) {
      if (!S_ISREG(st.st_mode))
        throw not_regular(path, "replace", S_ISDIR(st.st_mode), type_name(st.st_mode));
      return Target{dir.release(), name, true, st};
    }
    if (links == kMaxLinks) throw FileError(path, "cannot follow its symbolic links", ELOOP);
    const std::string link = read_link(dir.get(), name, path);
    if (link.empty()) throw FileError(path, "cannot follow its symbolic link", ENOENT);
    auto [link_dir, link_name] = split(link);
    if (link.find('/') != std::string::npos) {
      // relative to the link's own directory; an absolute one ignores it
      const int next = ::openat(dir.get(), link_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (next < 0) throw FileError(path, "cannot open the directory its symbolic link names", errno);
      dir.reset(next);
    }
    name = std::move(link_name);
  }
}

#endif

}  // namespace

ReadFile open_for_reading(const std::string& path) {
  check_path(path);
#if defined(_WIN32)
  errno = 0;
  FilePtr file(_wfopen(fs_path(path).c_str(), L"rb"));
  if (!file) throw FileError(path, "cannot open for reading", errno ? errno : EIO);
  struct _stat64 st;
  if (_fstat64(_fileno(file.get()), &st) != 0) throw FileError(path, "cannot read", errno);
  if ((st.st_mode & _S_IFMT) != _S_IFREG)
    throw not_regular(path, "read", (st.st_mode & _S_IFMT) == _S_IFDIR, type_name(st.st_mode));
  return ReadFile{std::move(file), static_cast<std::uint64_t>(st.st_size)};
#else
  // The type first, so that a device is never opened (opening some has effects);
  // then open without blocking (a FIFO put in its place would wait for a writer)
  // and check again what was opened.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw FileError(path, "cannot open for reading", errno);
  if (!S_ISREG(st.st_mode)) throw not_regular(path, "read", S_ISDIR(st.st_mode), type_name(st.st_mode));
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (fd.get() < 0) throw FileError(path, "cannot open for reading", errno);
  if (::fstat(fd.get(), &st) != 0) throw FileError(path, "cannot read", errno);
  if (!S_ISREG(st.st_mode)) throw not_regular(path, "read", S_ISDIR(st.st_mode), type_name(st.st_mode));
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
    throw FileError(path, "cannot open for reading", errno);
  FilePtr file(::fdopen(fd.get(), "rb"));
  if (!file) throw FileError(path, "cannot open for reading", errno);
  fd.release();
  return ReadFile{std::move(file), static_cast<std::uint64_t>(st.st_size)};
#endif
}

// --- atomic writes -------------------------------------------------------------------

#if defined(_WIN32)

namespace {

// Windows: the target with its links followed by std::filesystem; no mode or owner to keep.
std::filesystem::path windows_target(const std::string& path) {
  check_path(path);
  std::filesystem::path p = fs_path(path);
  std::error_code ec;
  if (std::filesystem::is_symlink(std::filesystem::symlink_status(p, ec))) {
    p = std::filesystem::weakly_canonical(p, ec);
    if (ec) throw FileError(path, "cannot follow its symbolic links", ELOOP);
  }
  const auto st = std::filesystem::status(p, ec);
  if (std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
    throw not_regular(path, "replace", std::filesystem::is_directory(st), "a special file");
  return p;
}

}  // namespace

void check_replaceable(const std::string& path) { windows_target(path); }

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  const std::filesystem::path target = windows_target(path_);
  name_ = utf8_of(target);
  std::filesystem::path dir = target.parent_path();
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
    file_ = _wfopen(fs_path(temp_).c_str(), L"wbx");  // x: never an existing file
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

void AtomicFile::commit() {
  errno = 0;
  if (std::fflush(file_) != 0) throw error("cannot write");
  if (_commit(_fileno(file_)) != 0) throw error("cannot flush to disk");
  std::FILE* f = std::exchange(file_, nullptr);
  if (std::fclose(f) != 0) throw error("cannot write");
  std::error_code ec;
  std::filesystem::rename(fs_path(temp_), fs_path(name_), ec);
  if (ec) throw FileError(path_, "cannot replace it with the new file", EIO);
  committed_ = true;
}

#else

void check_replaceable(const std::string& path) { ::close(find_target(path).dir); }

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  Target target = find_target(path_);
  dir_ = target.dir;
  name_ = std::move(target.name);
  replaces_ = target.exists;
  mode_ = static_cast<std::uint32_t>(target.st.st_mode & 07777);
  uid_ = static_cast<std::uint32_t>(target.st.st_uid);
  gid_ = static_cast<std::uint32_t>(target.st.st_gid);
  // The name only has to be hard to guess: O_EXCL makes a clash fail, not reuse.
  static std::atomic<std::uint64_t> counter{0};
  Rng rng(static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
          (static_cast<std::uint64_t>(::getpid()) << 32) ^ reinterpret_cast<std::uintptr_t>(this) ^
          ++counter);
  // A new file is created with the mode open() gives (umask, default ACL) and
  // keeps it; a replacement starts private and gets the old mode at commit.
  const mode_t create_mode = replaces_ ? 0600 : 0666;
  int code = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    char name[40];
    std::snprintf(name, sizeof name, ".fastmlp-%016llx.tmp",
                  static_cast<unsigned long long>(rng.next()));
    const int fd = ::openat(dir_, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, create_mode);
    if (fd < 0) {
      code = errno;
      if (code == EEXIST) continue;
      break;
    }
    temp_ = name;
    file_ = ::fdopen(fd, "wb");
    if (file_ != nullptr) return;
    code = errno;
    ::close(fd);
    break;
  }
  if (!temp_.empty()) ::unlinkat(dir_, temp_.c_str(), 0);
  ::close(dir_);
  throw FileError(path_, "cannot create a temporary file in its directory", code ? code : EEXIST);
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!temp_.empty() && !committed_) ::unlinkat(dir_, temp_.c_str(), 0);
  ::close(dir_);
}

void AtomicFile::commit() {
  errno = 0;
  if (std::fflush(file_) != 0) throw error("cannot write");
  const int fd = fileno(file_);
  if (replaces_) {
    // Owner before mode: a change of owner clears set-user-ID bits. Not
    // allowed (not root): keep at least the group when the user is in it.
    // Neither allowed: the new file is this user's, as any editor's save would make it.
    const bool kept = ::fchown(fd, uid_, gid_) == 0 || ::fchown(fd, static_cast<uid_t>(-1), gid_) == 0;
    (void)kept;
    if (::fchmod(fd, static_cast<mode_t>(mode_)) != 0) throw error("cannot set its mode");
  }
  if (::fsync(fd) != 0) throw error("cannot flush to disk");
  std::FILE* f = std::exchange(file_, nullptr);
  if (std::fclose(f) != 0) throw error("cannot write");
  if (::renameat(dir_, temp_.c_str(), dir_, name_.c_str()) != 0)
    throw error("cannot replace it with the new file");
  committed_ = true;
  // Make the rename itself durable. The new file is in place whatever this
  // returns, so a failure here is not reported as a failed write.
  ::fsync(dir_);
}

#endif

void AtomicFile::write(const void* data, std::size_t bytes) {
  errno = 0;
  if (bytes != 0 && std::fwrite(data, 1, bytes, file_) != bytes) throw error("cannot write");
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
