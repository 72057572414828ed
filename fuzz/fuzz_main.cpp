// One libFuzzer executable per target: TCPLAB_FUZZ_TARGET names the entry function
// (fuzz_entries.h). An oracle failure aborts, so libFuzzer keeps the input as a crash.
#include "fuzz/fuzz_entries.h"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const tcplab::fuzz::Entry entry = tcplab::fuzz::entryFor(TCPLAB_FUZZ_TARGET);
    if (entry == nullptr) {
        std::fprintf(stderr, "no fuzz target named %s\n", TCPLAB_FUZZ_TARGET);
        std::abort();
    }
    const std::string failure = entry(data, size);
    if (!failure.empty()) {
        std::fprintf(stderr, "oracle failed (%s): %s\n", TCPLAB_FUZZ_TARGET, failure.c_str());
        std::abort();
    }
    return 0;
}
