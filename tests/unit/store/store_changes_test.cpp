// A snapshot patched with changed files must serve exactly what a full load of the same data
// dir serves; the reloader must apply a change it was told about through the source's watch.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "match/match.hpp"
#include "store/live_store.hpp"
#include "store/reloader.hpp"
#include "temp_dir.hpp"

using namespace bootcfg;

namespace {

// Everything a snapshot serves, as text: objects with their files and revisions, problems (as a
// set: their order after a patch is not the load order), and what a few machines get.
std::string served(const Snapshot& s) {
    std::string out;
    for (const Profile* p : s.profiles())
        out += "profile " + p->id + " " + p->source + " " + revision(*p) + "\n";
    for (const Group* g : s.groups())
        out += "group " + g->id + " " + g->source + " " + revision(*g) + "\n";
    for (auto kind : {TemplateKind::ignition, TemplateKind::cloud, TemplateKind::generic})
        for (const TemplateEntry* t : s.templates(kind))
            out += "template " + t->name + " " + t->source + " " + revision(*t) + "\n";
    std::set<std::string> problems;
    for (const auto& p : s.problems()) problems.insert(p.to_string() + " [" + p.field + "]");
    for (const auto& p : problems) out += "problem " + p + "\n";
    for (const char* mac : {"52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"}) {
        Labels l;
        l.set("mac", mac);
        for (Part part : {Part::boot, Part::cloud, Part::group}) {
            const Selection sel = select(s, l, part);
            out += std::string("select ") + mac + " " + (sel.group ? sel.group->id : "-") + " " +
                   (sel.profile ? sel.profile->id : "-") + " " + sel.reason + "\n";
        }
    }
    return out;
}

struct Data {
    test::TempDir dir;
    DirectorySource source{dir.path().string()};
    std::shared_ptr<const Snapshot> patched, loaded;

    void start() { patched = loaded = load_snapshot(source, nullptr); }

    std::string path(const std::string& relative) const { return (dir.path() / relative).string(); }

    // Applies the files as changed to the patched snapshot, reloads the other from scratch.
    void changed(std::initializer_list<const char*> relatives) {
        std::vector<std::string> locations;
        for (const char* r : relatives) locations.push_back(path(r));
        auto changes = source.read_changes(locations, *patched);
        REQUIRE(changes);
        patched = LiveStore::patched(*patched, std::move(*changes));
        loaded = load_snapshot(source, loaded.get());
    }
};

const char* group_json_text(const char* id, const char* profile, const char* mac) {
    static std::string text;
    text = std::string(R"({"id": ")") + id + R"(", "profile": ")" + profile +
           R"(", "selector": {"mac": ")" + mac + R"("}})";
    return text.c_str();
}

}  // namespace

