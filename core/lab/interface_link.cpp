#include "lab/interface_link.h"

#include "host/phantom_filter.h"
#include "lab/helper_process.h"
#include "link/fd_link.h"
#include "link/helper_request.h"
#include "link/link_errors.h"
#include "link/pcap_link.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace tcplab::lab {

namespace {

constexpr const char* kHelperName = "tcplab-link";
constexpr const char* kGroup = "tcplab";

link::LinkError permission(std::string message) {
    return {link::LinkErrorCode::PermissionDenied, std::move(message)};
}
link::LinkError ioError(std::string message) {
    return {link::LinkErrorCode::Io, std::move(message)};
}

/// Whether this process's groups include `gid`.
bool inGroup(gid_t gid) {
    if (::getegid() == gid)
        return true;
    const int count = ::getgroups(0, nullptr);
    if (count <= 0)
        return false;
    std::vector<gid_t> groups(static_cast<std::size_t>(count));
    const int got = ::getgroups(count, groups.data());
    return got > 0 && std::find(groups.begin(), groups.begin() + got, gid) != groups.begin() + got;
}

/// Why this user may not run the helper (exec said EACCES), and the cure.
link::LinkError notInGroup(const std::string& ifname, const std::string& helper) {
    const group* entry = ::getgrnam(kGroup);
    if (!entry)
        return permission(fmt::format(
            "capturing on {} needs tcplab's helper {}, but the group {} that may run it does not "
            "exist: reinstall tcplab (its package creates the group); meanwhile the built-in lab "
            "(--lab linux) needs no privileges",
            ifname, helper, kGroup));
    bool listed = false;
    const passwd* user = ::getpwuid(::getuid());
    if (user) {
        listed = user->pw_gid == entry->gr_gid;
        for (char** member = entry->gr_mem; member && *member && !listed; ++member)
            listed = std::strcmp(*member, user->pw_name) == 0;
    }
    if (listed && !inGroup(entry->gr_gid))
        return permission(fmt::format(
            "you were added to the group {} after this session began, so it does not count yet: "
            "log out and in again (or start a shell with 'newgrp {}') to capture on {}",
            kGroup, kGroup, ifname));
    return permission(fmt::format(
        "only members of the group {} may capture on network interfaces ({} is its helper): run "
        "'sudo usermod -aG {} {}', then log in again; meanwhile the built-in lab (--lab linux) "
        "needs no privileges",
        kGroup, helper, kGroup, link::userName()));
}

tl::expected<std::string, link::LinkError> findHelper(const std::string& ifname,
                                                      const std::string& configured) {
    std::string path = configured;
    if (path.empty())
        if (const char* env = std::getenv("TCPLAB_LINK_HELPER"); env && *env)
            path = env;
    if (path.empty()) {
        const HelperSearch search = searchHelper(kHelperName);
        if (search.found)
            return *search.found;
        // The installed helper exists but we may not run it: the group's matter.
        if (const std::string installed = std::string("/usr/libexec/tcplab/") + kHelperName;
            ::access(installed.c_str(), F_OK) == 0)
            return installed;
        return tl::make_unexpected(permission(fmt::format(
            "capturing on {} needs CAP_NET_RAW, which this process lacks, or tcplab's helper {}, "
            "which is in none of {}: reinstall tcplab, or name it with "
            "TCPLAB_LINK_HELPER=/path/to/{}; meanwhile the built-in lab (--lab linux) needs no "
            "privileges",
            ifname, kHelperName, search.tried, kHelperName)));
    }
    if (::access(path.c_str(), F_OK) != 0)
        return tl::make_unexpected(permission(fmt::format(
            "capturing on {} needs tcplab's helper {}, which does not exist: reinstall tcplab",
            ifname, path)));
    return path;
}

/// The helper's refusal as the LinkError the in-process path would have given.
link::LinkError fromAnswer(const link::HelperAnswer& answer, const std::string& ifname,
                           const std::string& helper) {
    using link::HelperStatus;
    switch (answer.status) {
    case HelperStatus::NoSuchInterface:
        return link::noSuchInterface(ifname);
    case HelperStatus::InterfaceDown:
        return link::interfaceDown(ifname);
    case HelperStatus::PermissionDenied:
        return permission(fmt::format(
            "tcplab's helper {} holds no CAP_NET_RAW, so it cannot open {}: run 'sudo setcap "
            "cap_net_raw+ep {}' (the package does this), or run tcplab as root",
            helper, ifname, helper));
    default:
        return ioError(
            fmt::format("tcplab's helper {} cannot open {}: {}", helper, ifname, answer.sentence));
    }
}

link::HelperRequest requestFor(const std::string& ifname, const host::Identity& identity) {
    link::HelperRequest request;
    request.interfaceName = ifname;
    request.mac = identity.mac;
    if (identity.ipv4)
        request.ipv4 = identity.ipv4->address;
    if (identity.ipv6)
        request.ipv6 = identity.ipv6->address;
    return request;
}

tl::expected<std::unique_ptr<link::Link>, link::LinkError>
openThroughHelper(const std::string& ifname, const host::Identity& identity,
                  const InterfaceLinkOptions& options) {
    // Refused here by the helper's own rules, so no process is started for it: a name no
    // interface can have is no such interface, anything else the identity's fault.
    const link::HelperRequest request = requestFor(ifname, identity);
    if (const auto valid = link::parseHelperArguments(link::helperArguments(request)); !valid)
        return tl::make_unexpected(
            link::invalidInterfaceName(ifname)
                ? link::noSuchInterface(ifname)
                : ioError(fmt::format("the phantom's identity cannot open {}: {}", ifname,
                                      valid.error().message)));

    auto helper = findHelper(ifname, options.helperPath);
    if (!helper)
        return tl::make_unexpected(helper.error());
    if (::access(helper->c_str(), X_OK) != 0)
        return tl::make_unexpected(errno == EACCES || errno == EPERM
                                       ? notInGroup(ifname, *helper)
                                       : permission(fmt::format("cannot run tcplab's helper {}: {}",
                                                                *helper, std::strerror(errno))));

    auto spawned = spawnHelper(*helper, link::helperArguments(request), {},
                               {fmt::format("capturing on {}", ifname), ""});
    if (!spawned) {
        if (spawned.error().message.find(std::strerror(EACCES)) != std::string::npos)
            return tl::make_unexpected(notInGroup(ifname, *helper));
        return tl::make_unexpected(ioError(spawned.error().message));
    }
    HelperDatagram datagram = receiveFromHelper(spawned->channel.get(), options.timeout, 1024, 1);
    if (datagram.received && options.onHelperAnswered)
        options.onHelperAnswered(spawned->pid);
    spawned->channel.reset(); // lets the helper exit
    const auto status = reapHelper(spawned->pid, datagram.timedOut);

    if (datagram.timedOut)
        return tl::make_unexpected(
            ioError(fmt::format("tcplab's helper {} did not answer within {} ms and was stopped",
                                *helper, options.timeout.count())));
    if (!datagram.received)
        return tl::make_unexpected(
            ioError(fmt::format("tcplab's helper {} {} without an answer", *helper,
                                status ? statusText(*status) : std::string("ended"))));
    const auto answer = link::parseHelperAnswer(datagram.text);
    if (!answer || datagram.truncated)
        return tl::make_unexpected(ioError(fmt::format(
            "tcplab's helper {} answered something else than its protocol ('{}'): is it of another "
            "version of tcplab?",
            *helper, datagram.text.substr(0, 80))));
    if (answer->status != link::HelperStatus::Ok)
        return tl::make_unexpected(fromAnswer(*answer, ifname, *helper));
    if (datagram.fds.size() != 1)
        return tl::make_unexpected(
            ioError(fmt::format("tcplab's helper {} said ok but passed no socket", *helper)));
    return link::FdLink::adopt(datagram.fds.front().release(),
                               fmt::format("AF_PACKET on {} (from tcplab-link)", ifname));
}

} // namespace

std::uint64_t effectiveCapabilities() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0)
        return 0;
    return std::uint64_t{data[0].effective} | std::uint64_t{data[1].effective} << 32;
}

bool holdsNetRaw() {
    return (effectiveCapabilities() >> CAP_NET_RAW) & 1U;
}

tl::expected<std::unique_ptr<link::Link>, link::LinkError>
openInterfaceLink(const std::string& ifname, const host::Identity& identity,
                  const InterfaceLinkOptions& options) {
    InterfaceOpener opener = options.opener;
    if (opener == InterfaceOpener::Auto)
        if (const char* env = std::getenv("TCPLAB_LINK"); env && std::strcmp(env, "helper") == 0)
            opener = InterfaceOpener::Helper;
    const bool inProcess =
        opener == InterfaceOpener::InProcess || (opener == InterfaceOpener::Auto && holdsNetRaw());
    if (!inProcess)
        return openThroughHelper(ifname, identity, options);
    auto opened = link::PcapLink::open(ifname, host::phantomBpfFilter(identity));
    if (!opened)
        return tl::make_unexpected(opened.error());
    return std::unique_ptr<link::Link>(std::move(*opened));
}

} // namespace tcplab::lab
