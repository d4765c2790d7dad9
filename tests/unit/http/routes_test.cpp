#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <iterator>

#include "http/routes.hpp"
#include "temp_dir.hpp"

using namespace bootcfg;
using bootcfg::test::TempDir;

namespace {

struct Fixture {
    TempDir data;
    TempDir assets_dir;
    std::shared_ptr<const Snapshot> snapshot;
    std::unique_ptr<AssetRoot> assets;

    Fixture() {
        data.write("boot/default", R"({"kernel":"/images/k","initrd":["/images/i"]})");
        data.write("boot/mac/52:54:00:12:34:56",
                   R"({"kernel":"/images/k","initrd":["/images/i"],"cmdline":{"node":"1"}})");
        data.write("cloud/mac/52:54:00:12:34:56", "#cloud-config\nnode: 1\n");
        assets_dir.write("lab/kernel.bin", std::string(1000, 'k'));
        snapshot = std::make_shared<const Snapshot>(DirectorySource(data.path()).load(nullptr));
        assets = std::make_unique<AssetRoot>(assets_dir.path().string());
    }

    Reply get(std::string_view target, ConditionalHeaders cond = {},
              std::string_view method = "GET") {
        Reply r = route(*snapshot, assets.get(), MachineRequest{method, target, cond});
        return r;
    }
};

std::string header(const Reply& r, std::string_view name) {
    for (const auto& [n, v] : r.headers)
        if (n == name) return v;
    return "";
}

}  // namespace

TEST_CASE("routes: machine endpoints") {
    Fixture f;
    auto r = f.get("/ipxe?uuid=&mac=52-54-00-12-34-56&domain=&hostname=&serial=&arch=i386");
    CHECK(r.status == 200);
    CHECK(r.body == "#!ipxe\nkernel /images/k node=1 initrd=i\ninitrd --name i /images/i\nboot\n");
    CHECK(r.selected == "bootcfg:mac/52:54:00:12:34:56");

    r = f.get("/ipxe?mac=52-54-00-00-00-00");
    CHECK(r.body == "#!ipxe\nkernel /images/k initrd=i\ninitrd --name i /images/i\nboot\n");
    CHECK(r.selected == "bootcfg:default");

    r = f.get("/ipxe?mac=52-54-00");
    CHECK(r.status == 400);
    CHECK(r.body == "malformed mac '52-54-00'\n");

    r = f.get("/pixiecore/v1/boot/52:54:00:12:34:56");
    CHECK(r.status == 200);
    CHECK(r.content_type == "application/json");
    CHECK(r.body == R"({"kernel":"/images/k","initrd":["/images/i"],"cmdline":"node=1"})"
                    "\n");
    CHECK(f.get("/pixiecore/v1/boot/nonsense").status == 400);

    r = f.get("/cloud?mac=52:54:00:12:34:56");
    CHECK(r.body == "#cloud-config\nnode: 1\n");
    r = f.get("/cloud?mac=52:54:00:12:34:57");
    CHECK(r.status == 404);
    CHECK(r.body == "no cloud-config matches labels mac=52:54:00:12:34:57\n");

    CHECK(f.get("/boot.ipxe").body.rfind("#!ipxe\nchain ipxe?uuid=${uuid}", 0) == 0);
    CHECK(f.get("/boot.ipxe.0").status == 200);
    CHECK(f.get("/healthz").body == "ok\n");
    CHECK(f.get("/").status == 200);
    CHECK(f.get("/nope").status == 404);
    CHECK(f.get("http://host:8080/healthz").body == "ok\n");  // absolute-form target
}

TEST_CASE("routes: no default config gives a 404 naming the labels") {
    TempDir data;
    data.write("boot/mac/52:54:00:12:34:56", R"({"kernel":"/k"})");
    Snapshot s(DirectorySource(data.path()).load(nullptr));
    auto r = route(s, nullptr, MachineRequest{"GET", "/ipxe?mac=52:54:00:aa:bb:cc&uuid=x", {}});
    CHECK(r.status == 404);
    CHECK(r.body == "no boot config matches labels mac=52:54:00:aa:bb:cc,uuid=x\n");
    r = route(s, nullptr, MachineRequest{"GET", "/pixiecore/v1/boot/52-54-00-aa-bb-cc", {}});
    CHECK(r.status == 404);
}

TEST_CASE("routes: only GET and HEAD") {
    Fixture f;
    auto r = f.get("/ipxe", {}, "POST");
    CHECK(r.status == 405);
    CHECK(header(r, "Allow") == "GET, HEAD");
    CHECK(f.get("/ipxe?mac=52:54:00:12:34:56", {}, "HEAD").status == 200);
}

