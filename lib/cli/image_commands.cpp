#include "cli/image_commands.hpp"
#include "files/atomic_file.hpp"

#include "admin/resources.hpp"
#include "cli/admin_commands.hpp"
#include "cli/flags.hpp"
#include "cli/progress.hpp"
#include "image/image.hpp"

namespace bootcfg {

namespace {

std::string mib(std::uint64_t bytes) {
    return std::to_string((bytes + (1 << 19)) >> 20) + " MiB";
}

// An empty path would mean the current directory or, joined with a name, the file-system root:
// never what was meant.
const std::string& path_word(const std::string& value, const char* what) {
    if (value.empty()) throw UsageError{std::string(what) + " is empty: give a path"};
    return value;
}

std::string path_flag(const ParsedFlags& f, const char* flag, const std::string& fallback = {}) {
    if (!f.has(flag)) return fallback;
    return path_word(f.get(flag), flag);
}

void report(std::FILE* out, const PushResult& r) {
    for (const auto& f : r.written) std::fprintf(out, "wrote     %s\n", f.c_str());
    for (const auto& f : r.unchanged) std::fprintf(out, "unchanged %s\n", f.c_str());
    for (const auto& f : r.removed) std::fprintf(out, "removed   %s\n", f.c_str());
    for (const auto& n : r.notes) std::fprintf(out, "note: %s\n", n.c_str());
}

int save2image(const std::vector<std::string>& args, std::FILE* err) {
    const ParsedFlags f =
        parse_flags(args, {{"-o", true, "--output"}, {"--image"}, {"--temp-dir"}});
    if (f.words.size() > 1) throw UsageError{"save2image takes one archive (or - for stdin)"};
    SaveOptions o;
    o.input = f.words.empty() ? "-" : path_word(f.words[0], "ARCHIVE");
    o.output = path_flag(f, "-o", "-");
    o.image = f.get("--image");
    o.temp_dir = path_flag(f, "--temp-dir");
    ProgressLine progress(err);
    const SaveResult r = save_to_image(o, progress);
    std::fprintf(err, "save2image: %zu layers merged, %zu entries, %s of file data -> %s\n",
                 r.layers, r.entries, mib(r.content_bytes).c_str(),
                 o.output == "-" ? "stdout" : o.output.c_str());
    return kExitOk;
}

int archive(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
    const ParsedFlags f = parse_flags(args, {{"--raw", false}});
    if (f.words.size() != 2)
        throw UsageError{"usage: bootcfg image archive [--raw] IMAGE.tar.gz OUTDIR"};
    path_word(f.words[0], "IMAGE.tar.gz");
    path_word(f.words[1], "OUTDIR");
    ProgressLine progress(err);
    const KernelArchiveResult r = archive_kernel(f.words[0], f.words[1], progress, f.flag("--raw"));
    std::fprintf(out, "kernel %s: %s, initrd %s, %zu module entries\n", r.version.c_str(),
                 r.kernel_member.c_str(), r.initrd_member.c_str(), r.module_entries);
    for (const auto& w : r.written) std::fprintf(out, "wrote %s\n", w.c_str());
    if (r.module_entries == 0)
        std::fprintf(err, "note: no lib/modules/%s in the image; modules.tar.gz is empty\n",
                     r.version.c_str());
    return kExitOk;
}

int compare(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
    const ParsedFlags f = parse_flags(args, {{"-o", true, "--output"}});
    if (f.words.size() != 2) throw UsageError{"usage: bootcfg image compare OLD.tar.gz NEW.tar.gz"};
    path_word(f.words[0], "OLD.tar.gz");
    path_word(f.words[1], "NEW.tar.gz");
    const std::string format = f.get("-o", "text");
    if (format != "text" && format != "json")
        throw UsageError{"-o " + format + ": expected text or json"};
    ProgressLine progress(err);
    ImageFacts old_facts = read_image_facts(f.words[0], progress);
    ImageFacts new_facts = read_image_facts(f.words[1], progress);
    const ImageComparison c = compare_images(std::move(old_facts), std::move(new_facts));
    const std::string text = format == "json" ? comparison_json(c) : comparison_text(c);
    std::fputs(text.c_str(), out);
    return kExitOk;
}

const std::vector<FlagSpec> kPushFlags = {{"--dir"},       {"--ucode"},    {"--decompress", false},
                                          {"--arch"},      {"--base-url"}, {"--assets-path"},
                                          {"--data-path"}, {"--mac"},      {"--destination"}};

int push(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
    const ParsedFlags f = parse_flags(args, kPushFlags);
    PushOptions o;
    o.dir = path_flag(f, "--dir", ".");
    o.ucode = path_flag(f, "--ucode");
    o.decompress = f.flag("--decompress");
    o.arch = f.get("--arch", "x86_64");
    o.base_url = f.get("--base-url");
    // The URL is written into an iPXE script: one line, no spaces.
    for (unsigned char c : o.base_url)
        if (c <= 0x20 || c == 0x7f)
            throw UsageError{"--base-url holds a space or control character"};
    auto valid_push_name = [](const std::string& name) {
        if (!valid_name(name))
            throw UsageError{"NAME '" + name + "': use letters, digits, '.', '-', '_'"};
        return name;
    };
    if (!f.words.empty() && f.words[0] == "equinixmetal") {
        // LinuxKit's `push equinixmetal`: files and iPXE script into one directory to publish.
        if (f.words.size() != 2)
            throw UsageError{
                "usage: bootcfg push equinixmetal NAME --base-url URL --destination DIR"};
        o.name = valid_push_name(f.words[1]);
        if (o.base_url.empty())
            throw UsageError{"push equinixmetal needs --base-url (where DIR is published)"};
        if (!f.has("--destination")) throw UsageError{"push equinixmetal needs --destination DIR"};
        if (f.has("--data-path") || f.has("--mac") || f.has("--assets-path"))
            throw UsageError{
                "push equinixmetal writes files only; use bootcfg push NAME for a profile"};
        o.destination = path_flag(f, "--destination");
    } else {
        if (f.words.size() != 1)
            throw UsageError{"usage: bootcfg push NAME --assets-path DIR --data-path DIR [flags]"};
        o.name = valid_push_name(f.words[0]);
        if (!f.has("--assets-path"))
            throw UsageError{"push needs --assets-path (bootcfgd's -assets-path)"};
        if (!f.has("--data-path"))
            throw UsageError{"push needs --data-path (bootcfgd's -data-path)"};
        if (f.has("--destination"))
            throw UsageError{"--destination is for push equinixmetal; use --assets-path"};
        o.destination = path_flag(f, "--assets-path") + "/" + o.name;
        o.data_path = path_flag(f, "--data-path");
        o.asset_url = "/assets/" + o.name;
        o.macs = f.all("--mac");
    }
    ProgressLine progress(err);
    report(out, push_linuxkit(o, progress));
    return kExitOk;
}

}  // namespace

bool is_build_command(const std::string& word) {
    return word == "image" || word == "push";
}

int run_build_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
    const std::string what = args.size() > 1 && args[0] == "image" ? "image " + args[1] : args[0];
    remove_temp_files_on_signals();
    try {
        if (args[0] == "push") return push({args.begin() + 1, args.end()}, out, err);
        if (args.size() < 2)
            throw UsageError{"image needs a command: save2image, archive, compare"};
        const std::vector<std::string> rest(args.begin() + 2, args.end());
        if (args[1] == "save2image") return save2image(rest, err);
        if (args[1] == "archive") return archive(rest, out, err);
        if (args[1] == "compare") return compare(rest, out, err);
        throw UsageError{"unknown image command '" + args[1] + "' (save2image, archive, compare)"};
    } catch (const UsageError& e) {
        std::fprintf(err, "bootcfg %s: %s\n", what.c_str(), e.what());
        return kExitUsage;
    } catch (const ImageError& e) {
        std::fprintf(err, "bootcfg %s: %s\n", what.c_str(), e.what());
        return kExitRefused;
    } catch (const std::exception& e) {  // out of memory and the like: still one line, no temps
        std::fprintf(err, "bootcfg %s: %s\n", what.c_str(), e.what());
        return kExitRefused;
    }
}

std::string build_usage() {
    return "Builder:\n"
           "  image save2image [-o IMAGE.tar.gz] [--image TAG] [ARCHIVE|-]\n"
           "                                 docker save archive -> merged rootfs tar.gz\n"
           "  image archive [--raw] IMAGE.tar.gz OUTDIR   kernel.tar.gz, initrd.tar.gz, "
           "modules.tar.gz\n"
           "                                 (--raw: vmlinuz and initrd.img, bootable as they "
           "are)\n"
           "  image compare [-o json] OLD.tar.gz NEW.tar.gz   sizes, kernels, packages\n"
           "  push NAME --assets-path DIR --data-path DIR [--dir DIR] [--ucode CPIO]\n"
           "       [--decompress] [--arch x86_64|aarch64] [--base-url URL] [--mac MAC]...\n"
           "                                 LinuxKit kernel+initrd -> assets + profile (+ "
           "groups)\n"
           "  push equinixmetal NAME --base-url URL --destination DIR [--decompress] [--arch A]\n"
           "                                 LinuxKit's files and iPXE script for Equinix Metal\n";
}

}  // namespace bootcfg
