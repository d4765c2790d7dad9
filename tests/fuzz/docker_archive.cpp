// Arbitrary bytes as a `docker save` archive (and as a rootfs image for compare): the builder
// either produces an image or throws ImageError with a reason; never a crash, hang or leak.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_support.hpp"
#include "image/image.hpp"

using namespace bootcfg;

namespace {
struct Quiet final : Progress {
    void show(const std::string&) override {}
    void clear() override {}
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const int sink = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    const int fd = ::memfd_create("fuzz-archive", MFD_CLOEXEC);
    fuzz::require(fd >= 0 && ::write(fd, data, size) == static_cast<ssize_t>(size));
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    Quiet quiet;
    SaveOptions o;
    o.input = path;
    o.output_fd = sink;
    try {
        const SaveResult r = save_to_image(o, quiet);
        fuzz::require(r.entries >= 1);  // at least ./
    } catch (const ImageError& e) {
        fuzz::require(std::string(e.what()).find(path) == 0);  // names the archive
    }
    try {
        const ImageFacts f = read_image_facts(path, quiet);
        fuzz::require(f.archive_bytes == size);
    } catch (const ImageError&) {
    }
    ::close(fd);
    return 0;
}
