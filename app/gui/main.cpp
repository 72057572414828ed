// tcplab: the desktop lab. Starts on the built-in lab; everything else is in ui/.
#include "link/link_errors.h"
#include "ui/main_window.h"

#include <QApplication>
#include <QIcon>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

namespace {

// tcplab(1) documents exactly this text; tests/package/test_manpages.sh keeps them matched.
constexpr const char* kHelp =
    "Usage: tcplab [--help] [--version] [Qt options]\n"
    "\n"
    "The desktop lab for learning and probing TCP by hand: craft Ethernet/IPv4/IPv6/TCP\n"
    "segments field by field, send them from a phantom host to a real TCP stack and\n"
    "watch both directions on a sequence/acknowledgement ladder diagram.\n"
    "\n"
    "It starts on the built-in lab (a Linux kernel in a private network namespace, or\n"
    "lwIP), which needs no privileges. Capturing on a network interface needs\n"
    "CAP_NET_RAW and CAP_NET_ADMIN, which the package grants with setcap.\n"
    "\n"
    "Options:\n"
    "  -h, --help     print this help and exit\n"
    "  --version      print the version and exit\n"
    "Qt's own options (-platform NAME, -style NAME, ...) are accepted too.\n"
    "\n"
    "See also: tcplab-cli(1), tcplab-lab(1).\n";

/// Whether this process may open raw sockets: bit CAP_NET_RAW (13) of the effective set
/// in /proc/self/status. Without /proc, assume it may: the link layer's own error still
/// names the cure when opening an interface fails.
bool hasNetRaw() {
    constexpr int kCapNetRaw = 13;
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("CapEff:", 0) != 0)
            continue;
        try {
            const std::uint64_t effective = std::stoull(line.substr(7), nullptr, 16);
            return (effective >> kCapNetRaw) & 1U;
        } catch (const std::exception&) {
            return true;
        }
    }
    return true;
}

} // namespace

int main(int argc, char* argv[]) {
    // --help and --version before QApplication, so they work without a display.
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            std::cout << kHelp;
            return 0;
        }
        if (std::strcmp(argv[i], "--version") == 0) {
            std::cout << "tcplab " << TCPLAB_VERSION << "\n";
            return 0;
        }
    }
    if (!hasNetRaw())
        std::cerr << "tcplab: without CAP_NET_RAW only the built-in labs work (they need no "
                     "privileges); to capture on network interfaces, run '"
                  << tcplab::link::setcapCommand() << "' and start tcplab again\n";

    QApplication app(argc, argv);
    // QApplication took its own options out; anything left is a mistake worth naming.
    const QStringList rest = QApplication::arguments().mid(1);
    if (!rest.isEmpty()) {
        std::cerr << "tcplab: unknown argument '" << rest.first().toStdString()
                  << "' (see tcplab --help)\n";
        return 2;
    }
    QApplication::setOrganizationName(QStringLiteral("tcplab"));
    QApplication::setApplicationName(QStringLiteral("tcplab"));
    QApplication::setApplicationVersion(QStringLiteral(TCPLAB_VERSION));
    QApplication::setDesktopFileName(QStringLiteral("tcplab"));
    QApplication::setWindowIcon(QIcon::fromTheme(QStringLiteral("tcplab")));
    tcplab::ui::MainWindow window;
    window.show();
    return QApplication::exec();
}
