#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "cli/flags.hpp"
#include "cli/terminal.hpp"
#include "image/archive_io.hpp"
#include "image/image.hpp"
#include "image/layer_merge.hpp"
#include "temp_dir.hpp"

using namespace bootcfg;

namespace {

struct Layer {
    std::vector<archive_io::EntryPtr> entries;
    Layer& file(const char* path) { return add(path, AE_IFREG, nullptr); }
    Layer& dir(const char* path) { return add(path, AE_IFDIR, nullptr); }
    Layer& link(const char* path, const char* target) { return add(path, AE_IFREG, target); }
    Layer& symlink(const char* path, const char* target) {
        add(path, AE_IFLNK, nullptr);
        archive_entry_set_symlink(entries.back().get(), target);
        return *this;
    }
    Layer& add(const char* path, unsigned type, const char* hardlink) {
        archive_io::EntryPtr e(archive_entry_new());
        archive_entry_set_pathname(e.get(), path);
        archive_entry_set_filetype(e.get(), type);
        if (hardlink) archive_entry_set_hardlink(e.get(), hardlink);
        entries.push_back(std::move(e));
        return *this;
    }
};

LayerMerge merge(std::vector<Layer>& layers) {
    LayerMerge m;
    for (std::uint32_t i = 0; i < layers.size(); ++i) {
        std::uint32_t n = 0;
        for (auto& e : layers[i].entries)
            m.add(i, n++, archive_io::clean_member_path(archive_entry_pathname(e.get()), "t"),
                  e.get(), "layer");
    }
    m.finish();
    return m;
}

}  // namespace

TEST_CASE("layer merge: whiteouts hide lower layers only", "[build]") {
    std::vector<Layer> layers(3);
    layers[0]
        .dir("etc")
        .file("etc/a")
        .file("etc/b")
        .dir("opt")
        .dir("opt/d")
        .file("opt/d/x")
        .dir("opt/d/sub")
        .file("opt/d/sub/y");
    layers[1]
        .file("etc/.wh.a")
        .dir("opt/d")
        .file("opt/d/.wh..wh..opq")
        .file("opt/d/z")
        .dir("opt/d/sub");
    layers[2].file("etc/a");
    LayerMerge m = merge(layers);
    CHECK(m.survivors(2, 0, "etc/a") ==
          std::vector<std::string>{"etc/a"});  // re-added above the whiteout
    CHECK(m.survivors(0, 1, "etc/a").empty());
    CHECK(m.survivors(0, 2, "etc/b") == std::vector<std::string>{"etc/b"});
    CHECK(m.survivors(0, 5, "opt/d/x").empty());      // hidden by the opaque marker
    CHECK(m.survivors(0, 7, "opt/d/sub/y").empty());  // also below a dir the upper layer re-made
    CHECK(m.survivors(1, 3, "opt/d/z") == std::vector<std::string>{"opt/d/z"});
    CHECK(m.directory("opt/d/sub") != nullptr);
    CHECK(LayerMerge::is_whiteout("etc/.wh.a"));
    CHECK_FALSE(LayerMerge::is_whiteout("etc/a.wh.b"));
}