TEST_CASE("store: a snapshot patched with changed files serves what a full load serves") {
    Data d;
    d.dir.write("profiles/p.json", R"({"id": "p", "boot": {"kernel": "/p"}, "cloud_id": "c"})");
    d.dir.write("profiles/q.json", R"({"id": "q", "boot": {"kernel": "/q"}})");
    d.dir.write("cloud/c", "#cloud-config\n");
    d.dir.write("groups/a.json", group_json_text("a", "p", "52:54:00:00:00:01"));
    d.dir.write("groups/b.json", group_json_text("b", "q", "52:54:00:00:00:02"));
    d.dir.write("groups/default.json", R"({"id": "default", "profile": "q"})");
    d.start();

    SECTION("a group edited, added, removed") {
        d.dir.write("groups/a.json", group_json_text("a", "q", "52:54:00:00:00:01"));
        d.changed({"groups/a.json"});
        CHECK(served(*d.patched) == served(*d.loaded));
        d.dir.write("groups/c.json", group_json_text("c", "p", "52:54:00:00:00:03"));
        d.changed({"groups/c.json"});
        CHECK(served(*d.patched) == served(*d.loaded));
        std::filesystem::remove(d.path("groups/b.json"));
        d.changed({"groups/b.json"});
        CHECK(served(*d.patched) == served(*d.loaded));
        CHECK(select(*d.patched, Labels{}, Part::boot).group->id == "default");
    }
    SECTION("duplicates appear, win and go") {
        // Same id in another file (the smaller file name wins), same selector, second default.
        d.dir.write("groups/0dup.json", group_json_text("b", "p", "52:54:00:00:00:03"));
        d.dir.write("groups/z.json", group_json_text("z", "p", "52:54:00:00:00:01"));
        d.dir.write("groups/default2.json", R"({"id": "default2", "profile": "p"})");
        d.changed({"groups/0dup.json", "groups/z.json", "groups/default2.json"});
        CHECK(served(*d.patched) == served(*d.loaded));
        CHECK(d.patched->group("b")->source == d.path("groups/0dup.json"));
        std::filesystem::remove(d.path("groups/0dup.json"));
        d.changed({"groups/0dup.json"});
        CHECK(served(*d.patched) == served(*d.loaded));
        CHECK(d.patched->group("b")->source == d.path("groups/b.json"));
    }
    SECTION("a file's group changes its id, away from its file's name and back") {
        // A group named as its file is found through its id, others through their file.
        d.dir.write("groups/a.json", group_json_text("renamed", "p", "52:54:00:00:00:01"));
        d.changed({"groups/a.json"});
        CHECK(served(*d.patched) == served(*d.loaded));
        CHECK_FALSE(d.patched->group("a"));
        CHECK(d.patched->holds(d.path("groups/a.json")));
        d.dir.write("groups/a.json", group_json_text("a", "q", "52:54:00:00:00:01"));
        d.changed({"groups/a.json"});
        CHECK(served(*d.patched) == served(*d.loaded));
        CHECK_FALSE(d.patched->group("renamed"));
        d.dir.write("groups/b.json", group_json_text("a", "q", "52:54:00:00:00:02"));
        d.changed({"groups/b.json"});
        CHECK(served(*d.patched) == served(*d.loaded));
        std::filesystem::remove(d.path("groups/a.json"));
        d.changed({"groups/a.json"});
        CHECK(served(*d.patched) == served(*d.loaded));
        CHECK_FALSE(d.patched->holds(d.path("groups/a.json")));
        CHECK(d.patched->group("a")->source == d.path("groups/b.json"));
    }
    SECTION("references break and heal") {
        std::filesystem::remove(d.path("profiles/q.json"));
        std::filesystem::remove(d.path("cloud/c"));
        d.changed({"profiles/q.json", "cloud/c"});
        CHECK(served(*d.patched) == served(*d.loaded));
        CHECK(d.patched->problems().size() == 3);  // b and default name q; p names cloud c
        d.dir.write("profiles/q.json", R"({"id": "q", "boot": {"kernel": "/q2"}})");
        d.dir.write("cloud/c", "#cloud-config\nx: 1\n");
        d.changed({"profiles/q.json", "cloud/c"});
        CHECK(served(*d.patched) == served(*d.loaded));
        CHECK(d.patched->problems().empty());
    }
    SECTION("a broken file keeps its last good version; junk is reported, hidden files ignored") {
        d.dir.write("groups/a.json", R"({"id": "a", "profile": )");
        d.dir.write("groups/notes.txt", "x");
        d.dir.write("groups/.a.json.swp", "x");
        d.changed({"groups/a.json", "groups/notes.txt", "groups/.a.json.swp"});
        CHECK(served(*d.patched) == served(*d.loaded));
        CHECK(d.patched->group("a")->profile == "p");
        bool kept = false;
        for (const auto& p : d.patched->problems())
            kept = kept || p.reason.ends_with("keeping the last good version");
        CHECK(kept);
    }
    SECTION("a field at fault is named, for writers") {
        d.dir.write("groups/b.json", group_json_text("b", "missing", "52:54:00:00:00:02"));
        d.changed({"groups/b.json"});
        REQUIRE(d.patched->problems().size() == 1);
        CHECK(d.patched->problems()[0].field == "profile");
        CHECK(served(*d.patched) == served(*d.loaded));
    }
    SECTION("the bootcfg layout and new directories are loaded in full") {
        d.dir.write("boot/default", R"({"kernel": "/k"})");
        CHECK_FALSE(d.source.read_changes({d.path("boot/default")}, *d.patched));
        CHECK_FALSE(d.source.read_changes({d.path("groups/sub/x.json")}, *d.patched));
    }
}

