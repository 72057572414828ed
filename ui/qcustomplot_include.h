#pragma once

// qcustomplot.h uses Qt's lower-case `signals` and `foreach` keywords, which the
// project turns off (QT_NO_KEYWORDS: the wire layer has an emit()). Include it only
// through this header, which lends it the keywords for the duration.
#include <QtGlobal>

#ifndef signals
#define TCPLAB_QCP_DEFINED_SIGNALS
#define signals Q_SIGNALS
#endif
#ifndef foreach
#define TCPLAB_QCP_DEFINED_FOREACH
#define foreach Q_FOREACH
#endif
#include <qcustomplot.h>
#ifdef TCPLAB_QCP_DEFINED_SIGNALS
#undef signals
#undef TCPLAB_QCP_DEFINED_SIGNALS
#endif
#ifdef TCPLAB_QCP_DEFINED_FOREACH
#undef foreach
#undef TCPLAB_QCP_DEFINED_FOREACH
#endif
