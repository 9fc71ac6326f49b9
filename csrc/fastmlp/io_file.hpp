// Files by path: opening one to read (regular files only), and writing one
// atomically, so that a reader never sees a half-written file and a failed
// write leaves the previous file as it was. Paths are UTF-8 bytes on every
// platform. Model files, ONNX exports, plots and the command line's CSV
// outputs are written through here. Not a general file library: no locking,
// no directories.
//
// What a write does with what it finds at the path (decided once, here):
// - Nothing: a new file, with the mode open() would give it (0666 less the
//   umask, or the directory's default ACL).
// - A regular file: replaced by rename, keeping its permission bits, and its
//   owner and group where the system allows (as root; other users keep the
//   group when they belong to it). Hard links to the old file keep the old
//   contents, and a writable file in a directory this user cannot write is
//   EACCES: the rename needs the directory, and writing in place is not atomic.
// - A symbolic link: followed, as open() and editors follow it, so that a link
//   into a dotfiles or data folder stays a link and the file it names is
//   replaced, atomically, in that file's own directory. A dangling link
//   creates the file it names (as `>` in a shell does); a loop, or more than
//   40 links in a row, is ELOOP. Replacing the link itself would silently cut
//   it; refusing would break those folders.
// - A directory: FileError EISDIR. A FIFO, device, socket or anything else
//   that is not a regular file: FileError EINVAL naming its type, never
//   written through (a save to /dev/null stays /dev/null). Checked before the
//   temporary file is made; check_replaceable() lets a caller check before
//   any long work.
// The temporary file is created beside the target under a random name with
// O_EXCL|O_NOFOLLOW and mode 0600 (a file planted under that name is never
// opened, and the data are private until the final mode is set), flushed with
// fsync, renamed over the target, then the directory is fsynced. Writers of
// one path that race (threads or processes) each write their own temporary;
// the last rename wins with a complete file, and none leaves a temporary.
// Errors: a path with a NUL byte is std::invalid_argument before anything is
// touched; everything else (ENOSPC, EDQUOT, EACCES, EROFS, ENAMETOOLONG, a
// missing directory...) is a FileError naming the path as given, with the
// system's errno, the temporary removed and the old file untouched. Only a
// process killed mid-write can leave a temporary (.fastmlp-*.tmp) behind.
#pragma once

#include <cstddef>
#include <cstdint>
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

struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// A regular file open for reading, and its size when opened.
struct ReadFile {
  FilePtr file;
  std::uint64_t size = 0;
};

// Opens the regular file at `path` (symlinks followed) to read. A directory is
// FileError EISDIR, anything else that is not a regular file (a FIFO, a device
// such as /dev/zero, a socket) FileError EINVAL naming its type: such a file
// has no size to check and may never end or never answer, so it is refused
// without being read, and a FIFO without a writer does not block the opening.
// A NUL byte in the path: std::invalid_argument.
ReadFile open_for_reading(const std::string& path);

// --- atomic writes -------------------------------------------------------------------

// Throws what AtomicFile(path) would throw for the target itself (a NUL byte,
// a directory, a special file, a symlink loop, a missing directory), without
// writing anything: a check for callers to make before long work.
void check_replaceable(const std::string& path);

// A file written beside its target and renamed over it only when complete (see
// the top of this file). Until commit(), or when anything fails, the target is
// left as it was and the temporary is removed.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(const void* data, std::size_t bytes);

  // Set the final mode and owner, flush to disk, close, and rename over the target.
  void commit();

 private:
  FileError error(const char* action) const;

  std::string path_;  // as given: what messages name
  std::string name_;  // the entry replaced (symlinks followed): a name in dir_ (POSIX), a path (Windows)
  std::string temp_;  // the temporary's name in dir_ (POSIX), its path (Windows)
  int dir_ = -1;      // the target's directory, held open (POSIX)
  bool replaces_ = false;  // an existing regular file is replaced: keep its mode and owner
  std::uint32_t mode_ = 0, uid_ = 0, gid_ = 0;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// Writes `bytes` to the file at `path` atomically (AtomicFile).
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace fastmlp