TEST_CASE("routes: assets under /assets and /images") {
    Fixture f;
    auto r = f.get("/assets/lab/kernel.bin");
    CHECK(r.status == 200);
    CHECK(r.plan.length == 1000);
    CHECK(r.content_type == "application/octet-stream");
    CHECK_FALSE(header(r, "ETag").empty());
    CHECK(f.get("/images/lab/kernel.bin").status == 200);

    ConditionalHeaders range;
    range.range = "bytes=10-19";
    r = f.get("/assets/lab/kernel.bin", range);
    CHECK(r.status == 206);
    CHECK(header(r, "Content-Range") == "bytes 10-19/1000");
    range.range = "bytes=5000-";
    CHECK(f.get("/assets/lab/kernel.bin", range).status == 416);

    ConditionalHeaders cond;
    const auto etag = header(f.get("/assets/lab/kernel.bin"), "ETag");
    cond.if_none_match = etag;
    CHECK(f.get("/assets/lab/kernel.bin", cond).status == 304);

    for (const char* bad :
         {"/assets/../boot/default", "/assets/%2e%2e/x", "/assets/lab/..%2f..%2fx", "/assets/lab",
          "/assets/lab/kernel.bin%00", "/assets/../", "/assets/lab/kernel.bin/", "/assets/%2e%2e/"})
        CHECK(f.get(bad).status == 404);
    // A directory URL lists it (matchbox's file server does too).
    auto listing = f.get("/assets/");
    CHECK(listing.status == 200);
    CHECK(listing.body.find("<a href=\"lab/\">lab/</a>") != std::string::npos);
    CHECK(f.get("/assets/lab/").body.find("<a href=\"kernel.bin\">kernel.bin</a>") !=
          std::string::npos);

    auto disabled =
        route(*f.snapshot, nullptr, MachineRequest{"GET", "/assets/lab/kernel.bin", {}});
    CHECK(disabled.status == 404);
    CHECK_THAT(disabled.body, Catch::Contains("disabled"));
}

namespace {
std::size_t open_descriptors() {
    return static_cast<std::size_t>(
        std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                      std::filesystem::directory_iterator{}));
}
}  // namespace

TEST_CASE("routes: an asset's file is owned by its reply and closed with it, whatever the status") {
    Fixture f;
    const std::size_t before = open_descriptors();
    for (int i = 0; i < 50; ++i) {
        CHECK(f.get("/assets/lab/kernel.bin").status == 200);
        ConditionalHeaders cond;
        const std::string etag = header(f.get("/assets/lab/kernel.bin"), "ETag");
        cond.if_none_match = etag;
        CHECK(f.get("/assets/lab/kernel.bin", cond).status == 304);
        cond = {};
        cond.range = "bytes=5000-";
        CHECK(f.get("/assets/lab/kernel.bin", cond).status == 416);
    }
    CHECK(open_descriptors() == before);
}

TEST_CASE("routes: the assets-only handler serves files and nothing else") {
    Fixture f;
    const RequestHandler handler = asset_routes(*f.assets);
    const Reply file = handler(MachineRequest{"GET", "/images/lab/kernel.bin", {}});
    CHECK(file.status == 200);
    CHECK(file.file);
    CHECK(handler(MachineRequest{"GET", "/ipxe?mac=52:54:00:12:34:56", {}}).status == 404);
    CHECK(handler(MachineRequest{"PUT", "/assets/lab/kernel.bin", {}}).status == 405);
}

TEST_CASE("routes: /ipxe-bin/NAME serves -ipxe-dir's binaries by plain name, with ProxyDHCP") {
    Fixture f;
    TempDir ipxe, outside;
    ipxe.write("snponly.efi", std::string(300, 'e'));
    outside.write("ipxe.efi", "efi");
    std::filesystem::create_symlink(outside.path() / "ipxe.efi", ipxe.path() / "ipxe.efi");
    AssetRoot dir(ipxe.path().string(), false);
    MachineServices services;
    services.ipxe_dir = &dir;
    auto get = [&](std::string_view target, const MachineServices* s) {
        return route(*f.snapshot, f.assets.get(), MachineRequest{"GET", target, {}}, nullptr, s);
    };
    auto r = get("/ipxe-bin/snponly.efi", &services);
    CHECK(r.status == 200);
    CHECK(r.plan.length == 300);
    CHECK(get("/ipxe-bin/ipxe.efi", &services).status == 200);  // Debian's kind of link
    for (const char* bad : {"/ipxe-bin/", "/ipxe-bin/../boot/default", "/ipxe-bin/%2e%2e/x",
                            "/ipxe-bin/missing.efi", "/ipxe-bin/a/snponly.efi"})
        CHECK(get(bad, &services).status == 404);
    auto off = get("/ipxe-bin/snponly.efi", nullptr);
    CHECK(off.status == 404);
    CHECK_THAT(off.body, Catch::Contains("-proxy-dhcp"));
}
