// TFTP's packet parsers and a transfer driven by a hostile client: a parsed name is relative with
// no dot segments and opens nothing outside the root; a transfer never sends more than its window
// or a block longer than blksize, never claims more bytes than the file has, and stays ended once
// ended. Input: LEN(2) REQUEST(LEN) then events: a byte below 8 is a timeout, any other byte B
// is a client packet of the next B - 8 bytes.
#include "fuzz_support.hpp"
#include "tftp/tftp_protocol.hpp"
#include "tftp/transfer.hpp"

using namespace bootcfg;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t length = std::min<std::size_t>((data[0] << 8 | data[1]), size - 2);
    const auto request = input.substr(2, length);
    auto events = input.substr(2 + length);

    const auto parsed = tftp::parse_request(request);
    const auto* rrq = std::get_if<tftp::ReadRequest>(&parsed);
    if (!rrq) return 0;
    if (auto path = tftp::relative_path(rrq->filename)) {
        const std::string& p = *path;
        fuzz::require(!p.empty() && p.front() != '/' && p.find('\\') == std::string::npos);
        fuzz::require(p != ".." && p.rfind("../", 0) != 0 && p.find("/../") == std::string::npos &&
                      p.find("/./") == std::string::npos && !p.ends_with("/.."));
        if (auto file = fuzz::world().assets->open(p))
            fuzz::require(!fuzz::is_canary(fuzz::world(), file->fd.get()));
    }

    const std::string content(static_cast<std::size_t>(events.size()) * 37 % 5000, 'x');
    const auto n = tftp::negotiate(*rrq, content.size());
    fuzz::require(n.blksize >= tftp::kMinBlockSize && n.blksize <= tftp::kMaxBlockSize);
    fuzz::require(n.windowsize >= 1 && n.windowsize * n.blksize <=
                                           std::max<std::size_t>(tftp::kMaxWindowBytes, n.blksize));
    tftp::Transfer t(
        n, [&](std::uint64_t offset, char* out, std::size_t max) -> std::optional<std::size_t> {
            if (offset >= content.size()) return 0;
            return content.copy(out, max, static_cast<std::size_t>(offset));
        });
    auto check = [&](const tftp::Transfer::Send& s) {
        fuzz::require(s.blocks <= n.windowsize);
        for (unsigned i = 0; i < s.blocks; ++i)
            fuzz::require(t.block(s.first_block + i).size() <= n.blksize);
        fuzz::require(t.bytes_acknowledged() <= content.size());
    };
    check(t.start());
    while (!events.empty()) {
        const auto ended = t.status() != tftp::Transfer::Status::running;
        const unsigned char b = static_cast<unsigned char>(events[0]);
        events.remove_prefix(1);
        tftp::Transfer::Send s;
        if (b < 8) {
            s = t.on_timeout();
        } else {
            const auto packet = events.substr(0, b - 8u);
            events.remove_prefix(packet.size());
            s = t.on_packet(packet);
        }
        check(s);
        if (ended) fuzz::require(s.blocks == 0 && s.control.empty());
    }
    if (t.status() == tftp::Transfer::Status::done)
        fuzz::require(t.bytes_acknowledged() == content.size());
    return 0;
}
