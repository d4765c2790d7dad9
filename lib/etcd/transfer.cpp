#include "etcd/transfer.hpp"

#include <dirent.h>

#include <filesystem>
#include <map>
#include <set>

#include "etcd/etcd_source.hpp"
#include "files/atomic_file.hpp"
#include "store/store.hpp"

namespace bootcfg::etcd {

namespace {

// "profiles/x.json" -> "profiles/x"; templates keep their file names.
std::string key_name(ObjectKind kind, const std::string& file) {
    if ((kind == ObjectKind::profiles || kind == ObjectKind::groups) && file.ends_with(".json"))
        return file.substr(0, file.size() - 5);
    return file;
}

}  // namespace

DirObjects objects_of_data_dir(const std::string& dir, const std::string& prefix) {
    DirObjects out;
    const DirectorySource source(dir);
    const Snapshot snapshot(source.load(nullptr));
    for (const auto& p : with_field_lines(snapshot.problems(), source))
        out.problems.push_back(p.to_string());
    const std::string root = source.root() + "/";
    std::set<std::string> added;  // a bootcfg-layout machine's file makes a profile and a group
    auto add = [&](ObjectKind kind, const std::string& path) {
        if (!added.insert(path).second) return;
        if (!path.starts_with(root)) {
            out.problems.push_back(path + ": not where etcd's layout can hold it");
            return;
        }
        const std::string relative = path.substr(root.size());
        auto bytes = source.read(path);
        if (!bytes) {
            out.problems.push_back(path + ": cannot be read");
            return;
        }
        if (layout_path(prefix, prefix + relative)) {  // boot/..., cloud/default, cloud/mac/...
            out.objects.push_back({prefix + relative, std::move(*bytes), 0});
            return;
        }
        const std::string dir_name =
            std::string(is_template(kind) ? template_dir(template_kind(kind)) : kind_name(kind)) +
            "/";
        if (!relative.starts_with(dir_name)) {
            out.problems.push_back(path + ": not where etcd's layout can hold it");
            return;
        }
        const std::string name = key_name(kind, relative.substr(dir_name.size()));
        const std::string key = key_of(prefix, ObjectRef{kind, name});
        if (!object_of(prefix, key)) {
            out.problems.push_back(path + ": '" + name +
                                   "' cannot be an etcd key's name (letters, digits, '.', '_', "
                                   "'-'; not starting with '.')");
            return;
        }
        out.objects.push_back({key, std::move(*bytes), 0});
    };
    for (const Profile* p : snapshot.profiles()) add(ObjectKind::profiles, p->source);
    for (const Group* g : snapshot.groups()) add(ObjectKind::groups, g->source);
    for (auto kind : {ObjectKind::ignition, ObjectKind::cloud, ObjectKind::generic})
        for (const TemplateEntry* t : snapshot.templates(template_kind(kind))) add(kind, t->source);
    return out;
}

std::vector<std::vector<TxnOp>> import_batches(const std::vector<KeyValue>& objects,
                                               const Listing& current) {
    std::map<std::string_view, const KeyValue*> now;
    for (const auto& kv : current.kvs) now.emplace(kv.key, &kv);
    std::vector<TxnOp> ops;
    std::vector<std::size_t> sizes;
    for (const KeyValue& object : objects) {
        const auto it = now.find(object.key);
        if (it != now.end() && it->second->value == object.value) continue;
        ops.push_back({object.key, object.value, it == now.end() ? 0 : it->second->mod_revision});
        sizes.push_back(object.key.size() + object.value.size());
    }
    std::vector<std::vector<TxnOp>> batches;
    for (const auto& [begin, end] : txn_ranges(sizes))
        batches.emplace_back(std::make_move_iterator(ops.begin() + static_cast<long>(begin)),
                             std::make_move_iterator(ops.begin() + static_cast<long>(end)));
    return batches;
}

Result<Transfer> import_data_dir(const Client& client, const std::string& dir,
                                 const std::string& prefix) {
    DirObjects found = objects_of_data_dir(dir, prefix);
    if (!found.problems.empty()) {
        std::string lines;
        for (const auto& p : found.problems) lines += (lines.empty() ? "" : "\n") + p;
        return fail(lines, "dir");
    }
    auto current = client.list(prefix, inventory_prefixes(prefix));
    if (!current) return current.failure();
    Transfer t;
    const auto batches = import_batches(found.objects, *current);
    for (const auto& batch : batches) {
        auto done = client.txn(batch);
        if (!done) return done.failure();
        if (!done->succeeded)
            return fail("a key under " + prefix +
                        " changed while importing (another writer); run the import again");
        t.written += batch.size();
        ++t.transactions;
    }
    t.unchanged = found.objects.size() - t.written;
    return t;
}

Result<Transfer> export_data_dir(const Client& client, const std::string& prefix,
                                 const std::string& dir) {
    if (DIR* d = ::opendir(dir.c_str())) {
        bool empty = true;
        while (const dirent* e = ::readdir(d))
            if (std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..")
                empty = false;
        ::closedir(d);
        if (!empty) return fail(dir + ": not empty; export into a new or empty directory", "dir");
    }
    auto listing = client.list(prefix, inventory_prefixes(prefix));
    if (!listing) return listing.failure();
    Transfer t;
    for (const KeyValue& kv : listing->kvs) {
        if (is_inventory_key(prefix, kv.key)) continue;  // machines are state, not config
        std::optional<std::string> relative = layout_path(prefix, kv.key);
        if (!relative)
            if (const auto ref = object_of(prefix, kv.key)) relative = data_dir_path(*ref);
        if (!relative) {
            t.skipped.push_back(kv.key);
            continue;
        }
        const std::string path = dir + "/" + *relative;
        Result<void> written = make_directories(std::filesystem::path(path).parent_path().string());
        if (written) written = write_file_atomic(path, kv.value);
        if (!written) return fail(path + ": " + written.failure().reason, "dir");
        ++t.written;
    }
    return t;
}

}  // namespace bootcfg::etcd
