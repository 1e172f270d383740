# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_vnet_global_optspecs
    string join \n no-annotations h/help V/version
end

function __fish_vnet_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_vnet_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_vnet_using_subcommand
    set -l cmd (__fish_vnet_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c vnet -n "__fish_vnet_needs_command" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_needs_command" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_needs_command" -s V -l version -d 'Print version'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "validate" -d 'Check a topology file and report every problem at once (no root needed)'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "plan" -d 'Print the kernel operations `up` would perform, in `ip` syntax'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "up" -d 'Build the lab: namespaces, links, bridges, addresses, routes'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "verify" -d 'Run the lab\'s `expect:` checks against the running lab'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "status" -d 'Show running labs, or one lab\'s nodes, interfaces and addresses'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "exec" -d 'Run a command inside a node (`vnet exec [LAB] NODE -- CMD...`), or without one a shell whose prompt names the lab and node'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "impair" -d 'Impair what a node\'s interface sends in a running lab (netem, TBF), or --clear it'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "attack" -d 'Attack a running lab on purpose, in process: `vnet attack arp-spoof LAB ATTACKER --claim IP --to VICTIM`'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "link" -d 'Take a node\'s interface in a running lab down or up, or flap it (--every 2s --times 5)'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "capture" -d 'Watch frames on nodes\' interfaces: `vnet capture [LAB] NODE:IF... [-w FILE|-]`'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "explain" -d 'Why a packet from FROM reaches TO or not: the path hop by hop, from each namespace\'s kernel state (or, for a lab not running, from the file), and where it stops and why'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "graph" -d 'Draw the lab: Mermaid (for Markdown), DOT (Graphviz) or SVG drawn by vnet; a running lab\'s links that are down are marked'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "down" -d 'Remove exactly what vnet created for a lab; safe to repeat'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "test" -d 'up + verify + down; down always runs, also on failure and Ctrl-C'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "doctor" -d 'Check what this machine\'s kernel can do for vnet, and what to do about the rest'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "gen" -d 'Print a topology of Mininet\'s shapes: `single N`, `linear N`, `tree --depth D --fanout F`'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "export" -d 'Print the lab as a shell script of `ip`/`bridge`/`nft` commands that builds (or removes) it'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "schema" -d 'Print the JSON Schema of the topology format (for editors), or of a command\'s `--json`'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vnet -n "__fish_vnet_using_subcommand validate" -l json -d 'Print the verdict and every problem (file, line, column) as JSON'
complete -c vnet -n "__fish_vnet_using_subcommand validate" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand validate" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand plan" -l vlan-mode -d 'Which VLAN build to print (`auto` prints the native one)' -r -f -a "auto\t''
native\t''
emulated\t''"
complete -c vnet -n "__fish_vnet_using_subcommand plan" -l json -d 'Print the stages and their steps as JSON'
complete -c vnet -n "__fish_vnet_using_subcommand plan" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand plan" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand up" -l progress -d 'Progress display' -r -f -a "auto\t''
always\t''
never\t''"
complete -c vnet -n "__fish_vnet_using_subcommand up" -l vlan-mode -d '802.1Q switches: real VLAN filtering (native) or a bridge per VLAN (emulated)' -r -f -a "auto\t''
native\t''
emulated\t''"
complete -c vnet -n "__fish_vnet_using_subcommand up" -l allow-machine-nat -d 'Let `nat:` on `host` add the lab\'s table to the machine\'s nftables ruleset and turn on its IPv4 forwarding (both undone by `down`)'
complete -c vnet -n "__fish_vnet_using_subcommand up" -l allow-machine-routes -d 'Let `routes:` on `host` take over the machine\'s default route (a default route, or a prefix shorter than /8 or /16; gone when `down` removes the lab\'s links), and `host:` take an address on a subnet the machine is already on'
complete -c vnet -n "__fish_vnet_using_subcommand up" -l json -d 'Print what was made, and how long each stage took, as JSON'
complete -c vnet -n "__fish_vnet_using_subcommand up" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand up" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand verify" -l progress -d 'Progress display' -r -f -a "auto\t''
always\t''
never\t''"
complete -c vnet -n "__fish_vnet_using_subcommand verify" -l junit -d 'Also write the verdict as a JUnit XML report to FILE (one test case per check)' -r -F
complete -c vnet -n "__fish_vnet_using_subcommand verify" -l all-pairs -d 'Probe every host from every other host and print a matrix'
complete -c vnet -n "__fish_vnet_using_subcommand verify" -l json -d 'Print the verdict as JSON'
complete -c vnet -n "__fish_vnet_using_subcommand verify" -l full -d 'Every row (and the all-pairs matrix) however large the lab; by default a large run shows its summary and its failures'
complete -c vnet -n "__fish_vnet_using_subcommand verify" -l stages -d 'Also run the file\'s `stages:` (actions that change the lab, each followed by its checks); `vnet test` always does'
complete -c vnet -n "__fish_vnet_using_subcommand verify" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand verify" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand status" -l json
complete -c vnet -n "__fish_vnet_using_subcommand status" -l all -d 'Every node of the lab, however many (by default a summary and the first 20)'
complete -c vnet -n "__fish_vnet_using_subcommand status" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand status" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand exec" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand exec" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand impair" -l delay -d 'One-way delay: 40ms, 250us, 1s' -r
complete -c vnet -n "__fish_vnet_using_subcommand impair" -l jitter -d 'Jitter of the delay, optionally with its correlation: "5ms" or "5ms 25%"' -r
complete -c vnet -n "__fish_vnet_using_subcommand impair" -l loss -d 'Random loss: 1%, or "1% 25%" with a correlation' -r
complete -c vnet -n "__fish_vnet_using_subcommand impair" -l duplicate -d 'Duplicated packets: 1%' -r
complete -c vnet -n "__fish_vnet_using_subcommand impair" -l reorder -d 'Packets sent ahead of the delayed others: 25% (needs --delay)' -r
complete -c vnet -n "__fish_vnet_using_subcommand impair" -l corrupt -d 'Packets with a flipped bit: 0.1%' -r
complete -c vnet -n "__fish_vnet_using_subcommand impair" -l rate -d 'A rate limit: 10mbit, 500kbit, 1gbit' -r
complete -c vnet -n "__fish_vnet_using_subcommand impair" -l clear -d 'Remove every impairment of the interface (also the file\'s)'
complete -c vnet -n "__fish_vnet_using_subcommand impair" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand impair" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand attack; and not __fish_seen_subcommand_from arp-spoof help" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand attack; and not __fish_seen_subcommand_from arp-spoof help" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand attack; and not __fish_seen_subcommand_from arp-spoof help" -f -a "arp-spoof" -d 'The article\'s ARP spoofing: forged, unsolicited ARP replies (and requests) from the attacker telling the victim that the claimed address is at the attacker\'s MAC'
complete -c vnet -n "__fish_vnet_using_subcommand attack; and not __fish_seen_subcommand_from arp-spoof help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vnet -n "__fish_vnet_using_subcommand attack; and __fish_seen_subcommand_from arp-spoof" -l claim -d 'The IPv4 address it claims is its own (the gateway\'s, say)' -r
complete -c vnet -n "__fish_vnet_using_subcommand attack; and __fish_seen_subcommand_from arp-spoof" -l to -d 'The node told the lie' -r
complete -c vnet -n "__fish_vnet_using_subcommand attack; and __fish_seen_subcommand_from arp-spoof" -l rounds -d 'Rounds of forged packets, 400 ms apart (a reply and a request each)' -r
complete -c vnet -n "__fish_vnet_using_subcommand attack; and __fish_seen_subcommand_from arp-spoof" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand attack; and __fish_seen_subcommand_from arp-spoof" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand attack; and __fish_seen_subcommand_from help" -f -a "arp-spoof" -d 'The article\'s ARP spoofing: forged, unsolicited ARP replies (and requests) from the attacker telling the victim that the claimed address is at the attacker\'s MAC'
complete -c vnet -n "__fish_vnet_using_subcommand attack; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vnet -n "__fish_vnet_using_subcommand link" -l every -d 'Flap (with `down`): down, wait this long, up, wait, ... ending up (`2s`, `500ms`; at least 10ms); Ctrl-C stops it with the link up (exit 4)' -r
complete -c vnet -n "__fish_vnet_using_subcommand link" -l times -d 'How many times to flap with --every (1 or more)' -r
complete -c vnet -n "__fish_vnet_using_subcommand link" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand link" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand capture" -s w -l write -d 'Write a pcap file (`-` for standard output: `| wireshark -k -i -`) instead of a line per frame; pcapng when FILE ends in `.pcapng`' -r -F
complete -c vnet -n "__fish_vnet_using_subcommand capture" -l format -d 'The file\'s format: pcap, or pcapng, which keeps each frame\'s interface (default: from -w\'s extension, else pcap)' -r -f -a "pcap\t''
pcapng\t''"
complete -c vnet -n "__fish_vnet_using_subcommand capture" -s c -l count -d 'Stop after N frames (1 or more)' -r
complete -c vnet -n "__fish_vnet_using_subcommand capture" -l timeout -d 'Stop after this long (`500ms`, `10s`, `2m`)' -r
complete -c vnet -n "__fish_vnet_using_subcommand capture" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand capture" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand explain" -l proto -d 'TCP or UDP (default: ICMP echo; TCP when a port is given)' -r -f -a "icmp\t''
tcp\t''
udp\t''"
complete -c vnet -n "__fish_vnet_using_subcommand explain" -l port -d 'The TCP or UDP port (1-65535)' -r
complete -c vnet -n "__fish_vnet_using_subcommand explain" -l json -d 'Print the explanation as JSON'
complete -c vnet -n "__fish_vnet_using_subcommand explain" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand explain" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand graph" -l format -d 'The picture\'s format (default: from the -o file\'s extension, else mermaid)' -r -f -a "mermaid\t''
dot\t''
svg\t''"
complete -c vnet -n "__fish_vnet_using_subcommand graph" -s o -l output -d 'Write the picture to FILE instead of standard output' -r -F
complete -c vnet -n "__fish_vnet_using_subcommand graph" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand graph" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand down" -l progress -d 'Progress display' -r -f -a "auto\t''
always\t''
never\t''"
complete -c vnet -n "__fish_vnet_using_subcommand down" -l all -d 'Every running lab'
complete -c vnet -n "__fish_vnet_using_subcommand down" -l json -d 'Print what was removed as JSON'
complete -c vnet -n "__fish_vnet_using_subcommand down" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand down" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand test" -l progress -r -f -a "auto\t''
always\t''
never\t''"
complete -c vnet -n "__fish_vnet_using_subcommand test" -l vlan-mode -d '802.1Q switches: real VLAN filtering (native) or a bridge per VLAN (emulated)' -r -f -a "auto\t''
native\t''
emulated\t''"
complete -c vnet -n "__fish_vnet_using_subcommand test" -l junit -d 'Also write the verdict as a JUnit XML report to FILE (one test case per check)' -r -F
complete -c vnet -n "__fish_vnet_using_subcommand test" -l all-pairs
complete -c vnet -n "__fish_vnet_using_subcommand test" -l json
complete -c vnet -n "__fish_vnet_using_subcommand test" -l full -d 'Every row (and the all-pairs matrix) however large the lab'
complete -c vnet -n "__fish_vnet_using_subcommand test" -l allow-machine-nat -d 'Let `nat:` on `host` change the machine\'s ruleset and forwarding (as for `up`)'
complete -c vnet -n "__fish_vnet_using_subcommand test" -l allow-machine-routes -d 'Let `routes:` on `host` take over the machine\'s default route, and `host:` take an address on a subnet the machine is already on (as for `up`)'
complete -c vnet -n "__fish_vnet_using_subcommand test" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand test" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand doctor" -l json -d 'Print the report as JSON'
complete -c vnet -n "__fish_vnet_using_subcommand doctor" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and not __fish_seen_subcommand_from single linear tree help" -l json -d 'Print the topology as JSON data (with its YAML text) instead of YAML'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and not __fish_seen_subcommand_from single linear tree help" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and not __fish_seen_subcommand_from single linear tree help" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and not __fish_seen_subcommand_from single linear tree help" -f -a "single" -d 'N hosts on one switch (several bridges in a tree past --max-ports)'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and not __fish_seen_subcommand_from single linear tree help" -f -a "linear" -d 'N switches in a chain, one host on each'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and not __fish_seen_subcommand_from single linear tree help" -f -a "tree" -d 'A tree of switches D deep with F children each; F^D hosts at the leaves'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and not __fish_seen_subcommand_from single linear tree help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from single" -l name -d 'The lab\'s name (default: after the shape, e.g. `single-100`)' -r
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from single" -l max-ports -d 'Ports per bridge at most (Linux allows 1023)' -r
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from single" -l expect -d 'The `expect:` checks: every ordered pair, a sample, none; `auto`: all up to 10 hosts' -r -f -a "auto\t''
all\t''
sample\t''
none\t''"
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from single" -l json -d 'Print the topology as JSON data (with its YAML text) instead of YAML'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from single" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from single" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from linear" -l name -d 'The lab\'s name (default: after the shape, e.g. `single-100`)' -r
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from linear" -l max-ports -d 'Ports per bridge at most (Linux allows 1023)' -r
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from linear" -l expect -d 'The `expect:` checks: every ordered pair, a sample, none; `auto`: all up to 10 hosts' -r -f -a "auto\t''
all\t''
sample\t''
none\t''"
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from linear" -l json -d 'Print the topology as JSON data (with its YAML text) instead of YAML'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from linear" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from linear" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from tree" -l depth -r
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from tree" -l fanout -r
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from tree" -l name -d 'The lab\'s name (default: after the shape, e.g. `single-100`)' -r
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from tree" -l max-ports -d 'Ports per bridge at most (Linux allows 1023)' -r
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from tree" -l expect -d 'The `expect:` checks: every ordered pair, a sample, none; `auto`: all up to 10 hosts' -r -f -a "auto\t''
all\t''
sample\t''
none\t''"
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from tree" -l json -d 'Print the topology as JSON data (with its YAML text) instead of YAML'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from tree" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from tree" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from help" -f -a "single" -d 'N hosts on one switch (several bridges in a tree past --max-ports)'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from help" -f -a "linear" -d 'N switches in a chain, one host on each'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from help" -f -a "tree" -d 'A tree of switches D deep with F children each; F^D hosts at the leaves'
complete -c vnet -n "__fish_vnet_using_subcommand gen; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vnet -n "__fish_vnet_using_subcommand export" -l vlan-mode -d 'Which VLAN build to write (`auto` writes the native one)' -r -f -a "auto\t''
native\t''
emulated\t''"
complete -c vnet -n "__fish_vnet_using_subcommand export" -l script -d 'A plain shell script, one command per step (the default)'
complete -c vnet -n "__fish_vnet_using_subcommand export" -l batch -d 'A shell script that hands `ip -batch` whole groups of steps'
complete -c vnet -n "__fish_vnet_using_subcommand export" -l down -d 'The script that removes the lab instead'
complete -c vnet -n "__fish_vnet_using_subcommand export" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand export" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand completions" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand completions" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand schema" -l no-annotations -d 'No GitHub Actions annotations or step summary, even under GitHub Actions (as VNET_ANNOTATIONS=0; VNET_ANNOTATIONS=1 forces them elsewhere)'
complete -c vnet -n "__fish_vnet_using_subcommand schema" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "validate" -d 'Check a topology file and report every problem at once (no root needed)'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "plan" -d 'Print the kernel operations `up` would perform, in `ip` syntax'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "up" -d 'Build the lab: namespaces, links, bridges, addresses, routes'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "verify" -d 'Run the lab\'s `expect:` checks against the running lab'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "status" -d 'Show running labs, or one lab\'s nodes, interfaces and addresses'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "exec" -d 'Run a command inside a node (`vnet exec [LAB] NODE -- CMD...`), or without one a shell whose prompt names the lab and node'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "impair" -d 'Impair what a node\'s interface sends in a running lab (netem, TBF), or --clear it'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "attack" -d 'Attack a running lab on purpose, in process: `vnet attack arp-spoof LAB ATTACKER --claim IP --to VICTIM`'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "link" -d 'Take a node\'s interface in a running lab down or up, or flap it (--every 2s --times 5)'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "capture" -d 'Watch frames on nodes\' interfaces: `vnet capture [LAB] NODE:IF... [-w FILE|-]`'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "explain" -d 'Why a packet from FROM reaches TO or not: the path hop by hop, from each namespace\'s kernel state (or, for a lab not running, from the file), and where it stops and why'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "graph" -d 'Draw the lab: Mermaid (for Markdown), DOT (Graphviz) or SVG drawn by vnet; a running lab\'s links that are down are marked'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "down" -d 'Remove exactly what vnet created for a lab; safe to repeat'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "test" -d 'up + verify + down; down always runs, also on failure and Ctrl-C'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "doctor" -d 'Check what this machine\'s kernel can do for vnet, and what to do about the rest'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "gen" -d 'Print a topology of Mininet\'s shapes: `single N`, `linear N`, `tree --depth D --fanout F`'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "export" -d 'Print the lab as a shell script of `ip`/`bridge`/`nft` commands that builds (or removes) it'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "completions" -d 'Print a shell completion script'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "schema" -d 'Print the JSON Schema of the topology format (for editors), or of a command\'s `--json`'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec impair attack link capture explain graph down test doctor gen export completions schema help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vnet -n "__fish_vnet_using_subcommand help; and __fish_seen_subcommand_from attack" -f -a "arp-spoof" -d 'The article\'s ARP spoofing: forged, unsolicited ARP replies (and requests) from the attacker telling the victim that the claimed address is at the attacker\'s MAC'
complete -c vnet -n "__fish_vnet_using_subcommand help; and __fish_seen_subcommand_from gen" -f -a "single" -d 'N hosts on one switch (several bridges in a tree past --max-ports)'
complete -c vnet -n "__fish_vnet_using_subcommand help; and __fish_seen_subcommand_from gen" -f -a "linear" -d 'N switches in a chain, one host on each'
complete -c vnet -n "__fish_vnet_using_subcommand help; and __fish_seen_subcommand_from gen" -f -a "tree" -d 'A tree of switches D deep with F children each; F^D hosts at the leaves'
