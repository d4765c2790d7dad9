#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "match/match.hpp"
#include "store/data_files.hpp"
#include "store/store.hpp"
#include "temp_dir.hpp"

using namespace bootcfg;
using bootcfg::test::TempDir;

namespace {

const char* kBoot = R"({"kernel":"/k","initrd":["/i"],"cmdline":{"console":"ttyS0","quiet":""}})";

std::shared_ptr<const Snapshot> load(const TempDir& dir, const Snapshot* previous = nullptr) {
    DirectorySource source(dir.path().string());
    return std::make_shared<const Snapshot>(source.load(previous));
}

std::string problems_text(const Snapshot& s) {
    std::string out;
    for (const auto& p : s.problems()) out += p.to_string() + "\n";
    return out;
}

Labels mac(const char* m) {
    Labels l;
    l.set("mac", m);
    return l;
}

}  // namespace

TEST_CASE("loads the bootcfg layout with normalized file names") {
    TempDir dir;
    dir.write("boot/default", kBoot);
    dir.write("boot/mac/52-54-00-AA-BB-CC", R"({"kernel":"/mac-kernel"})");
    dir.write("boot/uuid/1CFF2CD8-F00A-42C8-9426-F55E6A1847F6", R"({"kernel":"/uuid-kernel"})");
    dir.write("cloud/mac/52:54:00:aa:bb:cc", "#cloud-config\nmac: yes\n");
    dir.write("cloud/default", "#cloud-config\n");
    auto s = load(dir);
    INFO(problems_text(*s));
    CHECK(s->problems().empty());
    CHECK(s->groups().size() == 3);

    auto sel = select(*s, mac("52:54:00:aa:bb:cc"), Part::boot);
    REQUIRE(sel);
    CHECK(sel.profile->boot.kernel == "/mac-kernel");
    const auto* cloud = s->template_entry(
        TemplateKind::cloud, select(*s, mac("52:54:00:aa:bb:cc"), Part::cloud).profile->cloud_id);
    REQUIRE(cloud);
    CHECK(cloud->text == "#cloud-config\nmac: yes\n");
    CHECK(cloud->parsed == nullptr);  // bootcfg layout cloud-configs are served as they are
    Labels u;
    u.set("uuid", "1cff2cd8-f00a-42c8-9426-f55e6a1847f6");
    u.set("mac", "52:54:00:aa:bb:cc");
    CHECK(select(*s, u, Part::boot).profile->boot.kernel == "/uuid-kernel");
    // The uuid machine has no cloud-config of its own: it falls through to its mac's.
    CHECK(select(*s, u, Part::cloud).group->id == "bootcfg:mac/52:54:00:aa:bb:cc");

    const auto* def = s->profile("bootcfg:default");
    REQUIRE(def);
    CHECK(def->boot.args == std::vector<std::string>{"console=ttyS0", "quiet"});
}

TEST_CASE("cmdline keys are sorted as bootcfg v0.1 rendered them, with bool and number values") {
    TempDir dir;
    dir.write("boot/default",
              R"({"kernel":"/k","cmdline":{"z":"1","a":"","n":3,"yes":true,"no":false}})");
    auto s = load(dir);
    CHECK(s->profile("bootcfg:default")->boot.args ==
          std::vector<std::string>{"a", "n=3", "yes", "z=1"});
}

TEST_CASE("broken files are reported with path and reason and skipped") {
    TempDir dir;
    dir.write("boot/default", kBoot);
    const auto bad_json = dir.write("boot/mac/52:54:00:00:00:01", "{\"kernel\": ");
    const auto no_kernel = dir.write("boot/mac/52:54:00:00:00:02", R"({"initrd":["/i"]})");
    const auto bad_field = dir.write("boot/mac/52:54:00:00:00:03", R"({"kernel":"/k","cmd":{}})");
    const auto bad_name = dir.write("boot/mac/not-a-mac", kBoot);
    const auto bad_uuid = dir.write("boot/uuid/xyz", kBoot);
    std::filesystem::create_directories(dir.path() / "boot/mac/52:54:00:00:00:04");
    dir.write("boot/mac/.52:54:00:00:00:05.swp", "junk");  // editor files are ignored
    auto s = load(dir);
    const auto text = problems_text(*s);
    INFO(text);
    CHECK(s->problems().size() == 6);
    CHECK_THAT(text, Catch::Contains(bad_json.string() + ":1: invalid JSON: syntax error"));
    CHECK_THAT(text, Catch::Contains(no_kernel.string() + ": missing field 'kernel'"));
    CHECK_THAT(text, Catch::Contains(bad_field.string() + ":1: unknown field 'cmd'"));
    CHECK_THAT(text, Catch::Contains(bad_name.string() + ": file name is not a MAC address"));
    CHECK_THAT(text, Catch::Contains(bad_uuid.string() + ": file name is not a UUID"));
    CHECK_THAT(text, Catch::Contains("52:54:00:00:00:04: not a regular file"));
    // Everything else is still served.
    CHECK(select(*s, mac("52:54:00:00:00:01"), Part::boot).group->id == "bootcfg:default");
}

