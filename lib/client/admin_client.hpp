// A small HTTP/1.1 client (the admin API, provider APIs, URL checks): http://, https:// (CA,
// client certificate, host name verified) or unix:/path. Beast, Asio and OpenSSL stay inside
// admin_client.cpp.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bootcfg {

struct ClientOptions {
    std::string endpoint;  // "https://host[:port]", "http://host[:port]" or "unix:/path"
    std::string ca_file;   // https: the CA that signed the server (default: the system's)
    std::string cert_file, key_file;  // https: a client certificate
    std::string token;                // sent as "Authorization: Bearer TOKEN"
    std::chrono::milliseconds timeout{30000};
    bool insecure = false;  // https: no certificate verification (a BMC's, when asked for)
};

struct ClientResponse {
    unsigned status = 0;
    std::string body;
    std::string etag;
    std::vector<std::pair<std::string, std::string>> headers;
    // A response header's value ("" when absent); names compare case-insensitively.
    std::string header(const std::string& name) const;
};

// Throws ConnectError with the reason when `endpoint` is not https://HOST:PORT,
// http://HOST:PORT or unix:/PATH (for callers that treat that as a usage error).
void check_endpoint(const std::string& endpoint);

// "https://host/base/path" → endpoint "https://host" and path "/base/path" (no trailing '/').
// Throws ConnectError when it is not an http(s) URL.
std::pair<std::string, std::string> split_url(const std::string& url);

// The endpoint could not be reached or spoke no HTTP: a one-line reason.
class ConnectError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

ClientResponse admin_request(const ClientOptions& options, const std::string& method,
                             const std::string& target, const std::string& body = {},
                             const std::vector<std::pair<std::string, std::string>>& headers = {});

// Gets a streamed response's body piece by piece; returns false to end the request.
using BodySink = std::function<bool(std::string_view piece)>;

// A request whose response is a stream (etcd's watch): run() blocks while a 200's body goes to
// the sink as it arrives, and returns when the body ends, the sink says stop, or no byte arrived
// within options.timeout (ConnectError). A response other than 200 comes back whole, unstreamed.
// cancel(), from any thread, ends a run at once (ConnectError "cancelled") and every later one.
class StreamingRequest {
  public:
    StreamingRequest();
    ~StreamingRequest();
    StreamingRequest(const StreamingRequest&) = delete;
    StreamingRequest& operator=(const StreamingRequest&) = delete;
    ClientResponse run(const ClientOptions& options, const std::string& method,
                       const std::string& target, const std::string& body,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       const BodySink& sink);
    void cancel();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace bootcfg
