#pragma once

// The peer agent's values that cross Qt signals (queued ones between the engine's drain and
// the widgets). Declared once, here, before any header's signals name them: every header
// whose signals or slots take them includes this one first.

#include "peer/agent_client.h"
#include "peer/agent_protocol.h"

#include <QMetaType>

Q_DECLARE_METATYPE(tcplab::peer::CallRecord)
Q_DECLARE_METATYPE(tcplab::peer::Request)
