// TFTP's wire format and option negotiation (RFC 1350, 2347, 2348, 2349, 7440), as pure
// functions: a read request parsed and its options answered, the packets built, a file name
// turned into a path relative to the server's root. Nothing here touches a socket or a file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace bootcfg::tftp {

enum Opcode : std::uint16_t { kRrq = 1, kWrq = 2, kData = 3, kAck = 4, kError = 5, kOack = 6 };

// RFC 1350's error codes (8: RFC 2347's option refusal).
enum ErrorCode : std::uint16_t {
    kNotDefined = 0,
    kFileNotFound = 1,
    kAccessViolation = 2,
    kIllegalOperation = 4,
    kUnknownTransferId = 5,
    kOptionRefused = 8,
};

constexpr std::size_t kMaxRequestBytes = 1024;  // RRQs are small; more is refused unread
constexpr std::size_t kDefaultBlockSize = 512;
constexpr std::size_t kMinBlockSize = 8;             // RFC 2348
constexpr std::size_t kMaxBlockSize = 65464;         // RFC 2348
constexpr unsigned kMaxWindowSize = 64;              // RFC 7440 allows 65535; more buys nothing
constexpr std::size_t kMaxWindowBytes = 256 * 1024;  // per transfer, so memory stays bounded

struct ReadRequest {
    std::string filename;  // as sent
    bool netascii = false;
    // Options the client asked for (RFC 2347), unknown ones dropped; absent when not asked.
    std::optional<std::size_t> blksize;
    std::optional<unsigned> windowsize;
    std::optional<unsigned> timeout_s;
    bool tsize = false;
};

struct Refusal {
    ErrorCode code;
    std::string message;  // one line, sent to the client and logged
};

// The first packet of a transfer (on the server's port): a read request or why not.
std::variant<ReadRequest, Refusal> parse_request(std::string_view packet);

// What the server takes of the client's options. An OACK is sent only when at least one was
// accepted (RFC 2347: else the transfer starts with data block 1).
struct Negotiated {
    std::size_t blksize = kDefaultBlockSize;
    unsigned windowsize = 1;
    std::chrono::milliseconds timeout{1000};
    std::optional<std::uint64_t> tsize;  // answered in the OACK
    bool oack = false;
    ReadRequest requested;  // the options taken (the OACK echoes these)
};

// file_size: nullopt when it is not known in advance (netascii changes it).
Negotiated negotiate(const ReadRequest& request, std::optional<std::uint64_t> file_size);

std::string oack_packet(const Negotiated& n);
std::string error_packet(ErrorCode code, std::string_view message);
// A DATA header (opcode, block) for the 16-bit block number on the wire.
void data_header(std::uint16_t block, unsigned char out[4]);

// A packet from the client during a transfer.
struct Ack {
    std::uint16_t block;
};
struct ClientError {
    std::uint16_t code;
    std::string message;
};
struct Unexpected {};
std::variant<Ack, ClientError, Unexpected> parse_reply(std::string_view packet);

// A requested file name as a path relative to the root: '\' read as '/', leading slashes
// dropped (firmware sends "/pxelinux.0" and "\boot\x"); nullopt for anything that could leave
// it or name something odd (".", "..", empty segments, NUL or control bytes, over 255 bytes).
std::optional<std::string> relative_path(std::string_view filename);

// netascii (RFC 764): LF -> CR LF, CR -> CR NUL (each byte on its own, so a file may be
// converted in pieces).
std::string to_netascii(std::string_view in);

}  // namespace bootcfg::tftp