TEST_CASE("problems name the line of the key at fault and why a reference is not served") {
    TempDir dir;
    const auto typo = dir.write("profiles/p.json",
                                "{\n  \"id\": \"p\",\n  \"boot\": {\"kernel\": \"/k\"},\n"
                                "  \"ignitionid\": \"x\"\n}\n");
    const auto q = dir.write("profiles/q.json", R"({"id": "q", "ignition_id": "t.tmpl"})");
    dir.write("ignition/t.tmpl", "{{define \"x\"}}y{{end}}");
    const auto g = dir.write("groups/g.json", R"({"id": "g", "profile": "p"})");
    const auto mac = dir.write("groups/m.json",
                               "{\"id\": \"m\", \"profile\": \"q\",\n"
                               "\"selector\": {\"mac\": \"zz\"}}");
    auto s = load(dir);
    const auto text = problems_text(*s);
    INFO(text);
    CHECK_THAT(text, Catch::Contains(typo.string() + ":4: unknown field 'ignitionid'"));
    CHECK_THAT(text, Catch::Contains(mac.string() + ":2: selector mac 'zz' is not a MAC address"));
    CHECK_THAT(text, Catch::Contains(g.string() +
                                     ": group 'g' names missing profile 'p' (profiles/p.json was "
                                     "rejected: unknown field 'ignitionid'"));
    CHECK_THAT(text, Catch::Contains(q.string() +
                                     ": ignition template 't.tmpl' is not served (ignition/t.tmpl "
                                     "was rejected: "));
    CHECK(line_of_field("{\"a\": {\"b\":\n 1},\n\"b\" : 2}", "x.b") == 1);
    CHECK(line_of_field("{\"a\": \"b\",\n\"b\" : 2}", "b") == 2);  // a value is not a key
    CHECK(line_of_field("{}", "gone") == 0);
}

TEST_CASE("two spellings of one MAC: the first is kept, the second reported") {
    TempDir dir;
    dir.write("boot/mac/52-54-00-00-00-01", R"({"kernel":"/hyphen"})");
    dir.write("boot/mac/52:54:00:00:00:01", R"({"kernel":"/colon"})");
    auto s = load(dir);
    REQUIRE(s->problems().size() == 1);
    CHECK_THAT(s->problems()[0].reason, Catch::Contains("same machine as"));
    CHECK(select(*s, mac("52:54:00:00:00:01"), Part::boot).profile->boot.kernel == "/hyphen");
}

TEST_CASE("a file that breaks on reload keeps its last good version") {
    TempDir dir;
    dir.write("boot/default", R"({"kernel":"/default"})");
    dir.write("boot/mac/52:54:00:00:00:01", R"({"kernel":"/node1"})");
    dir.write("cloud/mac/52:54:00:00:00:01", "#cloud-config\nv: 1\n");
    auto first = load(dir);
    dir.write("boot/mac/52:54:00:00:00:01", R"({"kernel": "/node1-new)");  // half written
    auto second = load(dir, first.get());
    REQUIRE(second->problems().size() == 1);
    CHECK_THAT(second->problems()[0].reason, Catch::EndsWith("keeping the last good version"));
    CHECK(select(*second, mac("52:54:00:00:00:01"), Part::boot).profile->boot.kernel == "/node1");
    CHECK(select(*second, mac("52:54:00:00:00:01"), Part::cloud).group->id ==
          "bootcfg:mac/52:54:00:00:00:01");

    // Deleting the file is not breaking it: the machine falls back to the default.
    std::filesystem::remove(dir.path() / "boot/mac/52:54:00:00:00:01");
    auto third = load(dir, second.get());
    CHECK(third->problems().empty());
    CHECK(select(*third, mac("52:54:00:00:00:01"), Part::boot).profile->boot.kernel == "/default");
}

TEST_CASE("a missing data directory is a problem, not a crash") {
    DirectorySource source("/nonexistent/bootcfg-data");
    auto c = source.load(nullptr);
    REQUIRE(c.problems.size() == 1);
    CHECK(c.problems[0].path == "/nonexistent/bootcfg-data");
}

TEST_CASE("snapshot holder swaps atomically while readers keep theirs") {
    SnapshotHolder holder(std::make_shared<const Snapshot>(StoreContents{}, 1));
    auto held = holder.get();
    holder.set(std::make_shared<const Snapshot>(StoreContents{}, 2));
    CHECK(held->generation() == 1);
    CHECK(holder.get()->generation() == 2);
}

