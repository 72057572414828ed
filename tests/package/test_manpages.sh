#!/usr/bin/env bash
# The man pages (packaging/man) render without a warning and match --help both ways:
# every subcommand and option that a --help lists is documented (for tcplab-cli in the
# section of its subcommand), and every option a page documents is in that --help.
#   test_manpages.sh MAN_DIR TCPLAB_CLI TCPLAB TCPLAB_LAB
set -uo pipefail

[ $# -eq 4 ] || { echo "usage: $0 MAN_DIR TCPLAB_CLI TCPLAB TCPLAB_LAB" >&2; exit 2; }
man_dir=$1 cli=$2 gui=$3 lab=$4
command -v groff >/dev/null || { echo "SKIP: groff is missing (apt-get install groff-base)"; exit 77; }

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# --- Rendering: groff's warnings, and man's own check where man-db is here. ---------
for page in "$man_dir"/tcplab.1 "$man_dir"/tcplab-cli.1 "$man_dir"/tcplab-lab.1; do
  [ -f "$page" ] || { fail "$page is missing"; continue; }
  out=$(groff -man -ww -z "$page" 2>&1)
  [ -z "$out" ] || fail "groff warns on $(basename "$page"): $out"
  if command -v man >/dev/null; then
    out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
    [ -z "$out" ] || fail "man warns on $(basename "$page"): $out"
  fi
done

# The page's source as plain text: \- is a hyphen, font changes go.
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$1"; }

# The options a --help lists: "-h,--help", "  --ipv6", "-q,--quiet", "  -h, --help" ...
help_options() {
  grep -oE '^ {2,}(-[a-zA-Z], ?)?--[a-z0-9][a-z0-9-]*' | grep -oE -- '-{1,2}[a-zA-Z0-9][a-z0-9-]*'
}

# The options documented in a piece of roff: the first word of each .TP tag line.
page_options() {
  awk 'tag { print; tag = 0 } /^\.TP/ { tag = 1 }' | grep -oE -- '(^|[ "])-{1,2}[a-zA-Z][a-z0-9-]*' |
    grep -oE -- '-{1,2}[a-zA-Z][a-z0-9-]*'
}

has_word() { # TEXT WORD: WORD appears in TEXT, not as part of a longer option
  grep -qE -- "(^|[^a-zA-Z0-9-])$2([^a-zA-Z0-9-]|\$)" <<<"$1"
}

# The lines of a .SS section of the page source (plain), up to the next .SS or .SH.
section() { # FILE NAME
  plain "$1" | awk -v name="$2" '/^\.S[SH] /{ on = ($1 == ".SS" && $2 == name); next } on'
}

# Checks both ways between a --help and a piece of the page.
match_both_ways() { # WHAT HELP_TEXT PAGE_TEXT
  local what=$1 help=$2 page=$3 opt
  for opt in $(help_options <<<"$help" | sort -u); do
    has_word "$page" "$opt" || fail "$what: $opt is in --help but not in the man page"
  done
  for opt in $(page_options <<<"$page" | sort -u); do
    has_word "$help" "$opt" || fail "$what: the man page documents $opt, which --help does not list"
  done
}

# --- tcplab-cli: the top level, then each subcommand in its own section. ---------
cli_page="$man_dir/tcplab-cli.1"
top_help=$("$cli" --help) || fail "tcplab-cli --help failed"
top_page=$(plain "$cli_page" | awk '/^\.SH SUBCOMMANDS/{ exit } 1')
match_both_ways "tcplab-cli" "$top_help" "$top_page"
subcommands=$(awk '/^Subcommands:/{ on = 1; next } on && /^  [a-z]/{ print $1 }' <<<"$top_help")
[ -n "$subcommands" ] || fail "tcplab-cli --help lists no subcommands"
for sub in $subcommands; do
  body=$(section "$cli_page" "$sub")
  if [ -z "$body" ]; then
    fail "tcplab-cli $sub has no .SS $sub section in tcplab-cli.1"
    continue
  fi
  sub_help=$("$cli" "$sub" --help) || fail "tcplab-cli $sub --help failed"
  # -h/--help is every subcommand's; the page documents it once, at the top.
  sub_help=$(grep -vE '^ +-h,--help' <<<"$sub_help")
  match_both_ways "tcplab-cli $sub" "$sub_help" "$body"
done
for documented in $(plain "$cli_page" | awk '/^\.SS /{ print $2 }'); do
  grep -qx "$documented" <<<"$subcommands" || fail "tcplab-cli.1 documents '$documented', which tcplab-cli --help does not list"
done

# --- tcplab (needs no display for --help). ----------------------------------------
gui_help=$(env -u DISPLAY -u WAYLAND_DISPLAY "$gui" --help) || fail "tcplab --help failed without a display"
match_both_ways "tcplab" "$gui_help" "$(plain "$man_dir/tcplab.1")"

# --- tcplab-lab: its commands and options. ----------------------------------------
lab_help=$(bash "$lab" --help) || fail "tcplab-lab --help failed"
lab_page=$(plain "$man_dir/tcplab-lab.1")
match_both_ways "tcplab-lab" "$lab_help" "$lab_page"
while read -r cmd; do
  grep -qE "^\.B $cmd\$" <<<"$lab_page" || fail "tcplab-lab: command '$cmd' has no .B $cmd entry in tcplab-lab.1"
done < <(grep -oE '^  [a-z]+ {2,}' <<<"$lab_help" | awk '{ print $1 }')

# --- The versions the pages name are the binaries' versions. -----------------------
version=$("$cli" --version | awk '{ print $2 }')
for page in tcplab.1 tcplab-cli.1 tcplab-lab.1; do
  grep -q "\"tcplab $version\"" "$man_dir/$page" || fail "$page does not say tcplab $version in .TH"
done
[ "$("$gui" --version)" = "tcplab $version" ] || fail "tcplab --version is not 'tcplab $version'"
[ "$(bash "$lab" --version)" = "tcplab-lab $version" ] || fail "tcplab-lab --version is not 'tcplab-lab $version'"

if [ "$failures" -gt 0 ]; then
  echo "$failures mismatch(es) between the man pages and --help"
  exit 1
fi
echo "PASS: man pages render cleanly and match --help (tcplab-cli: $(wc -w <<<"$subcommands") subcommands)"
