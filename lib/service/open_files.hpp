// The open-file allowance a server runs with, and the connections it can carry.
#pragma once

#include <cstddef>

namespace bootcfg {

// Like Go programs (matchbox included), takes the whole open-file allowance (the soft limit
// raised to the hard one), then sizes the connection limit to it: a connection may hold a socket
// and an asset file, and reloads and logging need a reserve.
std::size_t connections_for_open_file_limit();

}  // namespace bootcfg
