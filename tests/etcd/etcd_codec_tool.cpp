// Drives lib/store/etcd_codec and lib/etcd's client from a shell test against a real etcd, one
// fact per line:
//   etcd_codec_tool watch PREFIX START_REVISION           the watch request the codec builds
//   etcd_codec_tool parse watch < STREAM                  what it parses from etcd's watch lines
//   etcd_codec_tool txn ENDPOINT KEY VALUE|- MOD_REVISION|any   (- deletes) over gRPC
//   etcd_codec_tool get ENDPOINT KEY                      one key over gRPC ("none" if absent)
//   etcd_codec_tool list ENDPOINT PREFIX PAGE [SKIP...]   the paged listing over gRPC, its keys
//     (MAX_PAGE_BYTES in the environment: the client's bound on one page's answer)
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>

#include "etcd/etcd_client.hpp"
#include "store/etcd_codec.hpp"

using namespace bootcfg::etcd;

namespace {

int usage() {
    std::cerr << "usage: etcd_codec_tool watch|parse|txn|get|list ...\n";
    return 2;
}

int parse_watch() {
    std::string line;
    while (std::getline(std::cin, line)) {  // the stream: one JSON object per line
        if (line.empty()) continue;
        const auto m = parse_watch_line(line);
        if (!m) {
            std::cout << "error " << m.failure().reason << "\n";
            continue;
        }
        if (m->created) std::cout << "created\n";
        if (m->canceled) std::cout << "canceled compact_revision " << m->compact_revision << "\n";
        for (const auto& e : m->events)
            std::cout << (e.deleted ? "DELETE " : "PUT ") << e.kv.key << " " << e.kv.mod_revision
                      << " " << e.kv.value << "\n";
        std::cout.flush();
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return usage();
    const std::string cmd = argv[1];
    if (cmd == "parse" && std::string(argv[2]) == "watch") return parse_watch();
    if (cmd == "watch" && argc == 4)
        return std::cout << watch_request(argv[2], std::stoll(argv[3])).dump() << "\n", 0;
    if (argc < 4) return usage();
    ClusterOptions options;
    options.endpoints = {argv[2]};
    if (const char* max = std::getenv("MAX_PAGE_BYTES")) options.max_page_bytes = std::stoul(max);
    const Client client(std::move(options));
    if (cmd == "txn" && argc == 6) {
        TxnOp op{argv[3], std::string(argv[4]), std::nullopt};
        if (op.value == "-") op.value.reset();
        if (std::string(argv[5]) != "any") op.mod_revision = std::stoll(argv[5]);
        const auto done = client.txn({op});
        if (!done) return std::cout << "error " << done.failure().reason << "\n", 1;
        std::cout << "succeeded " << done->succeeded << "\nrevision " << done->revision << "\n";
        return 0;
    }
    if (cmd == "get" && argc == 4) {
        const auto got = client.get(argv[3]);
        if (!got) return std::cout << "error " << got.failure().reason << "\n", 1;
        if (!*got) return std::cout << "none\n", 0;
        std::cout << "kv " << (*got)->key << " " << (*got)->mod_revision << " " << (*got)->value
                  << "\n";
        return 0;
    }
    if (cmd == "list" && argc >= 5) {
        const std::vector<std::string> skip(argv + 5, argv + argc);
        const auto listing = client.list(argv[3], skip, std::stoll(argv[4]));
        if (!listing) return std::cout << "error " << listing.failure().reason << "\n", 1;
        std::cout << "revision " << listing->revision << "\n";
        for (const auto& kv : listing->kvs) std::cout << "kv " << kv.key << " " << kv.value << "\n";
        return 0;
    }
    return usage();
}
