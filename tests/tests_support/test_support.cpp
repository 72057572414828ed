#include "tests_support/test_support.h"

#include <pcap/pcap.h>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>

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

QString names(wire::Diagnostics d) {
    QStringList out;
    d.forEach([&out](wire::Diagnostic x) {
        switch (x) {
        case wire::Diagnostic::Ipv4ChecksumBad:
            out << QStringLiteral("Ipv4ChecksumBad");
            break;
        case wire::Diagnostic::Ipv4ReservedFlagSet:
            out << QStringLiteral("Ipv4ReservedFlagSet");
            break;
        case wire::Diagnostic::Ipv4TotalLengthBeyondFrame:
            out << QStringLiteral("Ipv4TotalLengthBeyondFrame");
            break;
        case wire::Diagnostic::Ipv4Fragment:
            out << QStringLiteral("Ipv4Fragment");
            break;
        case wire::Diagnostic::Ipv6PayloadLengthBeyondFrame:
            out << QStringLiteral("Ipv6PayloadLengthBeyondFrame");
            break;
        case wire::Diagnostic::TrailingBytes:
            out << QStringLiteral("TrailingBytes");
            break;
        case wire::Diagnostic::TcpChecksumBad:
            out << QStringLiteral("TcpChecksumBad");
            break;
        case wire::Diagnostic::TcpChecksumPartial:
            out << QStringLiteral("TcpChecksumPartial");
            break;
        case wire::Diagnostic::TcpSynFin:
            out << QStringLiteral("TcpSynFin");
            break;
        case wire::Diagnostic::TcpReservedBitsSet:
            out << QStringLiteral("TcpReservedBitsSet");
            break;
        case wire::Diagnostic::TcpUrgentWithoutUrg:
            out << QStringLiteral("TcpUrgentWithoutUrg");
            break;
        case wire::Diagnostic::TcpOptionAfterEolNotZero:
            out << QStringLiteral("TcpOptionAfterEolNotZero");
            break;
        case wire::Diagnostic::Icmpv6ChecksumBad:
            out << QStringLiteral("Icmpv6ChecksumBad");
            break;
        case wire::Diagnostic::Count:
            break;
        }
    });
    return out.join(QStringLiteral(", "));
}

int runQuietly(const std::string& command) {
    const int status = std::system((command + " >/dev/null 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool writeSysctl(const std::string& path, const std::string& value) {
    std::ofstream file("/proc/sys/" + path);
    file << value;
    return static_cast<bool>(file.flush());
}

} // namespace tcplab::test
