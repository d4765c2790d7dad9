#include <catch2/catch.hpp>

#include "render/render.hpp"

using namespace bootcfg;

TEST_CASE("chain script is exactly bootcfg's") {
    CHECK(chain_script() ==
          "#!ipxe\nchain ipxe?uuid=${uuid}&mac=${mac:hexhyp}&domain=${domain}&hostname=${hostname}"
          "&serial=${serial}&arch=${buildarch:uristring}\n");
}

TEST_CASE("iPXE script: matchbox's text, with every initrd named for UEFI") {
    // matchbox writes `initrd /image/initrd_a` and no initrd=: iPXE on UEFI then boots the
    // kernel without its initrd. bootcfg names each one and puts initrd=NAME on the kernel line.
    BootSpec b{"/image/kernel", {"/image/initrd_a", "/image/initrd_b"}, {"a=b", "c"}};
    CHECK(ipxe_script(b) ==
          "#!ipxe\nkernel /image/kernel a=b c initrd=initrd_a initrd=initrd_b\n"
          "initrd --name initrd_a /image/initrd_a\ninitrd --name initrd_b /image/initrd_b\n"
          "boot\n");
    CHECK(ipxe_script(BootSpec{"/k", {}, {}}) == "#!ipxe\nkernel /k\nboot\n");
    // A profile that names its initrds and passes initrd= itself is rendered exactly as
    // matchbox renders it.
    BootSpec named{"/k", {"--name main /i.img", "--name rootfs /r.img"}, {"initrd=main", "x"}};
    CHECK(ipxe_script(named) ==
          "#!ipxe\nkernel /k initrd=main x\ninitrd --name main /i.img\n"
          "initrd --name rootfs /r.img\nboot\n");
    // Names: the last path segment without the query, made safe and unique; other options kept.
    BootSpec odd{
        "/k", {"/a/initrd.img?v=1", "/b/initrd.img", "--timeout 5000 /c/my%20rd", "-n=x /d/"}, {}};
    CHECK(ipxe_script(odd) ==
          "#!ipxe\nkernel /k initrd=initrd.img initrd=initrd.img-2 initrd=my_20rd "
          "initrd=initrd\n"
          "initrd --name initrd.img /a/initrd.img?v=1\ninitrd --name initrd.img-2 /b/initrd.img\n"
          "initrd --timeout 5000 --name my_20rd /c/my%20rd\ninitrd -n=x --name initrd /d/\nboot\n");
}

TEST_CASE("GRUB and Pixiecore get initrd URLs, not iPXE's names") {
    BootSpec b{
        "/k", {"--name main /i.img", "-n rootfs /r.img"}, {"initrd=main", "initrd=other", "q"}};
    CHECK(pixiecore_json(b) ==
          "{\"kernel\":\"/k\",\"initrd\":[\"/i.img\",\"/r.img\"],\"cmdline\":\"initrd=other "
          "q\"}\n");
    const std::string grub = grub_config(b, false);
    CHECK(grub.find("initrdefi  \"/i.img\" \"/r.img\"") != std::string::npos);
    CHECK(grub.find("linuxefi \"/k\" initrd=other q\n") != std::string::npos);
    CHECK(grub.find("--name") == std::string::npos);
    CHECK(grub.find("initrd=main") == std::string::npos);
}

TEST_CASE("Pixiecore JSON has a string cmdline") {
    BootSpec b{"/k", {"/i"}, {"console=ttyS0", "quiet", "u=${uuid}"}};
    CHECK(
        pixiecore_json(b) ==
        "{\"kernel\":\"/k\",\"initrd\":[\"/i\"],\"cmdline\":\"console=ttyS0 quiet u=${uuid}\"}\n");
    CHECK(pixiecore_json(BootSpec{"/k", {}, {}}) ==
          "{\"kernel\":\"/k\",\"initrd\":[],\"cmdline\":\"\"}\n");
}