TEST_CASE("layer merge: hardlinks keep the data they were made to", "[build]") {
    std::vector<Layer> layers(3);
    layers[0].file("lib/x").file("bin/tool");
    layers[1].link("lib/copy", "lib/x").link("bin/t2", "bin/tool");
    layers[2].file("lib/.wh.x").link("bin/t3", "bin/t2");
    LayerMerge m = merge(layers);
    // lib/x is gone, but its data lives on as lib/copy
    CHECK(m.survivors(0, 0, "lib/x") == std::vector<std::string>{"lib/copy"});
    CHECK(m.survivors(0, 1, "bin/tool") ==
          std::vector<std::string>{"bin/tool", "bin/t2", "bin/t3"});

    // Applied in order, as Docker and umoci do: a link made before its target is whited out
    // or replaced in the same layer keeps the data it was made to.
    std::vector<Layer> same_layer(2);
    same_layer[0].file("h1").file("h2");
    same_layer[1].link("l1", "h1").file(".wh.h1").link("l2", "h2").file("h2");
    LayerMerge s = merge(same_layer);
    CHECK(s.survivors(0, 0, "h1") == std::vector<std::string>{"l1"});
    CHECK(s.survivors(0, 1, "h2") == std::vector<std::string>{"l2"});
    CHECK(s.survivors(1, 3, "h2") == std::vector<std::string>{"h2"});

    std::vector<Layer> bad(1);
    bad[0].link("a", "nowhere");
    CHECK_THROWS_WITH(merge(bad), Catch::Contains("points to 'nowhere'"));
    std::vector<Layer> to_dir(1);
    to_dir[0].dir("d").link("a", "d");
    CHECK_THROWS_WITH(merge(to_dir), Catch::Contains("the directory 'd'"));
}

TEST_CASE("layer merge: a directory replaced by a file takes its contents", "[build]") {
    std::vector<Layer> layers(2);
    layers[0].dir("srv").dir("srv/t").file("srv/t/in");
    layers[1].file("srv/t");
    LayerMerge m = merge(layers);
    CHECK(m.survivors(0, 2, "srv/t/in").empty());
    CHECK(m.directory("srv/t") == nullptr);
    CHECK(m.survivors(1, 0, "srv/t") == std::vector<std::string>{"srv/t"});
}

TEST_CASE("layer merge: a file beneath a lower layer's symlink lands where the link leads",
          "[build]") {
    std::vector<Layer> layers(2);
    layers[0].dir("usr").dir("usr/lib").symlink("lib", "/usr/lib").symlink("rel", "usr/lib/../lib");
    layers[1].file("lib/a").file("rel/b").file("usr/lib/c");
    LayerMerge m = merge(layers);
    CHECK(m.placed(1, 0, "lib/a") == "usr/lib/a");
    CHECK(m.survivors(1, 0, "usr/lib/a") == std::vector<std::string>{"usr/lib/a"});
    CHECK(m.placed(1, 1, "rel/b") == "usr/lib/b");  // through two links
    CHECK(m.placed(1, 2, "usr/lib/c") == "usr/lib/c");
    CHECK(m.survivors(0, 2, "lib") == std::vector<std::string>{"lib"});  // the link itself stays

    std::vector<Layer> loop(2);
    loop[0].symlink("a", "b").symlink("b", "a");
    loop[1].file("a/x");
    CHECK_THROWS_WITH(merge(loop), Catch::Contains("more than 40 symlinks"));
}

TEST_CASE("layer merge: a whiteout must name something", "[build]") {
    for (const char* name : {".wh.", "etc/.wh.", "etc/.wh..", "etc/.wh..."}) {
        std::vector<Layer> layers(2);
        layers[0].dir("etc").file("etc/a");
        layers[1].file(name);
        CHECK_THROWS_WITH(merge(layers), Catch::Contains("names nothing"));
    }
}

TEST_CASE("member paths are cleaned and may not climb out", "[build]") {
    CHECK(archive_io::clean_member_path("./etc//hosts/", "t") == "etc/hosts");
    CHECK(archive_io::clean_member_path("/abs/x", "t") == "abs/x");
    CHECK(archive_io::clean_member_path("./", "t").empty());
    CHECK_THROWS_WITH(archive_io::clean_member_path("a/../../etc", "layer 2"),
                      Catch::Contains("layer 2") && Catch::Contains("'..'"));
    CHECK(archive_io::symlink_destination("a/b/link", "../c") == "a/c");
    CHECK(archive_io::symlink_destination("a/link", "/usr/lib") == "usr/lib");
    CHECK(archive_io::symlink_destination("link", "../../../etc") == "etc");  // stops at the root
}

