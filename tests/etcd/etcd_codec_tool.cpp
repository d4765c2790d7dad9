// Drives lib/store/etcd_codec from a shell test against a real etcd: prints the request bodies
// the codec builds and what it parses from etcd's answers (stdin), one fact per line.
//   etcd_codec_tool range PREFIX
//   etcd_codec_tool txn KEY VALUE|- MOD_REVISION|any     (- deletes)
//   etcd_codec_tool watch PREFIX START_REVISION
//   etcd_codec_tool parse range|txn|watch < ANSWER
//   etcd_codec_tool list ENDPOINT PREFIX PAGE [SKIP...]   lib/etcd's paged listing, its keys
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
    std::cerr << "usage: etcd_codec_tool range|txn|watch|parse ...\n";
    return 2;
}

int parse(const std::string& what) {
    std::string line;
    if (what != "watch") {
        const std::string body{std::istreambuf_iterator<char>(std::cin), {}};
        if (what == "range") {
            const auto page = parse_range(body);
            if (!page) return std::cout << "error " << page.failure().reason << "\n", 1;
            std::cout << "revision " << page->revision << "\nmore " << page->more << "\n";
            for (const auto& kv : page->kvs)
                std::cout << "kv " << kv.key << " " << kv.mod_revision << " " << kv.value << "\n";
            return 0;
        }
        const auto txn = parse_txn(body);
        if (!txn) return std::cout << "error " << txn.failure().reason << "\n", 1;
        std::cout << "succeeded " << txn->succeeded << "\nrevision " << txn->revision << "\n";
        return 0;
    }
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
    if (cmd == "parse") return parse(argv[2]);
    if (cmd == "range") {
        const nlohmann::json request = {{"key", base64_encode(argv[2])},
                                        {"range_end", base64_encode(prefix_end(argv[2]))}};
        return std::cout << request.dump() << "\n", 0;
    }
    if (cmd == "watch" && argc == 4)
        return std::cout << watch_request(argv[2], std::stoll(argv[3])).dump() << "\n", 0;
    if (cmd == "txn" && argc == 5) {
        TxnOp op{argv[2], std::string(argv[3]), std::nullopt};
        if (op.value == "-") op.value.reset();
        if (std::string(argv[4]) != "any") op.mod_revision = std::stoll(argv[4]);
        return std::cout << txn_request({op}).dump() << "\n", 0;
    }
    if (cmd == "list" && argc >= 5) {
        ClusterOptions options;
        options.endpoints = {argv[2]};
        if (const char* max = std::getenv("MAX_PAGE_BYTES"))
            options.max_page_bytes = std::stoul(max);
        const Client client(std::move(options));
        const std::vector<std::string> skip(argv + 5, argv + argc);
        const auto listing = client.list(argv[3], skip, std::stoll(argv[4]));
        if (!listing) return std::cout << "error " << listing.failure().reason << "\n", 1;
        std::cout << "revision " << listing->revision << "\n";
        for (const auto& kv : listing->kvs) std::cout << "kv " << kv.key << " " << kv.value << "\n";
        return 0;
    }
    return usage();
}
