#pragma once

#include "engine/scenario.h"

#include <QMainWindow>
#include <QString>

class QCheckBox;
class QComboBox;
class QLabel;
class QPushButton;
class QSplitter;
class QTableView;
class QTreeWidget;

namespace tcplab::ui {

class EngineWorker;
class LadderView;
class TimelineModel;

/// The desktop lab's main window: the lab bar (built-in lab, IPv4/IPv6, addresses,
/// Start/Stop, the probe's verdict), the classic exercise, the ladder (centre), the
/// segment table (bottom) and the decode tree of the selected segment (right).
class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    EngineWorker* worker() const noexcept { return m_worker; }
    TimelineModel* model() const noexcept { return m_model; }
    LadderView* ladder() const noexcept { return m_ladder; }
    QTableView* table() const noexcept { return m_table; }
    QTreeWidget* decodeTree() const noexcept { return m_decode; }
    engine::CloseMode closeMode() const;
    void setCloseMode(engine::CloseMode mode);

    /// Writes the timeline to `path`: pcap, or JSON when the name ends in .json. The
    /// error sentence on failure (nothing is written then).
    QString exportTimeline(const QString& path);

public Q_SLOTS:
    void startLab();
    void stopLab();
    /// Starts the lab first when it is not running.
    void runClassic();
    /// Asks for a file name and exports; errors in a message box.
    void exportTimelineInteractively();
    /// Selects `row` in the table, the ladder and the decode tree (-1: none).
    void selectRow(int row);

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildMenus();
    QWidget* buildLabBar();
    void connectWorker();
    void onTimelineGrew(qsizetype newSize);
    void showDecode(int row);
    void updateLabBar();
    void restoreSettings();
    void saveSettings() const;

    EngineWorker* m_worker = nullptr;
    TimelineModel* m_model = nullptr;
    LadderView* m_ladder = nullptr;
    QTableView* m_table = nullptr;
    QTreeWidget* m_decode = nullptr;
    QSplitter* m_vertical = nullptr;
    QSplitter* m_horizontal = nullptr;

    QComboBox* m_labChooser = nullptr;
    QComboBox* m_family = nullptr;
    QLabel* m_addresses = nullptr;
    QPushButton* m_start = nullptr;
    QPushButton* m_stop = nullptr;
    QLabel* m_probe = nullptr;
    QPushButton* m_run = nullptr;
    QComboBox* m_closeMode = nullptr;
    QCheckBox* m_follow = nullptr;
    QCheckBox* m_autoAck = nullptr;
    int m_ladderRows = 0; ///< model rows handed to the ladder
};

} // namespace tcplab::ui
