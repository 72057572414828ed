#pragma once
// The connection tracker (issue 4): being written.
