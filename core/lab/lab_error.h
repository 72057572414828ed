#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tcplab::lab {

enum class LabErrorCode : std::uint8_t {
    HelperMissing,         ///< tcplab-lab-helper was not found, or is not executable
    UserNamespacesRefused, ///< this system does not let an ordinary user make namespaces
    SetupFailed,           ///< the helper could not build the lab (veth, address, offloads)
    Timeout,               ///< the helper did not answer in time (it was killed)
    HelperCrashed,         ///< the helper ended without an answer
    Protocol,              ///< the helper's answer made no sense (a helper of another version)
    SettingRefused,        ///< the peer's kernel refused a TCP setting
    Io,                    ///< anything else the system refused (spawn, socketpair, eventfd)
};

/// "HelperMissing", "UserNamespacesRefused", ...
std::string_view codeName(LabErrorCode code) noexcept;

/// What went wrong, in one sentence that names the cause and the cure.
struct LabError {
    LabErrorCode code;
    std::string message;
};

/// Why this system refuses unprivileged user namespaces, and what fixes it, as far as
/// it can be told from here: "Ubuntu's AppArmor restriction
/// (kernel.apparmor_restrict_unprivileged_userns = 1); ..." ; "" when nothing explains
/// it (a seccomp filter, a container runtime that says nothing). It reads the sysctls
/// under /proc/sys and the markers of a container or a Flatpak sandbox, all below
/// `root` ("" for the real system; tests pass a directory of their own).
std::string userNamespaceDiagnosis(const std::string& root = "");

} // namespace tcplab::lab
