#include "service/open_files.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace bootcfg {

std::size_t connections_for_open_file_limit() {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1000;
    if (lim.rlim_cur < lim.rlim_max) {
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    if (lim.rlim_cur == RLIM_INFINITY) return 100000;
    return lim.rlim_cur > 512 ? (lim.rlim_cur - 256) / 2 : std::max<rlim_t>(lim.rlim_cur / 4, 1);
}

}  // namespace bootcfg
