// The sending side of one TFTP read transfer as a state machine: told what happened (start, a
// packet from the client, a timeout), it says what to send. Windows (RFC 7440), block numbers
// rolling over past 65535, and retransmission are decided here and unit-tested without sockets.
//
// Invariants: the bytes of blocks [base, base + windowsize) are read once; a retransmission
// resends those bytes, never re-reads them (so a file changing mid-transfer cannot make two
// copies of a block differ); at most max(windowsize * blksize, 64 KiB) bytes are held.
#pragma once

#include "tftp/tftp_protocol.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace bootcfg::tftp {

class Transfer {
  public:
    // Writes the transfer's bytes from `offset` into `out`, at most `max` of them (fewer only at
    // the end); returns how many, or nullopt on a read error.
    using Reader =
        std::function<std::optional<std::size_t>(std::uint64_t offset, char* out, std::size_t max)>;

    Transfer(Negotiated negotiated, Reader reader, unsigned max_retries = 5);

    // What to send now: a control packet (OACK or ERROR) and/or data blocks
    // [first_block, first_block + blocks) whose bytes block() gives.
    struct Send {
        std::string control;
        std::uint64_t first_block = 0;
        unsigned blocks = 0;
    };
    Send start();
    Send on_packet(std::string_view packet);
    Send on_timeout();

    enum class Status { running, done, failed };
    Status status() const { return status_; }
    // Why it failed (for the log): no answer, a read error, the client's error packet.
    const std::string& failure() const { return failure_; }
    bool client_aborted() const { return client_aborted_; }

    std::string_view block(std::uint64_t index) const;  // a block of the current window
    static std::uint16_t wire(std::uint64_t index) { return static_cast<std::uint16_t>(index); }
    const Negotiated& negotiated() const { return n_; }
    std::uint64_t bytes_acknowledged() const { return acked_bytes_; }
    unsigned retransmissions() const { return retransmissions_; }

  private:
    Send window();  // (re)sends the current window, reading what it lacks
    bool fill();
    Send fail(ErrorCode code, std::string reason, bool tell_client);

    Negotiated n_;
    Reader reader_;
    unsigned max_retries_;
    unsigned retries_ = 0;
    unsigned retransmissions_ = 0;
    std::uint64_t base_ = 0;  // 0: waiting for the OACK's acknowledgement
    // Bytes of blocks base_.. from buffer_[head_] on: the window and what was read ahead.
    std::size_t pending() const { return buffer_.size() - head_; }
    static constexpr std::size_t kReadAhead = 64 * 1024;
    std::string buffer_;
    std::size_t head_ = 0;
    bool end_read_ = false;   // the reader has returned its last byte
    unsigned in_flight_ = 0;  // blocks of the window sent
    std::uint64_t acked_bytes_ = 0;
    Status status_ = Status::running;
    std::string failure_;
    bool client_aborted_ = false;
};

}  // namespace bootcfg::tftp
