// Raw bytes from a client -> the machine listener's parser -> route(), as the server runs them:
// pipelined requests, the same header limit, bodies refused. Checks that no reply opens a file
// outside the asset root and that every status is one the server documents.
#include <unistd.h>

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/error.hpp>

#include "fuzz_support.hpp"
#include "http/request_parser.hpp"
#include "http/routes.hpp"

using namespace bootcfg;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& w = fuzz::world();
    std::string_view input(reinterpret_cast<const char*>(data), size);
    RequestHead head;
    // At most a few pipelined requests per input keeps each run short.
    for (int n = 0; n < 8 && !input.empty(); ++n) {
        RequestParser parser(head);
        parser.header_limit(16 * 1024);
        parser.eager(true);
        boost::beast::error_code ec;
        const std::size_t used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
        if (ec || !parser.is_done()) return 0;  // the server answers 400/413/431 or waits
        fuzz::require(used > 0 && used <= input.size());
        input.remove_prefix(used);

        ConditionalHeaders cond{head.if_none_match, head.if_modified_since, head.range,
                                head.if_range};
        Reply reply =
            route(*w.snapshot, w.assets.get(), MachineRequest{head.method, head.target, cond});
        switch (reply.status) {
            case 200:
            case 206:
            case 304:
            case 400:
            case 404:
            case 405:
            case 414:
            case 416:
            case 500:
                break;
            default:
                fuzz::require(false);
        }
        if (reply.file) {
            fuzz::require(!fuzz::is_canary(w, reply.file->fd.get()));
            fuzz::require(reply.plan.offset + reply.plan.length <= reply.file->size ||
                          reply.plan.length == 0);
        }
        if (!parser.keep_alive()) return 0;
    }
    return 0;
}
