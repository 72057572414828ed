#include "tests_support/test_support.h"

#include <pcap/pcap.h>

namespace tcplab::test {

std::string dataPath(std::string_view relative) {
    return std::string(TCPLAB_TEST_DATA) + "/" + std::string(relative);
}

std::vector<ByteVector> readPcap(std::string_view relative, std::string* error) {
    std::vector<ByteVector> frames;
    char errbuf[PCAP_ERRBUF_SIZE] = {};
    const std::string path = dataPath(relative);
    pcap_t* p =
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
    if (!p) {
        if (error)
            *error = errbuf;
        return frames;
    }
    pcap_pkthdr* header = nullptr;
    const u_char* data = nullptr;
    while (pcap_next_ex(p, &header, &data) == 1)
        frames.emplace_back(data, data + header->caplen);
    pcap_close(p);
    return frames;
}

ByteVector hex(std::string_view text) {
    auto bytes = wire::fromHex(text);
    return bytes ? *bytes : ByteVector{};
}

QString toHex(wire::Bytes bytes) {
    return QString::fromStdString(wire::toHex(bytes));
}

} // namespace tcplab::test
