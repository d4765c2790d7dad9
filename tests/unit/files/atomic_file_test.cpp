#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "files/atomic_file.hpp"
#include "temp_dir.hpp"

using namespace bootcfg;
namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}
std::size_t entries(const fs::path& dir) {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(dir), fs::directory_iterator{}));
}
}  // namespace

TEST_CASE("atomic file: the target holds the old bytes until commit, then the new ones") {
    test::TempDir dir;
    const auto target = dir.write("f", "old");
    AtomicFile file;
    REQUIRE(file.open(target.string(), 0600));
    REQUIRE(file.write("new bytes"));
    CHECK(slurp(target) == "old");
    CHECK(fs::exists(file.temp_path()));
    REQUIRE(file.commit());
    CHECK(slurp(target) == "new bytes");
    CHECK(entries(dir.path()) == 1);  // no temp file left
    struct stat st {};
    REQUIRE(::stat(target.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("atomic file: an uncommitted file leaves the target and nothing else") {
    test::TempDir dir;
    const auto target = dir.write("f", "old");
    std::string temp;
    {
        AtomicFile file;
        REQUIRE(file.open(target.string()));
        REQUIRE(file.write("half"));
        temp = file.temp_path();
    }
    CHECK_FALSE(fs::exists(temp));
    CHECK(slurp(target) == "old");
    CHECK(entries(dir.path()) == 1);
}

TEST_CASE("atomic file: a symlink stays and its target is replaced; a FIFO is written in place") {
    test::TempDir dir;
    const auto real = dir.write("real", "old");
    fs::create_symlink("real", dir.path() / "link");
    REQUIRE(write_file_atomic((dir.path() / "link").string(), "via link"));
    CHECK(fs::is_symlink(dir.path() / "link"));
    CHECK(slurp(real) == "via link");

    const auto fifo = dir.path() / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::string read_back;
    std::thread reader([&] { read_back = slurp(fifo); });
    REQUIRE(write_file_atomic(fifo.string(), "through the pipe"));
    reader.join();
    CHECK(read_back == "through the pipe");
    CHECK(fs::is_fifo(fifo));
}

TEST_CASE("atomic file: a target in a missing directory is refused with its name") {
    test::TempDir dir;
    const auto written = write_file_atomic((dir.path() / "no/such/f").string(), "x");
    REQUIRE_FALSE(written);
    CHECK_THAT(written.failure().reason, Catch::Contains("no/such"));
    CHECK(entries(dir.path()) == 0);
}
