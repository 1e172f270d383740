# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_vnet_global_optspecs
    string join \n h/help V/version
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

complete -c vnet -n "__fish_vnet_needs_command" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_needs_command" -s V -l version -d 'Print version'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "validate" -d 'Check a topology file and report every problem at once (no root needed)'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "plan" -d 'Print the kernel operations `up` would perform, in `ip` syntax'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "up" -d 'Build the lab: namespaces, links, bridges, addresses, routes'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "verify" -d 'Run the lab\'s `expect:` checks against the running lab'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "status" -d 'Show running labs, or one lab\'s nodes, interfaces and addresses'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "exec" -d 'Run a command inside a node: `vnet exec [LAB] NODE -- CMD...`'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "down" -d 'Remove exactly what vnet created for a lab; safe to repeat'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "test" -d 'up + verify + down; down always runs, also on failure and Ctrl-C'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "doctor" -d 'Check what this machine\'s kernel can do for vnet, and what to do about the rest'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c vnet -n "__fish_vnet_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c vnet -n "__fish_vnet_using_subcommand validate" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand plan" -l vlan-mode -d 'Which VLAN build to print (`auto` prints the native one)' -r -f -a "auto\t''
native\t''
emulated\t''"
complete -c vnet -n "__fish_vnet_using_subcommand plan" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand up" -l progress -d 'Progress display' -r -f -a "auto\t''
always\t''
never\t''"
complete -c vnet -n "__fish_vnet_using_subcommand up" -l vlan-mode -d '802.1Q switches: real VLAN filtering (native) or a bridge per VLAN (emulated)' -r -f -a "auto\t''
native\t''
emulated\t''"
complete -c vnet -n "__fish_vnet_using_subcommand up" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand verify" -l all-pairs -d 'Probe every host from every other host and print a matrix'
complete -c vnet -n "__fish_vnet_using_subcommand verify" -l json -d 'Print the verdict as JSON'
complete -c vnet -n "__fish_vnet_using_subcommand verify" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand status" -l json
complete -c vnet -n "__fish_vnet_using_subcommand status" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand exec" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand down" -l all -d 'Every running lab'
complete -c vnet -n "__fish_vnet_using_subcommand down" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand test" -l progress -r -f -a "auto\t''
always\t''
never\t''"
complete -c vnet -n "__fish_vnet_using_subcommand test" -l vlan-mode -d '802.1Q switches: real VLAN filtering (native) or a bridge per VLAN (emulated)' -r -f -a "auto\t''
native\t''
emulated\t''"
complete -c vnet -n "__fish_vnet_using_subcommand test" -l all-pairs
complete -c vnet -n "__fish_vnet_using_subcommand test" -l json
complete -c vnet -n "__fish_vnet_using_subcommand test" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand doctor" -l json -d 'Print the report as JSON'
complete -c vnet -n "__fish_vnet_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand completions" -s h -l help -d 'Print help'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec down test doctor completions help" -f -a "validate" -d 'Check a topology file and report every problem at once (no root needed)'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec down test doctor completions help" -f -a "plan" -d 'Print the kernel operations `up` would perform, in `ip` syntax'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec down test doctor completions help" -f -a "up" -d 'Build the lab: namespaces, links, bridges, addresses, routes'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec down test doctor completions help" -f -a "verify" -d 'Run the lab\'s `expect:` checks against the running lab'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec down test doctor completions help" -f -a "status" -d 'Show running labs, or one lab\'s nodes, interfaces and addresses'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec down test doctor completions help" -f -a "exec" -d 'Run a command inside a node: `vnet exec [LAB] NODE -- CMD...`'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec down test doctor completions help" -f -a "down" -d 'Remove exactly what vnet created for a lab; safe to repeat'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec down test doctor completions help" -f -a "test" -d 'up + verify + down; down always runs, also on failure and Ctrl-C'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec down test doctor completions help" -f -a "doctor" -d 'Check what this machine\'s kernel can do for vnet, and what to do about the rest'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec down test doctor completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c vnet -n "__fish_vnet_using_subcommand help; and not __fish_seen_subcommand_from validate plan up verify status exec down test doctor completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
