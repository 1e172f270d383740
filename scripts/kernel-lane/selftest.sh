#!/bin/sh
# Stand-in for vnet's e2e test binary, run by `scripts/kernel-lane.sh --selftest`
# inside the kernel-lane guest (busybox ash). It proves the lane itself: that
# the guest kernel, its modules and the copied-in tools can do everything vnet
# needs (veth, 802.1Q, VLAN-filtering bridges, netem/tbf/htb, nftables incl.
# NAT and the bridge family, tun/tap, dummy, macvlan, vxlan, netns traffic).
#
# It prints libtest-mimic's format, which the host script parses:
#   running N tests
#   test NAME ... ok|FAILED|ignored
#   test result: ok|FAILED. P passed; F failed; I ignored; 0 measured; X filtered out; finished in S.SSs
# Arguments: --test-threads=N is accepted and ignored (tests run one by one);
# any other non-option argument is a substring filter, as in libtest.
#
# Real tools by full path: in busybox-static's ash a bare `ip`/`tc` would run
# busybox's own applets, which know nothing of vlan_filtering or netem options.

IP=/usr/sbin/ip
TC=/usr/sbin/tc
BRIDGE=/usr/sbin/bridge
NFT=/usr/sbin/nft

filter=
for arg in "$@"; do
    case $arg in
    --test-threads=* | --nocapture | --color=* | -q | --quiet) ;;
    -*) echo "selftest: unsupported option $arg" >&2; exit 2 ;;
    *) filter=$arg ;;
    esac
done

# --- helpers ---------------------------------------------------------------

fail() {
    echo "assertion failed: $*" >&2
    exit 1
}

# expect_in TEXT NEEDLE WHAT
expect_in() {
    case $1 in
    *"$2"*) ;;
    *) fail "$3: expected '$2' in: $1" ;;
    esac
}

# Integer milliseconds of ping's average RTT ("round-trip min/avg/max = a/b/c ms").
ping_avg_ms() {
    sed -n 's#.*round-trip min/avg/max = [0-9.]*/\([0-9]*\)[0-9.]*/.*#\1#p'
}

# --- tests (each runs in its own subshell with set -e) ------------------------

t_veth_pair() {
    $IP link add v0 type veth peer name v1
    $IP link set v0 up
    $IP link set v1 up
    expect_in "$($IP -d link show v1)" "veth" "v1 is a veth"
}

t_vlan_subinterface() {
    $IP link add link v0 name v0.10 type vlan id 10
    expect_in "$($IP -d link show v0.10)" "vlan protocol 802.1Q id 10" "802.1Q sub-interface"
}

t_bridge_vlan_filtering() {
    $IP link add br0 type bridge vlan_filtering 1
    [ "$(cat /sys/class/net/br0/bridge/vlan_filtering)" = 1 ] || fail "vlan_filtering not 1"
    $IP link set v1 master br0
    $BRIDGE vlan add dev v1 vid 10
    $BRIDGE vlan add dev v1 vid 20 pvid untagged
    out=$($BRIDGE vlan show dev v1)
    expect_in "$out" "10" "bridge vlan 10 on v1"
    expect_in "$out" "PVID" "pvid on v1"
}

t_netem_delay() {
    $TC qdisc add dev v0 root netem delay 10ms
    expect_in "$($TC qdisc show dev v0)" "netem" "netem qdisc"
    $TC qdisc change dev v0 root netem delay 10ms 2ms loss 1% rate 10mbit
    $TC qdisc del dev v0 root
}

t_tbf_and_htb() {
    $IP link add d0 type dummy
    $TC qdisc add dev d0 root tbf rate 1mbit burst 32kbit latency 400ms
    expect_in "$($TC qdisc show dev d0)" "tbf" "tbf qdisc"
    $TC qdisc replace dev d0 root handle 1: htb default 10
    $TC class add dev d0 parent 1: classid 1:10 htb rate 5mbit
    expect_in "$($TC class show dev d0)" "htb 1:10" "htb class"
    $IP link del d0
}

t_nft_table() {
    $NFT add table ip t
    expect_in "$($NFT list tables)" "table ip t" "nft table"
}

