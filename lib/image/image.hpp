// The builder: Docker image archives and LinuxKit outputs become bootable assets.
// Everything here works on archives as streams (libarchive): no root, no extraction to disk.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace bootcfg {

// A one-line, user-facing reason naming the archive, member or file at fault.
struct ImageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// What a long operation reports as it goes (the CLI draws it as a progress line).
class Progress {
  public:
    virtual ~Progress() = default;
    virtual void show(const std::string& text) = 0;
    virtual void clear() = 0;
};

// --- bootcfg image save2image ---
struct SaveOptions {
    std::string input = "-";   // a `docker save` archive, "-" for stdin
    std::string output = "-";  // gzip tar of the merged rootfs, "-" for stdout
    int output_fd = -1;        // or straight to this descriptor (output then only names it)
    std::string image;         // which image when the archive holds several (a RepoTag)
    std::string temp_dir;      // where stdin is spooled (default $TMPDIR or /var/tmp)
};
struct SaveResult {
    std::size_t layers = 0;
    std::size_t entries = 0;  // entries written
    std::uint64_t content_bytes = 0;
};
SaveResult save_to_image(const SaveOptions& options, Progress& progress);

// --- bootcfg image archive ---
struct KernelArchiveResult {
    std::string version;  // the kernel's file suffix, e.g. 6.1.0-13-amd64
    std::string kernel_member, initrd_member;
    std::size_t module_entries = 0;
    std::vector<std::string> written;  // output files
};
// raw: the kernel and initrd as plain files (vmlinuz, initrd.img) that iPXE and GRUB boot, with
// modules.tar.gz beside them; otherwise kernel.tar.gz and initrd.tar.gz (packet-images' form).
KernelArchiveResult archive_kernel(const std::string& image, const std::string& outdir,
                                   Progress& progress, bool raw = false);

// --- bootcfg image compare ---
struct ImageFacts {
    std::uint64_t archive_bytes = 0;     // the .tar.gz on disk
    std::uint64_t filesystem_bytes = 0;  // file contents, hardlinks counted once
    std::size_t files = 0;               // every entry but directories
    std::size_t directories = 0;
    std::vector<std::string> kernels;  // /boot/vmlinuz-* versions, oldest first
    bool has_dpkg = false;
    std::map<std::string, std::string> packages;  // installed package (name[:arch]) → version
};
ImageFacts read_image_facts(const std::string& image, Progress& progress);

struct PackageUpdate {
    std::string name, old_version, new_version;
};
struct ImageComparison {
    ImageFacts old_image, new_image;
    std::vector<std::pair<std::string, std::string>> added, removed;  // name, version
    std::vector<PackageUpdate> updated;
};
ImageComparison compare_images(ImageFacts old_image, ImageFacts new_image);
std::string comparison_text(const ImageComparison& comparison);
std::string comparison_json(const ImageComparison& comparison);

// Installed packages from the text of var/lib/dpkg/status ("install ok installed" only);
// a package whose Architecture differs from the most common one is keyed name:arch.
std::map<std::string, std::string> parse_dpkg_status(const std::string& text);

// Order of kernel version strings the way `sort -V` orders them.
bool version_less(const std::string& a, const std::string& b);

// --- bootcfg push ---
struct PushOptions {
    std::string name;       // LinuxKit's output prefix: NAME-kernel, NAME-initrd.img, NAME-cmdline
    std::string dir = ".";  // where those files are
    std::string ucode;      // microcode cpio to put in front of the initrd
    bool decompress = false;
    std::string arch = "x86_64";    // x86_64 | aarch64 (aarch64 implies decompress)
    std::string base_url;           // writes NAME-equinixmetal.ipxe when set
    std::string destination;        // where the files go (e.g. images/NAME)
    std::string data_path;          // writes profiles/NAME.json (and groups) when set
    std::string asset_url;          // URL path of `destination` for the profile (/assets/NAME)
    std::vector<std::string> macs;  // a group per MAC selecting the profile
};
struct PushResult {
    std::vector<std::string> written, unchanged, notes;
    std::vector<std::string> removed;  // groups of an earlier push whose MAC moved here
};
PushResult push_linuxkit(const PushOptions& options, Progress& progress);

// The kernel command line LinuxKit wrote to NAME-cmdline, without its trailing newline.
// Throws ImageError naming the file when it cannot be read or is over 1 MiB.
std::string read_linuxkit_cmdline(const std::string& path);

// LinuxKit's iPXE script for Equinix Metal, byte for byte.
std::string equinix_ipxe_script(const std::string& name, const std::string& base_url,
                                const std::string& cmdline, const std::string& arch);

}  // namespace bootcfg
