#!/usr/bin/env bash
# The Debian package end to end, as a user gets it: build it with cpack, install it with
# apt-get, run the INSTALLED binaries from a clean environment (cwd /, so nothing of the
# build tree can be found), check the privilege separation (only tcplab-link holds a
# capability; a real user in the group tcplab captures through it, from the CLI and the
# GUI's worker; a user outside it is told how to join; the GUI refuses capabilities and
# setuid) and the desktop files, then purge it and check that nothing is left.
#   test_package.sh BUILD_DIR VERSION
# Needs root, dpkg, apt-get and cpack; skips (77) without them, or when a tcplab package
# that is not this test's is installed (it will not touch that one).
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR VERSION" >&2; exit 2; }
build=$1 version=$2
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "installing a package needs root"
for tool in dpkg dpkg-deb dpkg-shlibdeps apt-get cpack getcap setcap setpriv unshare flock useradd \
  userdel getent; do
  command -v "$tool" >/dev/null || skip "$tool is missing (scripts/bootstrap installs it)"
done
[ -f "$build/CPackConfig.cmake" ] || { echo "FAIL: no $build/CPackConfig.cmake: configure first"; exit 1; }

# One package test at a time on this machine, whichever build tree it comes from.
exec 9>/run/lock/tcplab-package-test.lock
flock -w 600 9 || { echo "FAIL: another package test held the lock for 10 minutes"; exit 1; }

installed() { dpkg-query -W -f='${db:Status-Status}' tcplab 2>/dev/null | grep -qx installed; }
installed && skip "a tcplab package is installed here; this test installs and purges its own," \
  "so remove that one first (apt-get purge tcplab)"

