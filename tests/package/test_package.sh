#!/usr/bin/env bash
# The Debian package end to end, as a user gets it: build it with cpack, install it with
# apt-get, run the INSTALLED binaries from a clean environment (cwd /, so nothing of the
# build tree can be found), check the capabilities and the desktop files, then purge it
# and check that nothing is left.
#   test_package.sh BUILD_DIR VERSION
# Needs root, dpkg, apt-get and cpack; skips (77) without them, or when a tcplab package
# that is not this test's is installed (it will not touch that one).
set -uo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR VERSION" >&2; exit 2; }
build=$1 version=$2
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "installing a package needs root"
for tool in dpkg dpkg-deb dpkg-shlibdeps apt-get cpack getcap setpriv unshare flock; do
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
cleanup() {
  # A failure half-way must not leave the package on the machine.
  if [ "$we_installed" = 1 ] && installed; then
    apt-get purge -y -qq -o DPkg::Lock::Timeout=120 tcplab >/dev/null 2>&1 || true
  fi
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
for dep in libcap2-bin iproute2 libqt6widgets6 libpcap0.8 libc6; do
  grep -qE "(^|, )$dep( |,|$)" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
contents=$(dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\.||')
for path in /usr/bin/tcplab /usr/bin/tcplab-cli /usr/bin/tcplab-lab \
  /usr/libexec/tcplab/tcplab-lab-helper /usr/libexec/tcplab/tcplab-peer-agent \
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
dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/share/tcplab/apparmor/tcplab-lab-helper |
  grep -q '^profile tcplab-lab-helper /usr/libexec/tcplab/tcplab-lab-helper flags=(unconfined)' ||
  fail "the AppArmor profile does not attach to the installed helper"

# --- Install it. -------------------------------------------------------------------
step "apt-get install ./$(basename "$deb")"
we_installed=1
if ! (cd "$work" && apt_get install "./$(basename "$deb")") >"$work/install.log" 2>&1; then
  cat "$work/install.log"
  echo "FAIL: apt-get install"
  exit 1
fi
grep -E '^tcplab:' "$work/install.log" # what postinst said it did
grep -q "granted /usr/bin/tcplab-cli" "$work/install.log" || fail "postinst did not say it granted tcplab-cli its capabilities"
files=$(dpkg -L tcplab)
mkdir -m 700 "$work/runtime" && chown 65534:65534 "$work/runtime" # Qt's, for the unprivileged run

step "the installed tcplab-cli, tcplab and tcplab-lab"
out=$(clean /usr/bin/tcplab-cli --version)
[ "$out" = "tcplab-cli $version" ] || fail "tcplab-cli --version said '$out'"
out=$(clean QT_QPA_PLATFORM=offscreen /usr/bin/tcplab --version)
[ "$out" = "tcplab $version" ] || fail "tcplab --version said '$out'"
clean /usr/bin/tcplab --help | grep -q '^Usage: tcplab' || fail "tcplab --help without a display"
out=$(clean /usr/bin/tcplab-lab --version)
[ "$out" = "tcplab-lab $version" ] || fail "tcplab-lab --version said '$out'"

step "capabilities"
for binary in /usr/bin/tcplab-cli /usr/bin/tcplab; do
  caps=$(getcap "$binary")
  echo "$caps"
  grep -qE 'cap_net_admin,cap_net_raw[=+]eip' <<<"$caps" || fail "getcap $binary: '$caps'"
done

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

step "raw capture as an ordinary user, with the capabilities and without"
# With them: libpcap opens lo and the phantom's ARP probes go out and come back.
out=$(in_netns setpriv --reuid=65534 --regid=65534 --clear-groups env -i timeout 3 \
  /usr/bin/tcplab-cli experiment --iface lo --phantom 198.18.0.2/24 --peer 198.18.0.1 2>&1)
grep -q "phantom <- peer  ARP probe" <<<"$out" ||
  fail "tcplab-cli --iface as an ordinary user did not capture with the granted capabilities: $out"
# Without them: one sentence naming what is missing, and the setcap command.
out=$(in_netns setpriv --no-new-privs --reuid=65534 --regid=65534 --clear-groups env -i \
  timeout 30 /usr/bin/tcplab-cli experiment --iface lo --phantom 198.18.0.2/24 --peer 198.18.0.1 2>&1)
status=$?
echo "$out"
[ "$status" -eq 1 ] || fail "tcplab-cli --iface without CAP_NET_RAW exited $status, not 1"
grep -q "needs CAP_NET_RAW" <<<"$out" || fail "tcplab-cli --iface without CAP_NET_RAW does not name it"
grep -qF "sudo setcap cap_net_raw,cap_net_admin+eip /usr/bin/tcplab-cli" <<<"$out" ||
  fail "tcplab-cli --iface without CAP_NET_RAW does not print the setcap command"
out=$(unprivileged QT_QPA_PLATFORM=offscreen timeout -k 2 3 /usr/bin/tcplab 2>&1)
grep -F "tcplab: without CAP_NET_RAW" <<<"$out" | grep -qF \
  "sudo setcap cap_net_raw,cap_net_admin+eip /usr/bin/tcplab" ||
  fail "tcplab started without CAP_NET_RAW does not say so with the setcap command: $out"
out=$(as_user QT_QPA_PLATFORM=offscreen timeout -k 2 3 /usr/bin/tcplab 2>&1)
grep -F "without CAP_NET_RAW" <<<"$out" && fail "tcplab with its capabilities says it lacks them"

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