TEST_CASE("store: a patched snapshot leaves the one it came from untouched") {
    Data d;
    d.dir.write("profiles/p.json", R"({"id": "p", "boot": {"kernel": "/p"}})");
    for (int i = 0; i < 300; ++i)
        d.dir.write("groups/g" + std::to_string(i) + ".json",
                    R"({"id": "g)" + std::to_string(i) +
                        R"(", "profile": "p", "selector": {"n": ")" + std::to_string(i) + R"("}})");
    d.start();
    const auto before = d.patched;
    const std::string was = served(*before);
    std::filesystem::remove(d.path("groups/g7.json"));
    d.dir.write("groups/g8.json", R"({"id": "g8", "profile": "nope", "selector": {"n": "8"}})");
    d.changed({"groups/g7.json", "groups/g8.json"});
    CHECK(served(*before) == was);
    CHECK(before->group("g7"));
    CHECK_FALSE(d.patched->group("g7"));
    CHECK(d.patched->group_count() == 299);
    Labels eight;
    eight.set("n", "8");
    CHECK(select(*before, eight, Part::boot).profile);
    CHECK_FALSE(select(*d.patched, eight, Part::boot).profile);
}

TEST_CASE("reloader: a changed file is applied from the watch, a new directory loads all") {
    const int debounce_ms = GENERATE(10, 0);  // 0: as for etcd, applied as it arrives
    test::TempDir dir;
    dir.write("profiles/p.json", R"({"id": "p", "boot": {"kernel": "/p"}})");
    DirectorySource source(dir.path().string());
    SnapshotHolder holder(load_snapshot(source, nullptr));
    LiveStore store(source, holder);
    Reloader reloader(store, std::chrono::milliseconds(debounce_ms));
    std::atomic<int> reloads{0};
    reloader.on_reload([&](bool begin) {
        if (!begin) ++reloads;
    });
    reloader.start();
    auto wait_for = [&](auto done) {
        for (int i = 0; i < 500 && !done(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return done();
    };
    // The watch is set up on the reloader's thread: retry the write until it is seen.
    CHECK(wait_for([&] {
        dir.write("profiles/p.json", R"({"id": "p", "boot": {"kernel": "/p2"}})");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return holder.get()->profile("p")->boot.kernel == "/p2";
    }));
    CHECK(reloads == 0);  // applied in place: not a reload for the service manager
    dir.write("groups/g.json", R"({"id": "g", "profile": "p"})");  // groups/ is new
    CHECK(wait_for([&] { return holder.get()->group("g") != nullptr; }));
    std::filesystem::remove(dir.path() / "groups/g.json");
    CHECK(wait_for([&] { return holder.get()->group("g") == nullptr; }));
    CHECK(reloads > 0);
}

TEST_CASE("applied-changes log: one line at once after a quiet second, the rest folded") {
    using namespace std::chrono_literals;
    AppliedLog log("SRC", 1s);
    const auto t0 = AppliedLog::Clock::time_point() + 100s;
    const LiveStore::Applied one{1, 130, "(generation 2): 3 groups"};
    CHECK(log.add(one, t0) == "applied 1 changed file of SRC (generation 2): 3 groups in 0.130 ms");
    CHECK_FALSE(log.due());
    CHECK(log.fold(t0 + 1ms).empty());
    // Within the second: held, due when it ends.
    CHECK(log.add({2, 250, "(generation 3): 3 groups"}, t0 + 10ms).empty());
    CHECK(log.add({1, 50, "(generation 4): 4 groups"}, t0 + 20ms).empty());
    REQUIRE(log.due());
    CHECK(*log.due() == t0 + 1s);
    CHECK(log.fold(t0 + 1s) ==
          "applied 3 changed files of SRC (generation 4): 4 groups in 2 more changes over 0.990 "
          "s: 0.150 ms each on average, at most 0.250 ms");
    CHECK_FALSE(log.due());
    // A stream keeps folding: the next change within a second of that line is held too.
    CHECK(log.add(one, t0 + 1500ms).empty());
    CHECK(*log.due() == t0 + 2s);
    CHECK(log.fold(t0 + 2s).find("in 1 more change over 0.500 s") != std::string::npos);
    // After a quiet second: at once again.
    CHECK_FALSE(log.add(one, t0 + 3s).empty());
}

TEST_CASE("object map: a copy shares until written, then only the written shard differs") {
    ObjectMap<int> a;
    for (int i = 0; i < 1000; ++i) a.edit("k" + std::to_string(i)) = i;
    ObjectMap<int> b = a;
    b.edit("k1") = -1;
    b.erase("k2");
    b.edit("new") = 7;
    CHECK(*a.find("k1") == 1);
    CHECK(a.find("k2"));
    CHECK_FALSE(a.find("new"));
    CHECK(*b.find("k1") == -1);
    CHECK_FALSE(b.find("k2"));
    CHECK(*b.find("new") == 7);
    CHECK(a.size() == 1000);
    CHECK(b.size() == 1000);
    int sum = 0;
    b.for_each([&](const std::string&, int v) { sum += v; });
    CHECK(sum == 1000 * 999 / 2 - 1 - 1 - 2 + 7);
    // Writing every key of a copy of the copy (every leaf and shard cloned) changes neither.
    ObjectMap<int> c = b;
    for (int i = 0; i < 1000; ++i) c.edit("k" + std::to_string(i)) = 0;
    int sum_b = 0, sum_c = 0;
    b.for_each([&](const std::string&, int v) { sum_b += v; });
    c.for_each([&](const std::string&, int v) { sum_c += v; });
    CHECK(sum_b == sum);
    CHECK(sum_c == 7);
    CHECK(c.size() == 1001);
    for (int i = 0; i < 1000; ++i) CHECK(*a.find("k" + std::to_string(i)) == i);
}

TEST_CASE("object map: a sparse map is visited whole, also in ranges of shards") {
    constexpr std::size_t all = ObjectMap<int>::kShards;
    for (int n : {0, 1, 5, 100}) {
        ObjectMap<int> m;
        for (int i = 0; i < n; ++i) m.edit("key" + std::to_string(i * 7919)) = 1;
        int whole = 0, in_ranges = 0;
        m.for_each([&](const std::string&, int v) { whole += v; });
        // Ranges that start and end inside leaves.
        for (std::size_t first = 0; first < all; first += 1000)
            m.for_each([&](const std::string&, int v) { in_ranges += v; }, first,
                       std::min(all, first + 1000));
        CHECK(whole == n);
        CHECK(in_ranges == n);
    }
}

TEST_CASE("store: a bulk load (index built on its own thread) hides duplicates like a small one") {
    StoreContents c;
    c.profiles.push_back(Profile{"p", "", true, {"/k", {}, {}}, "", "", "", "/d/profiles/p.json"});
    for (int i = 0; i < 5000; ++i) {
        Group g;
        g.id = "g" + std::to_string(i);
        g.profile = "p";
        g.selector.set("n", std::to_string(i));
        g.source = "/d/groups/" + g.id + ".json";
        c.groups.push_back(std::move(g));
    }
    Group shadow = c.groups[7];  // same id in a later file, another selector: hidden
    shadow.source = "/d/groups/zz.json";
    shadow.selector.set("n", "shadow");
    c.groups.push_back(shadow);
    Group twin = c.groups[8];  // another id with g8's selector: reported, smaller id wins
    twin.id = "h8";
    twin.source = "/d/groups/h8.json";
    c.groups.push_back(twin);
    const Snapshot s(c);
    CHECK(s.group_count() == 5001);
    REQUIRE(s.problems().size() == 2);
    CHECK_THAT(s.problems()[0].to_string(), Catch::Contains("h8.json: same selector"));
    CHECK_THAT(s.problems()[1].to_string(), Catch::Contains("zz.json: group id 'g7'"));
    Labels l;
    l.set("n", "shadow");
    CHECK_FALSE(select(s, l, Part::boot).group);
    l.set("n", "8");
    CHECK(select(s, l, Part::boot).group->id == "g8");
}

TEST_CASE("store write: several objects land all or nothing, unchanged ones are left alone") {
    test::TempDir dir;
    const DirectorySource source(dir.path().string());
    const auto at = [&](const char* relative) { return (dir.path() / relative).string(); };
    const auto held = [&](const char* relative) { return source.read(at(relative)); };
    const std::string p1 = R"({"id": "p1", "boot": {"kernel": "/p1"}})"
                           "\n";
    const std::string g1 = group_json_text("g1", "p1", "52:54:00:00:00:01");
    dir.write("groups/old.json", group_json_text("old", "p1", "52:54:00:00:00:02"));

    const auto first = source.write({{at("profiles/p1.json"), ObjectKind::profiles, p1, {}},
                                     {at("groups/g1.json"), ObjectKind::groups, g1, ""},
                                     {at("groups/old.json"), ObjectKind::groups, {}, {}}});
    REQUIRE(first.status == WriteOutcome::written);
    CHECK(first.unchanged.empty());
    CHECK(held("profiles/p1.json") == p1);
    CHECK(held("groups/g1.json") == g1);
    CHECK(!held("groups/old.json"));

    SECTION("the same bytes again: reported unchanged, the file is not replaced") {
        struct stat before {};
        ::stat(at("profiles/p1.json").c_str(), &before);
        const auto again = source.write({{at("profiles/p1.json"), ObjectKind::profiles, p1, {}}});
        REQUIRE(again.status == WriteOutcome::written);
        CHECK(again.unchanged == std::vector<std::string>{at("profiles/p1.json")});
        struct stat after {};
        ::stat(at("profiles/p1.json").c_str(), &after);
        CHECK(before.st_ino == after.st_ino);
    }
    SECTION("a stale revision on the last object: nothing before it changed") {
        const std::string p2 = R"({"id": "p1", "boot": {"kernel": "/p2"}})"
                               "\n";
        const auto refused =
            source.write({{at("profiles/p1.json"), ObjectKind::profiles, p2, {}},
                          {at("groups/g1.json"), ObjectKind::groups, {}, "stale"}});
        CHECK(refused.status == WriteOutcome::conflict);
        CHECK(refused.location == at("groups/g1.json"));
        CHECK(refused.current_revision == stored_revision(ObjectKind::groups, g1));
        CHECK(held("profiles/p1.json") == p1);
        CHECK(held("groups/g1.json") == g1);
    }
    SECTION("an object that cannot be stored: nothing before it changed") {
        dir.write("groups/blocker", "a file where a directory is needed");
        const std::string p2 = R"({"id": "p1", "boot": {"kernel": "/p2"}})"
                               "\n";
        const auto failed =
            source.write({{at("profiles/p1.json"), ObjectKind::profiles, p2, {}},
                          {at("groups/blocker/g2.json"), ObjectKind::groups, g1, {}}});
        CHECK(failed.status == WriteOutcome::failed);
        CHECK(failed.location == at("groups/blocker/g2.json"));
        CHECK(held("profiles/p1.json") == p1);
        // No temp file left behind either.
        std::size_t files = 0;
        for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(at("profiles")))
            ++files;
        CHECK(files == 1);
    }
}
