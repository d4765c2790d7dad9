// Durable file replacement: readers see the old file or the new one, never a torn one, and a
// crash right after return keeps the new one.
#pragma once

#include <string>
#include <string_view>

#include "result/result.hpp"

namespace bootcfg {

// A hidden temp file beside `path` that becomes `path` on commit(). Destroying it uncommitted
// removes the temp file, so a failed run leaves nothing behind (on SIGINT, SIGTERM and SIGHUP
// too, once remove_temp_files_on_signals() is installed).
//
// A target that is not a regular file (a FIFO, a device, a socket's path, /dev/stdout on a
// pipe) is written in place, as a shell's `>` would: it is never replaced by a regular file.
// A symlink is followed, so the file it points to is replaced and the link stays.
class AtomicFile {
  public:
    AtomicFile() = default;
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;
    ~AtomicFile();

    // A failure's reason is one line naming the file.
    Result<void> open(const std::string& path, unsigned mode = 0644);
    Result<void> write(std::string_view bytes);
    int fd() const { return fd_; }
    const std::string& temp_path() const { return tmp_; }
    // fsync, rename over the target, fsync the directory.
    Result<void> commit();
    // Keeps the target as it is; true when it already held exactly the bytes written, so
    // re-running a job with the same inputs changes nothing (not even mtimes).
    bool same_as_target() const;
    void discard();

  private:
    std::string path_, tmp_;
    unsigned mode_ = 0644;
    int fd_ = -1;
    int slot_ = -1;        // in the signal handler's table of temp files
    bool direct_ = false;  // writing into a non-regular target in place
};

// Installs handlers for SIGINT, SIGTERM and SIGHUP that remove the temp files of every live
// AtomicFile and then end the process as the signal would.
void remove_temp_files_on_signals();

// Writes `bytes` to `path` through an AtomicFile.
Result<void> write_file_atomic(const std::string& path, std::string_view bytes,
                               unsigned mode = 0644);

// The whole file into `out`; false when it cannot be read.
bool read_whole(const std::string& path, std::string& out);

// Unlinks `path` and fsyncs its directory.
Result<void> remove_file_durable(const std::string& path);

// mkdir -p; a failure names the directory that could not be made.
Result<void> make_directories(const std::string& dir);

}  // namespace bootcfg
