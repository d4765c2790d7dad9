#include "tftp/transfer.hpp"

#include <algorithm>

namespace bootcfg::tftp {

Transfer::Transfer(Negotiated negotiated, Reader reader, unsigned max_retries)
    : n_(std::move(negotiated)), reader_(std::move(reader)), max_retries_(max_retries) {}

Transfer::Send Transfer::start() {
    if (n_.oack) return Send{oack_packet(n_), 0, 0};
    base_ = 1;
    return window();
}

bool Transfer::fill() {
    const std::size_t window_bytes = std::size_t{n_.windowsize} * n_.blksize;
    if (end_read_ || pending() >= window_bytes) return true;
    // Read ahead: one read serves many windows of one block (what PXE ROMs ask for).
    const std::size_t want = std::max(window_bytes, kReadAhead / n_.blksize * n_.blksize);
    buffer_.erase(0, head_);
    head_ = 0;
    const std::size_t have = buffer_.size(), ask = want - have;
    buffer_.resize(want);  // read in place: no copy between the file and the packets
    const auto got = reader_((base_ - 1) * n_.blksize + have, buffer_.data() + have, ask);
    buffer_.resize(have + (got ? std::min(*got, ask) : 0));
    if (!got) return false;
    if (*got < ask) end_read_ = true;
    return true;
}

Transfer::Send Transfer::window() {
    if (!fill()) return fail(kNotDefined, "cannot read the file", true);
    // With the end read, the window stops at the last block: the first one shorter than
    // blksize (empty when the size is a multiple of it).
    in_flight_ = end_read_ ? static_cast<unsigned>(
                                 std::min<std::size_t>(n_.windowsize, pending() / n_.blksize + 1))
                           : n_.windowsize;
    return Send{{}, base_, in_flight_};
}

std::string_view Transfer::block(std::uint64_t index) const {
    if (index < base_) return {};
    const std::size_t at = head_ + static_cast<std::size_t>(index - base_) * n_.blksize;
    if (at > buffer_.size()) return {};
    return std::string_view(buffer_).substr(at, n_.blksize);
}

Transfer::Send Transfer::fail(ErrorCode code, std::string reason, bool tell_client) {
    status_ = Status::failed;
    failure_ = std::move(reason);
    Send s;
    if (tell_client) s.control = error_packet(code, failure_);
    return s;
}

Transfer::Send Transfer::on_packet(std::string_view packet) {
    if (status_ != Status::running) return {};
    const auto reply = parse_reply(packet);
    if (const auto* e = std::get_if<ClientError>(&reply)) {
        status_ = Status::failed;
        client_aborted_ = true;
        failure_ = "the client ended it (error " + std::to_string(e->code) +
                   (e->message.empty() ? "" : ": " + e->message) + ")";
        return {};
    }
    const auto* ack = std::get_if<Ack>(&reply);
    if (!ack) return fail(kIllegalOperation, "expected an acknowledgement", true);
    if (base_ == 0) {  // the OACK's acknowledgement is block 0
        if (ack->block != 0) return {};
        base_ = 1;
        retries_ = 0;
        return window();
    }
    // Which block of the window (or the one before it) does it acknowledge? Block numbers
    // repeat every 65,536, so only this range is considered.
    std::optional<std::uint64_t> acked;
    for (std::uint64_t i = base_ - 1; i < base_ + in_flight_; ++i)
        if (wire(i) == ack->block) acked = i;
    if (!acked) return {};  // stale or foreign
    if (*acked == base_ - 1) {
        // No progress. With one block per window it is a duplicate: resending on it would
        // double every later block (the Sorcerer's Apprentice bug), so the timer resends. With
        // windows it reports a gap (RFC 7440): send the window again from the gap.
        if (n_.windowsize == 1) return {};
        ++retransmissions_;
        return Send{{}, base_, in_flight_};
    }
    const std::uint64_t count = *acked - base_ + 1;
    const bool last = end_read_ && count == pending() / n_.blksize + 1;
    if (last) {
        acked_bytes_ += pending();
        buffer_.clear();
        head_ = 0;
        status_ = Status::done;
        return {};
    }
    head_ += static_cast<std::size_t>(count) * n_.blksize;
    acked_bytes_ += count * n_.blksize;
    base_ = *acked + 1;
    retries_ = 0;
    return window();
}

Transfer::Send Transfer::on_timeout() {
    if (status_ != Status::running) return {};
    if (++retries_ > max_retries_)
        return fail(kNotDefined,
                    "no acknowledgement after " + std::to_string(max_retries_) + " retransmissions",
                    true);
    ++retransmissions_;
    if (base_ == 0) return Send{oack_packet(n_), 0, 0};
    return Send{{}, base_, in_flight_};
}

}  // namespace bootcfg::tftp