t_nft_nat_masquerade() {
    $NFT add table ip nat_t
    $NFT add chain ip nat_t post '{ type nat hook postrouting priority 100; }'
    $NFT add rule ip nat_t post oifname "v0" masquerade
    $NFT add chain ip nat_t pre '{ type nat hook prerouting priority -100; }'
    $NFT add rule ip nat_t pre tcp dport 8080 dnat to 192.0.2.9:80
    $NFT add chain ip t fw '{ type filter hook forward priority 0; }'
    $NFT add rule ip t fw ct state established,related accept
    $NFT add rule ip t fw fib daddr type local drop
    $NFT delete table ip nat_t
}

t_nft_bridge_family() {
    $NFT add table bridge tb
    # ("fwd" would be the nft keyword, hence "fw")
    $NFT add chain bridge tb fw '{ type filter hook forward priority 0; }'
    $NFT add rule bridge tb fw vlan id 10 counter
    $NFT add rule bridge tb fw meta ibrname "br0" counter
    $NFT delete table bridge tb
}

t_tun_dummy_macvlan_vxlan() {
    [ -c /dev/net/tun ] || fail "/dev/net/tun missing"
    $IP tuntap add dev tap0 mode tap
    $IP tuntap add dev tun0 mode tun
    $IP link add d1 type dummy
    $IP link add link d1 name mv0 type macvlan mode bridge
    $IP link add vx0 type vxlan id 42 dstport 4789 local 127.0.0.1 dev lo
    for dev in tap0 tun0 d1 mv0 vx0; do
        $IP link show "$dev" >/dev/null
    done
    for dev in vx0 mv0 d1 tun0 tap0; do
        $IP link del "$dev"
    done
}

# Two namespaces behind a VLAN-filtering bridge: access ports on VLAN 30
# (untagged, pvid) plus an 802.1Q sub-interface pair on tagged VLAN 40, one
# side delayed by netem. Real frames cross the bridge both ways.
t_netns_traffic_through_vlan_bridge() {
    $IP netns add na
    $IP netns add nb
    $IP link add brx type bridge vlan_filtering 1
    $IP link set brx up
    for n in a b; do
        $IP link add "h$n" type veth peer name "p$n"
        $IP link set "h$n" netns "n$n"
        $IP link set "p$n" master brx
        $IP link set "p$n" up
        $BRIDGE vlan del dev "p$n" vid 1
        $BRIDGE vlan add dev "p$n" vid 30 pvid untagged
        $BRIDGE vlan add dev "p$n" vid 40
        $IP -n "n$n" link set lo up
        $IP -n "n$n" link set "h$n" up
        $IP -n "n$n" link add link "h$n" name "h$n.40" type vlan id 40
        $IP -n "n$n" link set "h$n.40" up
    done
    $IP -n na addr add 192.0.2.1/24 dev ha
    $IP -n nb addr add 192.0.2.2/24 dev hb
    $IP -n na addr add 198.51.100.1/24 dev ha.40
    $IP -n nb addr add 198.51.100.2/24 dev hb.40
    $IP netns exec na $TC qdisc add dev ha root netem delay 10ms

    # Untagged (VLAN 30) path, with 10 ms of netem on the way out of na.
    out=$($IP netns exec na ping -c 3 -W 5 192.0.2.2)
    echo "$out"
    avg=$(echo "$out" | ping_avg_ms)
    if [ -z "$avg" ] || [ "$avg" -lt 10 ]; then
        fail "expected an RTT of at least 10 ms, got '$avg'"
    fi
    # Tagged (VLAN 40) path through the 802.1Q sub-interfaces.
    $IP netns exec nb ping -c 2 -W 5 198.51.100.1
    # VLAN isolation: with VLAN 40 removed from pb, the tagged path must break.
    $BRIDGE vlan del dev pb vid 40
    if $IP netns exec na ping -c 1 -W 1 198.51.100.2 >/dev/null 2>&1; then
        fail "ping crossed the bridge on a VLAN the port is not a member of"
    fi

    $IP netns del na
    $IP netns del nb
    $IP link del brx
}

