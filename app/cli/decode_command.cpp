// tcplab-cli decode: one JSON object per frame, from hex or a capture file.
#include "cli/commands.h"

#include "timeline/pcap_file.h"
#include "wire/frame_json.h"

#include <iostream>
#include <memory>

namespace tcplab::cli {

namespace {

struct DecodeOptions {
    std::string hex;
    std::string pcap;
};

int runDecode(const DecodeOptions& o) {
    if (!o.hex.empty()) {
        auto bytes = wire::fromHex(o.hex);
        if (!bytes) {
            std::cerr << "tcplab-cli decode: --hex: " << bytes.error() << "\n";
            return kExitBadUsage;
        }
        std::cout << wire::frameToJson(wire::decodeFrame(*bytes)).dump() << "\n";
        return kExitOk;
    }
    auto reader = timeline::PcapReader::open(o.pcap);
    if (!reader) {
        std::cerr << "tcplab-cli decode: " << reader.error() << "\n";
        return kExitFailure;
    }
    if (reader->linkType() != 1) {
        std::cerr << "tcplab-cli decode: " << o.pcap << " has link type " << reader->linkType()
                  << "; only Ethernet (1) is decoded\n";
        return kExitFailure;
    }
    timeline::PcapRecord record;
    std::uint64_t number = 0;
    while (reader->next(record)) {
        nlohmann::json j = wire::frameToJson(wire::decodeFrame(record.data));
        j["frame"] = ++number;
        j["time_ns"] = record.timestampNs;
        std::cout << j.dump() << "\n";
    }
    if (!reader->error().empty()) {
        std::cerr << "tcplab-cli decode: " << o.pcap << ": stopped after frame " << number << ": "
                  << reader->error() << "\n";
        return kExitFailure;
    }
    return kExitOk;
}

} // namespace

void addDecodeCommand(CLI::App& app, int& exitCode) {
    auto o = std::make_shared<DecodeOptions>();
    CLI::App* sub = app.add_subcommand(
        "decode", "Decode frames to JSON, one object per line; malformed frames say why.");
    auto* hex = sub->add_option("--hex", o->hex, "one frame as hex");
    auto* pcap =
        sub->add_option("--pcap", o->pcap, "a pcap or pcapng file")->check(CLI::ExistingFile);
    hex->excludes(pcap);
    sub->callback([o, &exitCode] {
        if (o->hex.empty() && o->pcap.empty())
            throw CLI::RequiredError("decode needs --hex HEX or --pcap FILE");
        exitCode = runDecode(*o);
    });
}

} // namespace tcplab::cli