TEST_CASE("matchbox layout: profiles, groups, templates") {
    TempDir dir;
    dir.write(
        "profiles/p.json",
        R"({"id":"p","boot":{"kernel":"/k","initrd":["/i"],"args":["a=1"],"cmdline":{"z":"","b":"2"}},)"
        R"("cloud_id":"c.yaml","ignition_id":"i.ign","generic_id":"g"})");
    dir.write("groups/g.json",
              R"({"id":"g","profile":"p","selector":{"mac":"52-54-00-AA-BB-CC","os":"installed"},)"
              R"("metadata":{"n":3,"s":"x"}})");
    dir.write("cloud/c.yaml", "#cloud-config\nname: {{.s}}\n");
    dir.write("ignition/i.ign", R"({"ignition":{"version":"3.3.0"}})");
    dir.write("generic/g", "{{.n}}");
    auto s = load(dir);
    INFO(problems_text(*s));
    CHECK(s->problems().empty());
    const Profile* p = s->profile("p");
    REQUIRE(p);
    CHECK(p->boot.args == std::vector<std::string>{"a=1", "b=2", "z"});
    REQUIRE(s->groups().size() == 1);
    CHECK(*s->groups()[0]->selector.find("mac") == "52:54:00:aa:bb:cc");
    CHECK(s->groups()[0]->metadata.parsed()["n"].is_number_float());  // as Go decodes JSON
    CHECK(s->template_entry(TemplateKind::cloud, "c.yaml")->parsed != nullptr);
    CHECK(s->template_entry(TemplateKind::ignition, "i.ign")->parsed == nullptr);
    CHECK(*s->template_entry(TemplateKind::generic, "g")
               ->parsed->render(s->groups()[0]->metadata.parsed()) == "3");
}

TEST_CASE("matchbox layout: broken profile, group and template keep their last good version") {
    TempDir dir;
    dir.write("profiles/p.json", R"({"id":"p","boot":{"kernel":"/good"},"generic_id":"g"})");
    dir.write("groups/g.json", R"({"id":"g","profile":"p","selector":{"rack":"1"}})");
    dir.write("generic/g", "good");
    auto first = load(dir);
    REQUIRE(first->problems().empty());
    dir.write("profiles/p.json", R"({"id":"p","boot":{"kernel":)");
    dir.write("groups/g.json", R"({"id":"g")");
    dir.write("generic/g", "{{if}}");
    auto second = load(dir, first.get());
    CHECK(second->problems().size() == 3);
    for (const auto& p : second->problems())
        CHECK_THAT(p.reason, Catch::EndsWith("keeping the last good version"));
    Labels rack;
    rack.set("rack", "1");
    auto sel = select(*second, rack, Part::generic);
    REQUIRE(sel);
    CHECK(sel.profile->boot.kernel == "/good");
    CHECK(second->template_entry(TemplateKind::generic, "g")->text == "good");
}

TEST_CASE("matchbox layout: ties prefer groups over the bootcfg layout, then smaller ids") {
    TempDir dir;
    dir.write("profiles/p.json", R"({"id":"p","boot":{"kernel":"/group"}})");
    dir.write("groups/b.json",
              R"({"id":"b","profile":"p","selector":{"mac":"52:54:00:00:00:01"}})");
    dir.write("groups/a.json",
              R"({"id":"a","profile":"p","selector":{"mac":"52:54:00:00:00:01"}})");
    dir.write("boot/mac/52:54:00:00:00:01", R"({"kernel":"/layout"})");
    auto s = load(dir);
    CHECK(s->problems().size() == 1);  // identical selectors of a and b
    CHECK(select(*s, mac("52:54:00:00:00:01"), Part::boot).group->id == "a");
}

TEST_CASE("a FIFO or directory among group files is reported, never read") {
    TempDir dir;
    dir.write("profiles/p.json", R"({"id":"p","boot":{"kernel":"/k"}})");
    dir.write("groups/g.json", R"({"id":"g","profile":"p"})");
    REQUIRE(::mkfifo((dir.path() / "groups/fifo.json").c_str(), 0600) == 0);
    auto s = load(dir);  // would block forever if the FIFO were opened for reading
    const auto text = problems_text(*s);
    CHECK_THAT(text, Catch::Contains("groups/fifo.json: not a regular file"));
    CHECK(s->groups().size() == 1);
}

// Found by fuzz_data_files: nlohmann's out_of_range escaped the loader and ended the process.
TEST_CASE("a number beyond float64 is a reported problem, not a crash") {
    TempDir dir;
    dir.write("boot/default", kBoot);
    const auto boot =
        dir.write("boot/mac/52:54:00:00:00:01", R"({"kernel":"/k","cmdline":{"a":1e400}})");
    const auto group =
        dir.write("groups/g.json", R"({"id":"g","profile":"p","metadata":{"n":-1e999}})");
    const auto profile =
        dir.write("profiles/p.json", R"({"id":"p","boot":{"kernel":"/k","args":[1e400]}})");
    auto s = load(dir);
    const auto text = problems_text(*s);
    INFO(text);
    CHECK(s->problems().size() == 3);
    CHECK_THAT(text,
               Catch::Contains(boot.string() + ": invalid JSON: number overflow parsing '1e400'"));
    CHECK_THAT(
        text, Catch::Contains(group.string() + ": invalid JSON: number overflow parsing '-1e999'"));
    CHECK_THAT(text, Catch::Contains(profile.string() + ": invalid JSON: number overflow"));
    CHECK(select(*s, mac("52:54:00:00:00:01"), Part::boot).group->id == "bootcfg:default");
}
