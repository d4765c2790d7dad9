#include <catch2/catch.hpp>

#include "render/render.hpp"

using namespace bootcfg;

TEST_CASE("chain script is exactly bootcfg's") {
    CHECK(chain_script() ==
          "#!ipxe\nchain ipxe?uuid=${uuid}&mac=${mac:hexhyp}&domain=${domain}&hostname=${hostname}"
          "&serial=${serial}&arch=${buildarch:uristring}\n");
}

TEST_CASE("iPXE script matches matchbox's text") {
    BootSpec b{"/image/kernel", {"/image/initrd_a", "/image/initrd_b"}, {"a=b", "c"}};
    CHECK(ipxe_script(b) ==
          "#!ipxe\nkernel /image/kernel a=b c\ninitrd /image/initrd_a\ninitrd "
          "/image/initrd_b\nboot\n");
    CHECK(ipxe_script(BootSpec{"/k", {}, {}}) == "#!ipxe\nkernel /k\nboot\n");
}

TEST_CASE("Pixiecore JSON has a string cmdline") {
    BootSpec b{"/k", {"/i"}, {"console=ttyS0", "quiet", "u=${uuid}"}};
    CHECK(
        pixiecore_json(b) ==
        "{\"kernel\":\"/k\",\"initrd\":[\"/i\"],\"cmdline\":\"console=ttyS0 quiet u=${uuid}\"}\n");
    CHECK(pixiecore_json(BootSpec{"/k", {}, {}}) ==
          "{\"kernel\":\"/k\",\"initrd\":[],\"cmdline\":\"\"}\n");
}
