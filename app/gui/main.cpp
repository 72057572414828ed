// tcplab: the desktop lab. Starts on the built-in lab; everything else is in ui/.
#include "lab/interface_link.h"
#include "link/link_errors.h"
#include "ui/main_window.h"

#include <QApplication>
#include <QIcon>

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>

#include <fmt/format.h>

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
    "lwIP), which needs no privileges. Capturing on a network interface goes through\n"
    "tcplab's helper tcplab-link, which members of the group tcplab may run. tcplab\n"
    "itself refuses to run setuid, setgid or with capabilities.\n"
    "\n"
    "Options:\n"
    "  -h, --help     print this help and exit\n"
    "  --version      print the version and exit\n"
    "Qt's own options (-platform NAME, -style NAME, ...) are accepted too.\n"
    "\n"
    "See also: tcplab-cli(1), tcplab-lab(1).\n";

/// Why tcplab refuses to run with the privileges it has, or "" when it may. Like
/// Wireshark, the GUI never holds privileges: setuid or setgid, or capabilities in its
/// effective set, would give every line of Qt and of the parsers raw network access.
/// Plain root is the user's own choice: it is warned about, not refused.
std::string privilegeRefusal() {
    if (::getuid() != ::geteuid() || ::getgid() != ::getegid())
        return fmt::format(
            "tcplab: refusing to run setuid or setgid (real uid {}, effective uid {}, "
            "real gid {}, effective gid {}): the desktop lab must not hold "
            "privileges; remove the bit (sudo chmod u-s,g-s {}); capturing on "
            "interfaces goes through tcplab's helper tcplab-link\n",
            ::getuid(), ::geteuid(), ::getgid(), ::getegid(), tcplab::link::runningBinary());
    if (const std::uint64_t capabilities = tcplab::lab::effectiveCapabilities();
        ::geteuid() != 0 && capabilities != 0)
        return fmt::format(
            "tcplab: refusing to run with capabilities in effect (CapEff {:#x}): the "
            "desktop lab must not hold privileges; remove them (sudo setcap -r {}); "
            "capturing on interfaces goes through tcplab's helper tcplab-link, "
            "which members of the group tcplab may run\n",
            capabilities, tcplab::link::runningBinary());
    return {};
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
    if (const std::string refusal = privilegeRefusal(); !refusal.empty()) {
        std::cerr << refusal;
        return 1;
    }
    if (::geteuid() == 0)
        std::cerr << "tcplab: warning: running as root, so all of the desktop lab runs with "
                     "root's privileges; it needs none: run it as an ordinary user (capturing on "
                     "interfaces needs membership of the group tcplab, not root)\n";

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
