// A read-only TFTP server (RFC 1350 with blksize, tsize, timeout and windowsize) for the iPXE
// binaries that PXE firmware loads, and optionally the assets directory under "assets/". One
// thread runs every transfer on one Asio event loop; each transfer has its own UDP socket (an
// ephemeral port, as the RFC's transfer IDs want) and its own retransmission timer.
//
// Bounded: at most max_transfers at once, max_transfers_per_client per client address, and
// requests_per_second per client address (a token bucket; excess requests are dropped without
// an answer, so a forged source address cannot aim the server at a victim). Files are opened
// only beneath their root directory (AssetRoot), never by a path the client wrote; the one
// exception is a symlink directly in the iPXE directory, which its owner put there (Debian's
// ipxe.efi -> /boot/ipxe.efi), and is followed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace bootcfg {

class AssetRoot;

struct TftpServerOptions {
    std::string host = "0.0.0.0";
    std::string port = "69";                 // "0": an ephemeral port
    std::string ipxe_dir = "/usr/lib/ipxe";  // the root of plain names: undionly.kpxe, ...
    const AssetRoot* assets = nullptr;       // set: "assets/NAME" names files beneath it
    unsigned max_transfers = 256;
    unsigned max_transfers_per_client = 8;
    unsigned requests_per_second = 20;  // per client address, with a burst of twice that
    unsigned max_retries = 5;
};

struct TftpStats {
    std::uint64_t transfers = 0;  // started
    std::uint64_t completed = 0;
    std::uint64_t failed = 0;   // timed out, read errors, aborted by the client
    std::uint64_t refused = 0;  // answered with an error (not found, write, bad request)
    std::uint64_t dropped = 0;  // over a limit: not answered
    std::uint64_t bytes = 0;    // acknowledged by clients
};

class TftpServer {
  public:
    explicit TftpServer(TftpServerOptions options);
    ~TftpServer();
    TftpServer(const TftpServer&) = delete;
    TftpServer& operator=(const TftpServer&) = delete;

    // Opens the iPXE directory and binds; throws std::runtime_error with a one-line reason
    // (naming the address or directory, and CAP_NET_BIND_SERVICE for a port below 1024).
    void listen();
    std::string local_address() const;  // "host:port" bound
    void start();                       // serves on its own thread
    void stop();                        // ends every transfer and joins the thread
    TftpStats stats() const;

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace bootcfg