# A router namespace masquerading na's traffic towards nb; nb counts packets
# arriving from the router's address, which proves conntrack + NAT rewrote
# them (without NAT they would come from na's own address).
t_netns_nat_masquerade() {
    for n in na nr nb; do $IP netns add "$n"; $IP -n "$n" link set lo up; done
    # (No device called "br": `ip link set br up` reads "br" as "broadcast".)
    $IP link add va netns na type veth peer name vra netns nr
    $IP link add vb netns nb type veth peer name vrb netns nr
    $IP -n na addr add 192.0.2.10/24 dev va
    $IP -n nr addr add 192.0.2.1/24 dev vra
    $IP -n nr addr add 198.51.100.1/24 dev vrb
    $IP -n nb addr add 198.51.100.20/24 dev vb
    for pair in na:va nr:vra nr:vrb nb:vb; do $IP -n "${pair%%:*}" link set "${pair#*:}" up; done
    $IP -n na route add default via 192.0.2.1
    $IP netns exec nr sysctl -qw net.ipv4.ip_forward=1
    $IP netns exec nr $NFT add table ip nat
    $IP netns exec nr $NFT add chain ip nat post '{ type nat hook postrouting priority 100; }'
    $IP netns exec nr $NFT add rule ip nat post oifname vrb masquerade
    $IP netns exec nb $NFT add table inet f
    $IP netns exec nb $NFT add chain inet f in '{ type filter hook input priority 0; }'
    $IP netns exec nb $NFT add rule inet f in ip saddr 198.51.100.1 icmp type echo-request counter
    $IP netns exec na ping -c 2 -W 5 198.51.100.20
    out=$($IP netns exec nb $NFT list chain inet f in)
    echo "$out"
    expect_in "$out" "counter packets 2" "nb saw 2 masqueraded echo requests"
    expect_in "$($IP netns exec nr $NFT list ruleset)" "masquerade" "ruleset"
    for n in na nr nb; do $IP netns del "$n"; done
}

t_vnet_binary_runs() {
    "$VNET_BIN" --version
}

t_topologies_dir_present() {
    [ -d "$VNET_TOPOLOGIES" ] || fail "VNET_TOPOLOGIES=$VNET_TOPOLOGIES is not a directory"
    ls -la "$VNET_TOPOLOGIES"
    [ "$VNET_KERNEL_LANE" = 1 ] || fail "VNET_KERNEL_LANE is not 1"
}

# --- harness -------------------------------------------------------------------

# Test names, in order (t_NAME is the body; some use devices of earlier ones).
TESTS="
veth_pair
vlan_subinterface
bridge_vlan_filtering
netem_delay
tbf_and_htb
nft_table
nft_nat_masquerade
nft_bridge_family
tun_dummy_macvlan_vxlan
netns_traffic_through_vlan_bridge
netns_nat_masquerade
vnet_binary_runs
topologies_dir_present
"

# ignore_reason NAME: prints why NAME is ignored here, or nothing.
ignore_reason() {
    case $1 in
    vnet_binary_runs) [ -x "${VNET_BIN:-}" ] || echo "no vnet binary in the guest (run with --vnet PATH)" ;;
    esac
}

total=0 filtered=0
for t in $TESTS; do
    case $t in *"$filter"*) total=$((total + 1)) ;; *) filtered=$((filtered + 1)) ;; esac
done

start=$(cut -d' ' -f1 /proc/uptime)
echo
echo "running $total tests"
passed=0 failed=0 ignored=0 failures=
logdir=$(mktemp -d)
for t in $TESTS; do
    case $t in *"$filter"*) ;; *) continue ;; esac
    reason=$(ignore_reason "$t")
    if [ -n "$reason" ]; then
        echo "SKIPPED $t: $reason"
        echo "test $t ... ignored"
        ignored=$((ignored + 1))
        continue
    fi
    # Not `if (set -e; ...)`: errexit is ignored inside an if condition.
    (set -e; "t_$t") >"$logdir/$t" 2>&1
    # shellcheck disable=SC2181
    if [ $? -eq 0 ]; then
        echo "test $t ... ok"
        passed=$((passed + 1))
    else
        echo "test $t ... FAILED"
        failed=$((failed + 1))
        failures="$failures $t"
    fi
done

if [ "$failed" -gt 0 ]; then
    echo
    echo "failures:"
    for t in $failures; do
        echo
        echo "---- $t stdout ----"
        cat "$logdir/$t"
    done
    echo
    echo "failures:"
    for t in $failures; do echo "    $t"; done
    verdict=FAILED
else
    verdict=ok
fi
rm -rf "$logdir"

elapsed=$(awk -v s="$start" '{ printf "%.2f", $1 - s }' /proc/uptime)
echo
echo "test result: $verdict. $passed passed; $failed failed; $ignored ignored; 0 measured; $filtered filtered out; finished in ${elapsed}s"
echo
[ "$failed" -eq 0 ]