start=$(date +%s)
work=$(mktemp -d /tmp/tcplab-package-test.XXXXXX)
chmod 755 "$work"
we_installed=0
# A real unprivileged user, made for this test and in the group tcplab once it exists.
member=tcplabt$$
we_made_user=0
cleanup() {
  # A failure half-way must not leave the package (or the user) on the machine.
  if [ "$we_installed" = 1 ] && installed; then
    apt-get purge -y -qq -o DPkg::Lock::Timeout=120 tcplab >/dev/null 2>&1 || true
  fi
  [ "$we_made_user" = 1 ] && userdel "$member" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
step() { echo "--- $* ($(($(date +%s) - start)) s)"; }
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=120 "$@"; }
# The installed programs run as a user would start them: cwd /, no inherited environment.
clean() { (cd / && env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/nonexistent "$@"); }
# ... as an ordinary user (nobody), who gets the file capabilities ...
as_user() {
  clean setpriv --reuid=65534 --regid=65534 --clear-groups env XDG_RUNTIME_DIR="$work/runtime" "$@"
}
# ... or does not (no_new_privs: exec grants no file capabilities), as where the package
# could not grant them. (Not the bounding set: exec of a file whose +e capabilities cannot
# all be granted fails with EPERM.)
unprivileged() {
  clean setpriv --no-new-privs --reuid=65534 --regid=65534 --clear-groups \
    env XDG_RUNTIME_DIR="$work/runtime" "$@"
}
# ... or as the group's member (its supplementary groups from /etc/group, as at login).
as_member() {
  clean setpriv --reuid="$member" --regid="$member" --init-groups \
    env XDG_RUNTIME_DIR="$work/runtime-member" "$@"
}
# In a network namespace of its own with lo up, so that not one frame leaves it.
in_netns() { unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"; }

# --- Build the package. ------------------------------------------------------------
step "cpack -G DEB"
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work" >"$work/cpack.log" 2>&1; then
  cat "$work/cpack.log"
  echo "FAIL: cpack"
  exit 1
fi
deb=$(find "$work" -maxdepth 1 -name "tcplab_${version}_*.deb" -print -quit)
[ -n "$deb" ] || { cat "$work/cpack.log"; echo "FAIL: cpack made no tcplab_${version}_*.deb"; exit 1; }
echo "$(basename "$deb"): $(du -k "$deb" | cut -f1) KiB"

step "the package's control data and contents"
control=$(dpkg-deb -f "$deb")
echo "$control" | grep -E '^(Package|Version|Depends|Recommends):'
depends=$(dpkg-deb -f "$deb" Depends)
for dep in libcap2-bin passwd iproute2 libqt6widgets6 libpcap0.8 libc6; do
  grep -qE "(^|, )$dep( |,|$)" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
contents=$(dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\.||')
for path in /usr/bin/tcplab /usr/bin/tcplab-cli /usr/bin/tcplab-lab \
  /usr/libexec/tcplab/tcplab-lab-helper /usr/libexec/tcplab/tcplab-peer-agent \
  /usr/libexec/tcplab/tcplab-link /usr/share/tcplab/apparmor/tcplab-link \
  /usr/share/applications/tcplab.desktop \
  /usr/share/metainfo/io.github.tcplab.tcplab.metainfo.xml \
  /usr/share/icons/hicolor/scalable/apps/tcplab.svg /usr/share/icons/hicolor/16x16/apps/tcplab.png \
  /usr/share/icons/hicolor/256x256/apps/tcplab.png /usr/share/man/man1/tcplab.1.gz \
  /usr/share/man/man1/tcplab-cli.1.gz /usr/share/man/man1/tcplab-lab.1.gz \
  /usr/share/tcplab/apparmor/tcplab-lab-helper; do
  grep -qx "$path" <<<"$contents" || fail "the package lacks $path"
done
dpkg-deb -e "$deb" "$work/control"
for script in postinst prerm postrm; do
  [ -x "$work/control/$script" ] || fail "the package has no executable $script"
done
# Read whole before grep: grep -q leaves at its first match, and under pipefail the
# SIGPIPE of a tar still writing (in 512-byte records) failed the check now and then.
profile_of() { dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/share/tcplab/apparmor/$1"; }
lab_profile=$(profile_of tcplab-lab-helper)
grep -q '^profile tcplab-lab-helper /usr/libexec/tcplab/tcplab-lab-helper flags=(unconfined)' \
  <<<"$lab_profile" || fail "the AppArmor profile does not attach to the installed helper"
link_profile=$(profile_of tcplab-link)
grep -q '^profile tcplab-link /usr/libexec/tcplab/tcplab-link {' <<<"$link_profile" ||
  fail "the AppArmor profile of tcplab-link does not attach to the installed helper"
# tcplab-link's profile (AppArmor 3 syntax) must compile; -Q -K: no kernel, no cache. The
# lab helper's needs AppArmor 4 (abi/4.0), which Debian 12 does not have.
if command -v apparmor_parser >/dev/null && [ -e /etc/apparmor.d/abi/3.0 ]; then
  dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/tcplab/apparmor/tcplab-link >"$work/tcplab-link.aa"
  apparmor_parser -Q -K -S "$work/tcplab-link.aa" >/dev/null 2>"$work/aa.log" ||
    fail "apparmor_parser does not compile tcplab-link's profile: $(grep -v 'Cache read/write' "$work/aa.log")"
  [ -e /etc/apparmor.d/abi/4.0 ] &&
    { apparmor_parser -Q -K -S <(dpkg-deb --fsys-tarfile "$deb" |
      tar -xO ./usr/share/tcplab/apparmor/tcplab-lab-helper) >/dev/null 2>&1 ||
      fail "apparmor_parser does not compile the lab helper's profile"; }
else
  echo "apparmor_parser (AppArmor 3) missing: the profiles are not compiled"
fi

# --- Install it. -------------------------------------------------------------------
step "apt-get install ./$(basename "$deb")"
we_installed=1
if ! (cd "$work" && apt_get install "./$(basename "$deb")") >"$work/install.log" 2>&1; then
  cat "$work/install.log"
  echo "FAIL: apt-get install"
  exit 1
fi
grep -E '^tcplab:' "$work/install.log" # what postinst said it did
grep -q "members of the group tcplab may capture" "$work/install.log" ||
  fail "postinst did not say who may capture"
grep -qF "sudo usermod -aG tcplab USER" "$work/install.log" ||
  fail "postinst did not say how to add a user to the group tcplab"
files=$(dpkg -L tcplab)
mkdir -m 700 "$work/runtime" && chown 65534:65534 "$work/runtime" # Qt's, for the unprivileged run
getent group tcplab >/dev/null || fail "postinst did not create the group tcplab"
useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group \
  --groups tcplab "$member" && we_made_user=1 || fail "useradd $member"
mkdir -m 700 "$work/runtime-member" && chown "$member:$member" "$work/runtime-member"

step "the installed tcplab-cli, tcplab and tcplab-lab"
out=$(clean /usr/bin/tcplab-cli --version)
[ "$out" = "tcplab-cli $version" ] || fail "tcplab-cli --version said '$out'"
out=$(clean QT_QPA_PLATFORM=offscreen /usr/bin/tcplab --version)
[ "$out" = "tcplab $version" ] || fail "tcplab --version said '$out'"
out=$(clean /usr/bin/tcplab --help)
grep -q '^Usage: tcplab' <<<"$out" || fail "tcplab --help without a display"
out=$(clean /usr/bin/tcplab-lab --version)
[ "$out" = "tcplab-lab $version" ] || fail "tcplab-lab --version said '$out'"

step "capabilities: on tcplab-link alone"
all_caps=$(getcap -r /usr 2>/dev/null)
ours=$(grep tcplab <<<"$all_caps")
echo "$ours"
[ "$ours" = "/usr/libexec/tcplab/tcplab-link cap_net_raw=ep" ] ||
  fail "getcap -r /usr: tcplab's files with capabilities are '$ours', not tcplab-link's cap_net_raw=ep alone"
mode=$(stat -c '%U:%G %a' /usr/libexec/tcplab/tcplab-link)
[ "$mode" = "root:tcplab 750" ] || fail "tcplab-link is $mode, not root:tcplab 750"

step "tcplab-cli experiment on the built-in lab, from the installed files"
# The default peer (--lab linux) needs the installed helper: run from /, with no
# TCPLAB_LAB_HELPER, the build tree is not on its search path.
if out=$(clean timeout 120 /usr/bin/tcplab-cli experiment 2>&1); then
  grep -q "every step happened" <<<"$out" || fail "experiment (linux): no 'every step happened': $out"
else
  fail "experiment (linux) exited $?: $out"
fi
echo "$out" | tail -n 2
if [ -x /usr/libexec/tcplab/tcplab-lwip-helper ]; then
  out=$(clean timeout 120 /usr/bin/tcplab-cli experiment --lab lwip --ipv6 2>&1) ||
    fail "experiment (lwip) exited $?: $out"
  echo "$out" | tail -n 1
fi
# Without any capability, as an ordinary user: the built-in lab needs none.
out=$(unprivileged timeout 120 /usr/bin/tcplab-cli experiment --close rst 2>&1) ||
  fail "experiment as an unprivileged user exited $?: $out"
echo "$out" | tail -n 1

step "raw capture through tcplab-link: a member of the group tcplab, and a user outside it"
# A member: the helper opens lo, and the phantom's ARP probes go out and come back.
out=$(in_netns setpriv --reuid="$member" --regid="$member" --init-groups env -i timeout 3 \
  /usr/bin/tcplab-cli experiment --iface lo --phantom 198.18.0.2/24 --peer 198.18.0.1 2>&1)
grep -q "phantom <- peer  ARP probe" <<<"$out" ||
  fail "tcplab-cli --iface as a member of the group tcplab did not capture through tcplab-link: $out"
# The GUI's worker, offscreen, the same way (this build's test of it, copied where the user
# can read it; it links nothing of the build tree).
worker_test=$build/tests/tst_engine_worker
if [ -x "$worker_test" ]; then
  install -m 755 "$worker_test" "$work/tst_engine_worker"
  out=$(in_netns setpriv --reuid="$member" --regid="$member" --init-groups env -i \
    PATH=/usr/bin:/bin HOME=/nonexistent XDG_RUNTIME_DIR="$work/runtime-member" \
    QT_QPA_PLATFORM=offscreen TCPLAB_TEST_IFACE=lo timeout 60 \
    "$work/tst_engine_worker" interface_asAnOrdinaryUser 2>&1)
  grep -q "^PASS   : TestEngineWorker::interface_asAnOrdinaryUser()" <<<"$out" ||
    fail "the GUI's worker as a member of the group tcplab: $out"
  grep "from tcplab-link" <<<"$out" | head -n 1
else
  fail "no $worker_test to run the GUI's worker with"
fi
# Outside the group (nobody): one sentence that says how to join, exit status 1.
out=$(in_netns setpriv --reuid=65534 --regid=65534 --clear-groups env -i \
  timeout 30 /usr/bin/tcplab-cli experiment --iface lo --phantom 198.18.0.2/24 --peer 198.18.0.1 2>&1)
status=$?
echo "$out"
[ "$status" -eq 1 ] || fail "tcplab-cli --iface outside the group tcplab exited $status, not 1"
[ "$(wc -l <<<"$out")" -eq 1 ] || fail "tcplab-cli --iface outside the group said more than one line"
grep -qF "only members of the group tcplab may capture on network interfaces" <<<"$out" ||
  fail "tcplab-cli --iface outside the group tcplab does not say so"
grep -qF "sudo usermod -aG tcplab nobody" <<<"$out" ||
  fail "tcplab-cli --iface outside the group tcplab does not print the usermod command"
# A member whose session began before it joined (its process lacks the group): log in again.
out=$(in_netns setpriv --reuid="$member" --regid="$member" --clear-groups env -i timeout 30 \
  /usr/bin/tcplab-cli experiment --iface lo --phantom 198.18.0.2/24 --peer 198.18.0.1 2>&1)
status=$?
echo "$out"
[ "$status" -eq 1 ] || fail "tcplab-cli --iface in a session older than the membership exited $status"
grep -qF "you were added to the group tcplab after this session began" <<<"$out" ||
  fail "tcplab-cli --iface in a session older than the membership does not say to log in again"
# Neither tcplab nor tcplab-cli starts with a note about capabilities any more.
out=$(as_user QT_QPA_PLATFORM=offscreen timeout -k 2 3 /usr/bin/tcplab 2>&1)
grep -F "CAP_NET_RAW" <<<"$out" && fail "tcplab as an ordinary user talks of CAP_NET_RAW: $out"

step "the GUI refuses elevated privileges, and warns root"
# (On a nosuid mount neither the setuid bit nor file capabilities take effect.)
if findmnt -n -o OPTIONS -T "$work" | grep -qw nosuid; then
  fail "$work is on a nosuid mount: cannot check the GUI's refusal of privileges"
fi
install -m 755 /usr/bin/tcplab "$work/tcplab-with-caps"
setcap cap_net_raw+ep "$work/tcplab-with-caps"
out=$(as_user QT_QPA_PLATFORM=offscreen timeout -k 2 10 "$work/tcplab-with-caps" 2>&1)
status=$?
[ "$status" -eq 1 ] || fail "tcplab with file capabilities exited $status, not 1: $out"
grep -qF "tcplab: refusing to run with capabilities in effect" <<<"$out" ||
  fail "tcplab with file capabilities does not refuse: $out"
install -m 4755 /usr/bin/tcplab "$work/tcplab-setuid"
out=$(as_user QT_QPA_PLATFORM=offscreen timeout -k 2 10 "$work/tcplab-setuid" 2>&1)
status=$?
[ "$status" -eq 1 ] || fail "tcplab setuid root exited $status, not 1: $out"
grep -qF "tcplab: refusing to run setuid or setgid" <<<"$out" ||
  fail "tcplab setuid root does not refuse: $out"
out=$(clean QT_QPA_PLATFORM=offscreen timeout -k 2 3 /usr/bin/tcplab 2>&1)
grep -qF "tcplab: warning: running as root" <<<"$out" || fail "tcplab as root does not warn: $out"
rm -f "$work/tcplab-with-caps" "$work/tcplab-setuid"

step "desktop integration"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate /usr/share/applications/tcplab.desktop || fail "desktop-file-validate"
fi
if command -v appstreamcli >/dev/null; then
  appstreamcli validate --no-net /usr/share/metainfo/io.github.tcplab.tcplab.metainfo.xml ||
    fail "appstreamcli validate"
fi
for size in 16 32 48 64 128 256; do
  png=/usr/share/icons/hicolor/${size}x${size}/apps/tcplab.png
  if command -v file >/dev/null; then
    file "$png" | grep -q "PNG image data, $size x $size" || fail "$png: $(file -b "$png")"
  fi
done
zcat /usr/share/man/man1/tcplab-cli.1.gz | groff -man -ww -z 2>&1 | grep . && fail "tcplab-cli.1.gz renders with warnings"

# --- Purge it: nothing may be left. ------------------------------------------------
step "apt-get purge tcplab"
if ! apt_get purge tcplab >"$work/purge.log" 2>&1; then
  cat "$work/purge.log"
  fail "apt-get purge"
fi
installed && fail "tcplab is still installed after the purge"
status=$(dpkg-query -W -f='${db:Status-Status}' tcplab 2>/dev/null)
[ -z "$status" ] || [ "$status" = not-installed ] || fail "dpkg still has tcplab as '$status'"
left=0
while read -r path; do
  [ -n "$path" ] || continue
  # dpkg -L also lists shared directories (/usr, /usr/bin, ...); ours have tcplab in the name.
  if [ -e "$path" ] && { [ ! -d "$path" ] || [[ $path == *tcplab* ]]; }; then
    fail "left after purge: $path"
    left=$((left + 1))
  fi
done <<<"$files"
echo "$(wc -l <<<"$files") paths of the package checked, $left left"
compgen -G '/etc/apparmor.d/tcplab*' >/dev/null && fail "left after purge: $(echo /etc/apparmor.d/tcplab*)"
[ -e /usr/libexec/tcplab/tcplab-link ] && fail "left after purge: tcplab-link"
compgen -G '/var/cache/apparmor/*/tcplab*' >/dev/null && fail "left after purge: AppArmor cache"
getcap -r /usr/bin /usr/libexec 2>/dev/null | grep tcplab && fail "capabilities left on tcplab files"
we_installed=0

elapsed=$(($(date +%s) - start))
echo "package test: ${elapsed} s"
[ "$elapsed" -lt 300 ] || fail "the package test took ${elapsed} s, over its 300 s budget"
if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASS: tcplab ${version} builds, installs, runs from the installed files, and purges clean"