TEST_CASE("kernel versions order like sort -V", "[build]") {
    CHECK(version_less("5.10.0-9-amd64", "5.10.0-10-amd64"));
    CHECK_FALSE(version_less("5.10.0-10-amd64", "5.10.0-9-amd64"));
    CHECK(version_less("4.19.0", "5.4.0"));
    CHECK(version_less("6.1.0~rc1", "6.1.0"));
    CHECK(version_less("6.1.0", "6.1.0a"));
    CHECK_FALSE(version_less("6.1.0", "6.1.0"));
    CHECK(version_less("6.5.6-200.fc39", "6.5.6-300.fc39"));
}

TEST_CASE("dpkg status: installed packages, foreign architectures apart", "[build]") {
    const std::string status =
        "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n"
        "Description: x\n continued: not a field\n\n"
        "Package: b\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 2\n\n"
        "Package: a\nStatus: install ok installed\nArchitecture: i386\nVersion: 1\n\n"
        "Package: c\nStatus: install ok installed\nArchitecture: all\nVersion: 3\n";
    const auto p = parse_dpkg_status(status);
    CHECK(p == std::map<std::string, std::string>{{"a", "1"}, {"a:i386", "1"}, {"c", "3"}});
    ImageFacts old_facts, new_facts;
    old_facts.has_dpkg = new_facts.has_dpkg = true;
    old_facts.packages = {{"a", "1"}, {"gone", "1"}, {"same", "2"}};
    new_facts.packages = {{"a", "2"}, {"new", "1"}, {"same", "2"}};
    const auto c = compare_images(old_facts, new_facts);
    REQUIRE(c.updated.size() == 1);
    CHECK(c.updated[0].name == "a");
    CHECK(c.added == std::vector<std::pair<std::string, std::string>>{{"new", "1"}});
    CHECK(c.removed == std::vector<std::pair<std::string, std::string>>{{"gone", "1"}});
}

