#include "lab/lab_error.h"

#include <fstream>

#include <fmt/format.h>

namespace tcplab::lab {

namespace {

/// The first line of a small file (a sysctl), trimmed; nothing when it cannot be read.
std::string firstLine(const std::string& path) {
    std::ifstream file(path);
    std::string line;
    if (!file || !std::getline(file, line))
        return {};
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r'))
        line.pop_back();
    return line;
}

bool exists(const std::string& path) {
    return std::ifstream(path).good();
}

} // namespace

std::string_view codeName(LabErrorCode code) noexcept {
    switch (code) {
    case LabErrorCode::HelperMissing:
        return "HelperMissing";
    case LabErrorCode::UserNamespacesRefused:
        return "UserNamespacesRefused";
    case LabErrorCode::SetupFailed:
        return "SetupFailed";
    case LabErrorCode::Timeout:
        return "Timeout";
    case LabErrorCode::HelperCrashed:
        return "HelperCrashed";
    case LabErrorCode::Protocol:
        return "Protocol";
    case LabErrorCode::SettingRefused:
        return "SettingRefused";
    case LabErrorCode::Io:
        return "Io";
    }
    return "?";
}

std::string userNamespaceDiagnosis(const std::string& root) {
    const std::string sys = root + "/proc/sys/";
    // Ubuntu 23.10+ lets only programs with an AppArmor profile that allows "userns"
    // create them; the others get a namespace without capabilities.
    if (firstLine(sys + "kernel/apparmor_restrict_unprivileged_userns") == "1")
        return "Ubuntu's AppArmor restriction is on (kernel.apparmor_restrict_unprivileged_userns "
               "= 1): install tcplab's package, whose AppArmor profile allows its lab helper "
               "(or load it: 'sudo apparmor_parser -r /etc/apparmor.d/tcplab-lab-helper')";
    // Debian before 11 and some hardened kernels: a Debian-specific switch.
    if (firstLine(sys + "kernel/unprivileged_userns_clone") == "0")
        return "unprivileged user namespaces are switched off (kernel.unprivileged_userns_clone "
               "= 0): allow them with 'sudo sysctl -w kernel.unprivileged_userns_clone=1'";
    if (firstLine(sys + "user/max_user_namespaces") == "0")
        return "user namespaces are switched off (user.max_user_namespaces = 0): allow them "
               "with 'sudo sysctl -w user.max_user_namespaces=10000'";
    if (exists(root + "/.flatpak-info"))
        return "Flatpak's sandbox does not allow them: run tcplab from a native package";
    if (exists(root + "/.dockerenv") || exists(root + "/run/.containerenv"))
        return "this looks like a container, whose runtime (its seccomp profile) may refuse "
               "them: start the container with '--security-opt seccomp=unconfined', or run "
               "tcplab outside it";
    return {};
}

} // namespace tcplab::lab
