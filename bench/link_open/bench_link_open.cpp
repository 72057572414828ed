// Start-up of a capture on an interface: opened through tcplab-link (spawn, validate,
// open, filter, drop capabilities, pass the fd, reap) against opened in this process with
// libpcap, the way root does it. Both open a veth of a network namespace of this run's own
// (unshare(CLONE_NEWNET), so nothing of the host's is touched), alternately, --runs times
// each; it prints the median and the 90th percentile of each and the difference of the
// medians (the bound: at most 10 ms more). Needs root (the namespace, and the
// in-process open).
//   bench_link_open [--runs N]
#include "lab/interface_link.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace tcplab;
using Clock = std::chrono::steady_clock;

namespace {

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5)];
}

} // namespace

int main(int argc, char* argv[]) {
    int runs = 50;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = std::max(1, std::min(10'000, std::atoi(argv[++i])));
        else {
            std::fprintf(stderr, "usage: bench_link_open [--runs N]\n");
            return 2;
        }
    }
    if (::geteuid() != 0 || ::unshare(CLONE_NEWNET) != 0) {
        std::fprintf(stderr, "bench_link_open: needs root (a network namespace of its own)\n");
        return 77;
    }
    if (std::system("ip link add tlb0 type veth peer name tlb1 && ip link set tlb0 up && "
                    "ip link set tlb1 up") != 0) {
        std::fprintf(stderr, "bench_link_open: cannot make a veth pair\n");
        return 1;
    }
    ::setenv("TCPLAB_LINK_HELPER", TCPLAB_LINK_HELPER_PATH, 1);
    host::Identity identity;
    identity.mac = *wire::MacAddress::parse("02:74:6c:00:00:02");
    identity.ipv4 = host::Ipv4Config{*wire::Ipv4Address::parse("198.18.0.2"), 24, std::nullopt};

    std::vector<double> helper;
    std::vector<double> inProcess;
    for (int i = 0; i < runs; ++i) {
        for (const auto opener : {lab::InterfaceOpener::Helper, lab::InterfaceOpener::InProcess}) {
            const auto start = Clock::now();
            auto opened =
                lab::openInterfaceLink("tlb0", identity, {opener, {}, std::chrono::seconds(5), {}});
            const double ms =
                std::chrono::duration<double, std::milli>(Clock::now() - start).count();
            if (!opened) {
                std::fprintf(stderr, "bench_link_open: %s\n", opened.error().message.c_str());
                return 1;
            }
            (opener == lab::InterfaceOpener::Helper ? helper : inProcess).push_back(ms);
        }
    }
    std::printf("link open, %d runs each, veth in a namespace of its own\n", runs);
    std::printf("  in process (libpcap, as root)  median %7.3f ms  p90 %7.3f ms\n",
                percentile(inProcess, 0.5), percentile(inProcess, 0.9));
    std::printf("  through tcplab-link            median %7.3f ms  p90 %7.3f ms\n",
                percentile(helper, 0.5), percentile(helper, 0.9));
    std::printf("  helper - in process: %+.3f ms at the median (bound: +10 ms)\n",
                percentile(helper, 0.5) - percentile(inProcess, 0.5));
    return 0;
}
