#include "tftp/tftp_protocol.hpp"

#include <algorithm>
#include <charconv>
#include <vector>

namespace bootcfg::tftp {

namespace {

std::uint16_t read16(std::string_view p, std::size_t at) {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(p[at]) << 8) |
                                      static_cast<unsigned char>(p[at + 1]));
}

void put16(std::string& out, unsigned v) {
    out += static_cast<char>((v >> 8) & 0xff);
    out += static_cast<char>(v & 0xff);
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// A decimal option value: digits only, no sign, no overflow.
std::optional<std::uint64_t> number(std::string_view s) {
    std::uint64_t v = 0;
    if (s.empty() || s.size() > 19) return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

std::variant<ReadRequest, Refusal> parse_request(std::string_view packet) {
    if (packet.size() < 2) return Refusal{kIllegalOperation, "packet too short"};
    if (packet.size() > kMaxRequestBytes) return Refusal{kIllegalOperation, "request too long"};
    const auto op = read16(packet, 0);
    if (op == kWrq) return Refusal{kAccessViolation, "read-only server: writes are refused"};
    if (op != kRrq) return Refusal{kIllegalOperation, "expected a read request"};
    // Fields are NUL-terminated strings: filename, mode, then option name/value pairs.
    std::vector<std::string_view> fields;
    std::size_t at = 2;
    while (at < packet.size()) {
        const auto end = packet.find('\0', at);
        if (end == std::string_view::npos)
            return Refusal{kIllegalOperation, "request field without its terminating NUL"};
        fields.push_back(packet.substr(at, end - at));
        at = end + 1;
    }
    if (fields.size() < 2) return Refusal{kIllegalOperation, "request without file name and mode"};
    if (fields.size() % 2 != 0) return Refusal{kIllegalOperation, "option without a value"};
    ReadRequest r;
    r.filename = std::string(fields[0]);
    const auto mode = lower(fields[1]);
    if (mode == "netascii")
        r.netascii = true;
    else if (mode != "octet")
        return Refusal{kIllegalOperation, "unsupported mode \"" + mode + "\" (octet, netascii)"};
    for (std::size_t i = 2; i + 1 < fields.size(); i += 2) {
        const auto name = lower(fields[i]);
        const auto value = number(fields[i + 1]);
        if (!value) continue;  // RFC 2347: an option the server cannot take is left out
        if (name == "blksize" && *value >= kMinBlockSize)
            r.blksize = static_cast<std::size_t>(std::min<std::uint64_t>(*value, kMaxBlockSize));
        else if (name == "windowsize" && *value >= 1)
            r.windowsize = static_cast<unsigned>(std::min<std::uint64_t>(*value, 65535));
        else if (name == "timeout" && *value >= 1 && *value <= 255)
            r.timeout_s = static_cast<unsigned>(*value);
        else if (name == "tsize" && *value == 0)
            r.tsize = true;
    }
    return r;
}

Negotiated negotiate(const ReadRequest& request, std::optional<std::uint64_t> file_size) {
    Negotiated n;
    n.requested = request;
    if (request.blksize) n.blksize = *request.blksize;
    if (request.windowsize) {
        const auto fit = std::max<std::size_t>(1, kMaxWindowBytes / n.blksize);
        n.windowsize = static_cast<unsigned>(
            std::min<std::size_t>({*request.windowsize, kMaxWindowSize, fit}));
    }
    if (request.timeout_s) n.timeout = std::chrono::seconds(*request.timeout_s);
    if (request.tsize && file_size) n.tsize = *file_size;
    n.requested.tsize = n.tsize.has_value();
    n.oack = request.blksize || request.windowsize || request.timeout_s || n.tsize;
    return n;
}

std::string oack_packet(const Negotiated& n) {
    std::string out;
    put16(out, kOack);
    auto option = [&](std::string_view name, std::uint64_t value) {
        out += name;
        out += '\0';
        out += std::to_string(value);
        out += '\0';
    };
    // Every option taken is echoed with the value the server uses (RFC 2347).
    if (n.requested.blksize) option("blksize", n.blksize);
    if (n.requested.windowsize) option("windowsize", n.windowsize);
    if (n.requested.timeout_s) option("timeout", *n.requested.timeout_s);
    if (n.tsize) option("tsize", *n.tsize);
    return out;
}

std::string error_packet(ErrorCode code, std::string_view message) {
    std::string out;
    put16(out, kError);
    put16(out, code);
    out += message.substr(0, 200);
    out += '\0';
    return out;
}

void data_header(std::uint16_t block, unsigned char out[4]) {
    out[0] = 0;
    out[1] = kData;
    out[2] = static_cast<unsigned char>(block >> 8);
    out[3] = static_cast<unsigned char>(block & 0xff);
}

std::variant<Ack, ClientError, Unexpected> parse_reply(std::string_view packet) {
    if (packet.size() < 4) return Unexpected{};
    const auto op = read16(packet, 0);
    if (op == kAck) return Ack{read16(packet, 2)};
    if (op == kError) {
        auto text = packet.substr(4);
        text = text.substr(0, std::min<std::size_t>(text.find('\0'), 200));
        std::string message;
        for (char c : text) message += (c >= 0x20 && c < 0x7f) ? c : '?';
        return ClientError{read16(packet, 2), message};
    }
    return Unexpected{};
}

std::optional<std::string> relative_path(std::string_view filename) {
    if (filename.empty() || filename.size() > 255) return std::nullopt;
    std::string path(filename);
    std::replace(path.begin(), path.end(), '\\', '/');
    const auto start = path.find_first_not_of('/');
    if (start == std::string::npos) return std::nullopt;
    path.erase(0, start);
    for (unsigned char c : path)
        if (c < 0x20 || c == 0x7f) return std::nullopt;
    std::size_t at = 0;
    while (at <= path.size()) {
        auto end = path.find('/', at);
        if (end == std::string::npos) end = path.size();
        const std::string_view segment(path.data() + at, end - at);
        if (segment.empty() || segment == "." || segment == "..") return std::nullopt;
        at = end + 1;
    }
    return path;
}

std::string to_netascii(std::string_view in) {
    std::string out;
    out.reserve(in.size() + in.size() / 16);
    for (char c : in) {
        if (c == '\n') {
            out += "\r\n";
        } else if (c == '\r') {
            out += '\r';
            out += '\0';
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace bootcfg::tftp
