// tcplab: the desktop lab. Starts on the built-in lab; everything else is in ui/.
#include "ui/main_window.h"

#include <QApplication>

int main(int argc, char* argv[]) {
    QApplication app(argc, argv);
    QApplication::setOrganizationName(QStringLiteral("tcplab"));
    QApplication::setApplicationName(QStringLiteral("tcplab"));
    QApplication::setApplicationVersion(QStringLiteral(TCPLAB_VERSION));
    tcplab::ui::MainWindow window;
    window.show();
    return QApplication::exec();
}
