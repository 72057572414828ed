# Settings that lab/sysctl.pkt reads the way packetdrill's scripts read defaults.sh.
sysctl -q net.ipv4.tcp_sack=0
sysctl -q net.ipv4.tcp_timestamps=1   # timestamps stay on
sysctl -q net.ipv4.tcp_rmem="4096 $((64*1024)) 4194304"