TEST_CASE("parallel gzip: one stream of members that reads back whole", "[build]") {
    test::TempDir dir;
    // 3.5 blocks of data that does not repeat within a block, so members differ
    std::string data;
    for (std::uint32_t i = 0; data.size() < 7 * archive_io::ParallelGzip::kBlock / 2; ++i)
        data += std::to_string(i * 2654435761u) + (i % 7 ? " " : "\n");
    auto compress = [&](const std::string& name) {
        const auto path = (dir.path() / name).string();
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        REQUIRE(fd >= 0);
        {
            archive_io::ParallelGzip gz(fd, path);
            // uneven writes across block edges
            for (std::size_t at = 0; at < data.size(); at += 300007)
                gz.write(data.data() + at, std::min<std::size_t>(300007, data.size() - at));
            gz.finish();
        }
        ::close(fd);
        return path;
    };
    const auto a = compress("a.gz"), b = compress("b.gz");
    bool compressed = false;
    archive_io::Reader r = archive_io::Reader::decompressing(a, compressed);
    CHECK(compressed);
    std::string back;
    char buf[65536];
    while (const std::size_t n = r.read(buf, sizeof buf)) back.append(buf, n);
    CHECK(back.size() == data.size());
    CHECK(back == data);
    std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
    const std::string bytes_a((std::istreambuf_iterator<char>(fa)), {}),
        bytes_b((std::istreambuf_iterator<char>(fb)), {});
    CHECK(bytes_a == bytes_b);  // the same input, the same bytes
    // four members, each starting with the gzip magic and no timestamp
    std::size_t members = 0;
    for (std::size_t at = bytes_a.find("\x1f\x8b\x08"); at != std::string::npos;
         at = bytes_a.find("\x1f\x8b\x08", at + 1))
        if (bytes_a.compare(at + 4, 4, std::string(4, '\0')) == 0) ++members;
    CHECK(members >= 4);

    // nothing written at all is still a valid (empty) gzip stream
    const auto empty = (dir.path() / "empty.gz").string();
    const int fd = ::open(empty.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    {
        archive_io::ParallelGzip gz(fd, empty);
        gz.finish();
    }
    ::close(fd);
    CHECK(std::filesystem::file_size(empty) > 0);
}

TEST_CASE("LinuxKit's Equinix Metal iPXE scripts", "[build]") {
    CHECK(equinix_ipxe_script("lk", "http://h/x", "console=ttyS0", "x86_64") ==
          "#!ipxe\n\ndhcp\nset base-url http://h/x\n"
          "set kernel-params ip=dhcp nomodeset ro serial console=ttyS1,115200 console=ttyS0\n"
          "kernel ${base-url}/lk-kernel ${kernel-params}\ninitrd ${base-url}/lk-initrd.img\nboot");
    // The cmdline names ttyS1 already: LinuxKit leaves the slot empty (two spaces).
    CHECK(equinix_ipxe_script("lk", "u", "console=ttyS1,115200", "x86_64")
              .find("ro serial  console=ttyS1,115200\n") != std::string::npos);
    CHECK(equinix_ipxe_script("lk", "u", "c", "aarch64") ==
          "#!ipxe\n\ndhcp\nset base-url u\ninitrd --name initrd ${base-url}/lk-initrd.img\n"
          "set kernel-params ip=dhcp nomodeset ro c\n"
          "kernel ${base-url}/lk-kernel initrd=initrd root=/dev/ram0 ${kernel-params}\nboot");
}

TEST_CASE("command-line flags", "[cli]") {
    const std::vector<FlagSpec> spec = {
        {"--dir"}, {"--keep", false}, {"-o", true, "--output"}, {"--mac"}};
    auto f = parse_flags(
        {"NAME", "-dir", "d", "--keep", "--output=x", "--mac", "a", "--mac=b", "--", "-x"}, spec);
    CHECK(f.words == std::vector<std::string>{"NAME", "-x"});
    CHECK(f.get("--dir") == "d");
    CHECK(f.flag("--keep"));
    CHECK(f.get("-o") == "x");
    CHECK(f.all("--mac") == std::vector<std::string>{"a", "b"});
    CHECK_FALSE(parse_flags({"--keep=false"}, spec).flag("--keep", true));
    auto message = [&](std::vector<std::string> args) {
        try {
            parse_flags(args, spec);
        } catch (const UsageError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(message({"--nope"}) == "unknown flag --nope");
    CHECK(message({"--dir"}) == "--dir needs a value");
    CHECK(message({"--keep=maybe"}) == "--keep=maybe: expected true or false");
}

TEST_CASE("terminal text: controls shown, UTF-8 kept", "[cli]") {
    CHECK(terminal_safe("plain text\tand\nlines") == "plain text\tand\nlines");
    CHECK(terminal_safe("a\nb", false) == "a\\x0ab");
    CHECK(terminal_safe("\x1b]0;title\x07\r") == "\\x1b]0;title\\x07\\x0d");
    CHECK(terminal_safe("caf\xc3\xa9 \xe2\x82\xac") == "caf\xc3\xa9 \xe2\x82\xac");
    CHECK(terminal_safe("\xc2\x9b"
                        "31m") == "\\u009b31m");  // C1 CSI in UTF-8
    CHECK(terminal_safe("\x9b"
                        "31m\xff") == "\\x9b31m\\xff");  // not UTF-8
    CHECK(terminal_safe("\xe2\x82") == "\\xe2\\x82");    // cut off
    CHECK(terminal_safe("\x7f") == "\\x7f");
}

TEST_CASE("connection flags may come before the command", "[cli]") {
    std::vector<std::string> args{"--endpoint", "unix:/s", "-o=json", "group", "list", "--", "x"};
    move_global_flags(args);
    CHECK(args ==
          std::vector<std::string>{"group", "list", "--endpoint", "unix:/s", "-o=json", "--", "x"});
    std::vector<std::string> plain{"group", "list", "--endpoint", "e"};
    move_global_flags(plain);
    CHECK(plain == std::vector<std::string>{"group", "list", "--endpoint", "e"});
    std::vector<std::string> other{"--image", "x", "image"};  // not a connection flag: left
    move_global_flags(other);
    CHECK(other.front() == "--image");
}
