// Internal to the exporters (export_script.cpp, export_calls.cpp): the notes a script's
// header collects, the expressions a system call line is made of, and a recorded peer call
// as the packetdrill action that makes it.
#pragma once

#include "drill/export_script.h"
#include "drill/script.h"
#include "peer/agent_client.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace tcplab::drill::exporting {

/// A note names at most this many frames (then "and N more").
inline constexpr std::size_t kNoteFrames = 8;

/// Things left out or changed, for the header: one line per reason, with its frames.
class Notes {
public:
    void add(std::string what, std::optional<std::size_t> frame = std::nullopt) {
        auto it = std::find_if(m_items.begin(), m_items.end(),
                               [&](const auto& item) { return item.first == what; });
        if (it == m_items.end()) {
            m_items.emplace_back(std::move(what), std::vector<std::size_t>{});
            it = std::prev(m_items.end());
        }
        if (frame)
            it->second.push_back(*frame + 1); // 1-based, as the analysis numbers frames
    }
    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        for (const auto& [what, frames] : m_items) {
            std::string line = what;
            if (!frames.empty()) {
                line += frames.size() == 1 ? ": frame" : ": frames";
                for (std::size_t i = 0; i < frames.size() && i < kNoteFrames; ++i)
                    line += fmt::format("{}{}", i == 0 ? " " : ", ", frames[i]);
                if (frames.size() > kNoteFrames)
                    line += fmt::format(" and {} more", frames.size() - kNoteFrames);
            }
            out.push_back(std::move(line));
        }
        return out;
    }

private:
    std::vector<std::pair<std::string, std::vector<std::size_t>>> m_items;
};

inline Expr integer(std::int64_t v) {
    Expr e;
    e.kind = Expr::Kind::Integer;
    e.integer = v;
    return e;
}

inline Expr hexInteger(std::int64_t v) {
    Expr e = integer(v);
    e.hex = v > 0;
    return e;
}

inline Expr word(std::string_view text) {
    Expr e;
    e.kind = Expr::Kind::Word;
    e.text = std::string(text);
    return e;
}

inline Expr ellipsis() {
    return Expr{};
}

inline Expr binary(std::string op, Expr lhs, Expr rhs) {
    Expr e;
    e.kind = Expr::Kind::Binary;
    e.text = std::move(op);
    e.items.push_back(std::move(lhs));
    e.items.push_back(std::move(rhs));
    return e;
}

inline Expr group(Expr::Kind kind, std::vector<Expr> items) {
    Expr e;
    e.kind = kind;
    e.items = std::move(items);
    return e;
}

inline Expr field(std::string_view name, Expr value) {
    return binary("=", word(name), std::move(value));
}

/// The recorded call as the line that makes it (a system call or a backtick command),
/// or nullopt when packetdrill has no such line (a note then says what was left out).
std::optional<Action> callAction(const peer::CallRecord& call, const ExportOptions& o,
                                 Notes& notes);

} // namespace tcplab::drill::exporting
