// The request parser of the machine listener (Beast-based; include only where Beast already is:
// http_server.cpp and the fuzz target).
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace bootcfg {

// What bootcfgd uses of a request; strings keep their capacity from request to request.
struct RequestHead {
    boost::beast::http::verb verb = boost::beast::http::verb::unknown;
    int version = 11;
    std::string method, target, if_none_match, if_modified_since, range, if_range, host;
    int host_fields = 0;
    bool unknown_transfer_coding = false;  // a Transfer-Encoding other than a final "chunked"
    // Set with a parse error when the header as a whole is refused: the status and the reason.
    unsigned refusal_status = 0;
    const char* refusal = "";
};

// A request parser that keeps only the fields routing needs, without allocating a field list
// per request, and refuses bodies (machine endpoints take none).
class RequestParser final : public boost::beast::http::basic_parser<true> {
  public:
    explicit RequestParser(RequestHead& head) : head_(head) {
        head_.verb = boost::beast::http::verb::unknown;
        head_.version = 11;
        head_.host_fields = 0;
        head_.unknown_transfer_coding = false;
        head_.refusal_status = 0;
        for (auto* s : {&head_.method, &head_.target, &head_.if_none_match,
                        &head_.if_modified_since, &head_.range, &head_.if_range, &head_.host})
            s->clear();
    }

  private:
    void on_request_impl(boost::beast::http::verb verb, std::string_view method,
                         std::string_view target, int version, boost::beast::error_code&) override {
        head_.verb = verb;
        head_.method.assign(method);
        head_.target.assign(target);
        head_.version = version;
    }
    void on_response_impl(int, std::string_view, int, boost::beast::error_code&) override {}
    void on_field_impl(boost::beast::http::field name, std::string_view, std::string_view value,
                       boost::beast::error_code&) override {
        std::string* into = nullptr;
        switch (name) {
            case boost::beast::http::field::host:
                if (++head_.host_fields == 1) head_.host.assign(value);
                return;
            case boost::beast::http::field::transfer_encoding: {
                // Beast takes a body only for a final "chunked" and would read anything else's
                // body as the next request (RFC 9112 6.1: such a request is refused).
                auto v = value;
                while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
                const auto comma = v.find_last_of(',');
                auto last = comma == std::string_view::npos ? v : v.substr(comma + 1);
                while (!last.empty() && (last.front() == ' ' || last.front() == '\t'))
                    last.remove_prefix(1);
                if (!boost::beast::iequals(last, "chunked")) head_.unknown_transfer_coding = true;
                return;
            }
            case boost::beast::http::field::if_none_match:
                into = &head_.if_none_match;
                break;
            case boost::beast::http::field::if_modified_since:
                into = &head_.if_modified_since;
                break;
            case boost::beast::http::field::range:
                into = &head_.range;
                break;
            case boost::beast::http::field::if_range:
                into = &head_.if_range;
                break;
            default:
                return;
        }
        if (!into->empty()) *into += ", ";
        into->append(value);
    }
    // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host; no request has two.
    void on_header_impl(boost::beast::error_code& ec) override {
        if (head_.unknown_transfer_coding) {
            head_.refusal_status = 501;
            head_.refusal = "Transfer-Encoding not implemented (only chunked)";
        } else if (head_.host_fields > 1) {
            head_.refusal_status = 400;
            head_.refusal = "more than one Host header";
        } else if (head_.version >= 11 && head_.host_fields == 0) {
            head_.refusal_status = 400;
            head_.refusal = "missing Host header (required in HTTP/1.1)";
        }
        if (head_.refusal_status) ec = boost::beast::http::error::bad_field;
    }
    void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                           boost::beast::error_code& ec) override {
        if (!length || *length > 0) ec = boost::beast::http::error::unexpected_body;
    }
    std::size_t on_body_impl(std::string_view body, boost::beast::error_code&) override {
        return body.size();
    }
    void on_chunk_header_impl(std::uint64_t, std::string_view, boost::beast::error_code&) override {
    }
    std::size_t on_chunk_body_impl(std::uint64_t, std::string_view body,
                                   boost::beast::error_code&) override {
        return body.size();
    }
    void on_finish_impl(boost::beast::error_code&) override {}

    RequestHead& head_;
};

}  // namespace bootcfg
