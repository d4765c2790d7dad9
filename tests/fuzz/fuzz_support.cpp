#include "fuzz_support.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace bootcfg::fuzz {

namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, std::string_view text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
}

World make_world() {
    World w;
    // Per-process dir: libFuzzer's -fork/-jobs run several processes at once.
    const fs::path base =
        fs::temp_directory_path() / ("bootcfg-fuzz-" + std::to_string(::getpid()));
    fs::remove_all(base);
    static fs::path cleanup;
    cleanup = base;
    std::atexit([] {
        std::error_code ec;
        fs::remove_all(cleanup, ec);
    });
    const fs::path root = base / "assets";
    write(root / "kernel", "kernel bytes");
    write(root / "lab" / "initrd.img", std::string(4096, 'i'));
    write(base / "canary", "CANARY");
    fs::create_symlink(base / "canary", root / "out-absolute");
    fs::create_symlink("../canary", root / "out-relative");
    fs::create_directories(root / "lab" / "deeper");
    fs::create_symlink("../../../canary", root / "lab" / "deeper" / "up");
    struct stat st {};
    require(::stat((base / "canary").c_str(), &st) == 0);
    w.canary_inode = st.st_ino;
    w.canary_dev = st.st_dev;
    w.assets = std::make_unique<AssetRoot>(root.string());

    StoreContents contents = DirectorySource(BOOTCFG_FUZZ_MATCHBOX_DATA).load(nullptr);
    StoreContents layout = DirectorySource(BOOTCFG_FUZZ_EXAMPLE_DATA).load(nullptr);
    for (auto& g : layout.groups) contents.groups.push_back(std::move(g));
    for (auto& p : layout.profiles) contents.profiles.push_back(std::move(p));
    for (int k = 0; k < 3; ++k)
        for (auto& t : layout.templates[k]) contents.templates[k].push_back(std::move(t));
    require(contents.problems.empty() && layout.problems.empty());
    w.snapshot = std::make_shared<const Snapshot>(std::move(contents));
    return w;
}

}  // namespace

const World& world() {
    static const World w = make_world();
    return w;
}

bool is_canary(const World& w, int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && st.st_ino == w.canary_inode && st.st_dev == w.canary_dev;
}

std::pair<std::string_view, std::string_view> split(std::string_view in, char sep) {
    const auto at = in.find(sep);
    if (at == std::string_view::npos) return {in, {}};
    return {in.substr(0, at), in.substr(at + 1)};
}

}  // namespace bootcfg::fuzz
