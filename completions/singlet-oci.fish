# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_singlet_oci_global_optspecs
    string join \n root= log= log-format= debug systemd-cgroup rootless= criu= cgroup-manager= v/version h/help
end

function __fish_singlet_oci_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_singlet_oci_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_singlet_oci_using_subcommand
    set -l cmd (__fish_singlet_oci_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -l root -d 'Root directory for container state [default: /run/singlet as root, $XDG_RUNTIME_DIR/singlet or /tmp/singlet-<uid> otherwise]' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -l log -d 'Append log messages to FILE (created if missing) instead of stderr' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -l log-format -d 'Log format' -r -f -a "text\t'logrus text lines'
json\t'JSON objects, one per line'"
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -l rootless -d 'Rootless behaviour: auto detects a non-root caller' -r -f -a "auto\t''
true\t''
false\t''"
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -l criu -d 'Accepted for runc compatibility; checkpointing is not supported' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -l cgroup-manager -d 'Accepted for crun compatibility (`disabled` skips cgroups)' -r
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -l debug -d 'Enable debug logging'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -l systemd-cgroup -d 'Interpret linux.cgroupsPath as a systemd slice:prefix:name (needs a running systemd)'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -s v -l version -d 'Print version information'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "create" -d 'Create a container: set it up and stop before running the user process'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "start" -d 'Run the user process of a created container'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "state" -d 'Print the state of a container as JSON'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "kill" -d 'Send a signal (name or number, default SIGTERM) to the container\'s init'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "delete" -d 'Delete a container and its state'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "run" -d 'Create and start a container; in the foreground, wait and return its exit status'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "exec" -d 'Run a new process inside a container'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "list" -d 'List containers'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "ps" -d 'List the processes of a container'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "pause" -d 'Freeze every process of a container'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "resume" -d 'Thaw a paused container'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "update" -d 'Change the resource limits of a running container'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "events" -d 'Print container events (resource statistics) as JSON lines'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "features" -d 'Print the runtime\'s features (runtime-spec features.json)'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "spec" -d 'Write a template config.json into the bundle'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "checkpoint" -d 'Not supported: checkpointing needs CRIU integration'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "restore" -d 'Not supported: restoring needs CRIU integration'
complete -c singlet-oci -n "__fish_singlet_oci_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand create" -s b -l bundle -d 'Path to the bundle directory (holding config.json)' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand create" -l console-socket -d 'Unix socket that receives the pty master (SCM_RIGHTS) when process.terminal is set' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand create" -l pid-file -d 'Write the init\'s host pid to FILE (decimal, no newline)' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand create" -l preserve-fds -d 'Pass N extra file descriptors (3 .. 3+N-1) to the container' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand create" -l no-pivot -d 'Do not use pivot_root (MS_MOVE + chroot instead; for ramfs roots)'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand create" -l no-new-keyring -d 'Do not create a new session keyring'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand create" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand start" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand state" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand kill" -s a -l all -d 'Send the signal to every process of the container'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand kill" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand delete" -s f -l force -d 'Kill a running container first; succeed when the id is unknown'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand delete" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand run" -s b -l bundle -d 'Path to the bundle directory (holding config.json)' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand run" -l console-socket -d 'Unix socket that receives the pty master (SCM_RIGHTS) when process.terminal is set' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand run" -l pid-file -d 'Write the init\'s host pid to FILE (decimal, no newline)' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand run" -l preserve-fds -d 'Pass N extra file descriptors (3 .. 3+N-1) to the container' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand run" -l no-pivot -d 'Do not use pivot_root (MS_MOVE + chroot instead; for ramfs roots)'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand run" -l no-new-keyring -d 'Do not create a new session keyring'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand run" -s d -l detach -d 'Return once the container has started'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand run" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -s p -l process -d 'Path to a process.json; other process flags are then ignored' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -l pid-file -d 'Write the process\'s host pid to FILE (decimal, no newline)' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -l console-socket -d 'Unix socket that receives the pty master' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -l cwd -d 'Working directory inside the container' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -s e -l env -d 'Set an environment variable (repeatable)' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -s u -l user -d 'User to run as: uid[:gid]' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -s g -l additional-gids -d 'Additional group ids (repeatable)' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -s c -l cap -d 'Add a capability (repeatable)' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -l preserve-fds -d 'Pass N extra file descriptors' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -l cgroup -d 'Run the process in a sub-cgroup of the container\'s: PATH, or CONTROLLER[,CONTROLLER]:PATH (repeatable)' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -s t -l tty -d 'Allocate a pseudo-terminal'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -s d -l detach -d 'Return once the process has started'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -l no-new-privs -d 'Set no_new_privs for the process'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -l ignore-paused -d 'Allow exec in a paused container (the process starts frozen)'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand exec" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand list" -s f -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand list" -s q -l quiet -d 'Print only the ids'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand list" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand ps" -s f -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand ps" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand pause" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand resume" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -s r -l resources -d 'LinuxResources JSON file, or - for stdin' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l memory -d 'Memory limit (bytes, or with k/m/g suffix; -1 unlimited)' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l memory-reservation -d 'Memory soft limit' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l memory-swap -d 'Memory plus swap limit' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l kernel-memory -d 'Ignored (kernel memory accounting is gone from current kernels)' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l cpu-shares -d 'CPU shares (relative weight)' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l cpu-period -d 'CPU CFS period in microseconds' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l cpu-quota -d 'CPU CFS quota in microseconds' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l cpuset-cpus -d 'CPUs allowed (0-3, 0,1)' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l cpuset-mems -d 'Memory nodes allowed' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l cpu-rt-period -d 'Realtime period in microseconds' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l cpu-rt-runtime -d 'Realtime runtime in microseconds' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l pids-limit -d 'Maximum number of pids (-1 unlimited)' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -l blkio-weight -d 'Block I/O weight (10–1000)' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand update" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand events" -l interval -d 'Interval between statistics, e.g. 5s or 500ms' -r
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand events" -l stats -d 'Print statistics once and exit'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand events" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand features" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand spec" -s b -l bundle -d 'Bundle directory' -r -F
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand spec" -l rootless -d 'Write a config for a rootless container'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand spec" -s h -l help -d 'Print help'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "create" -d 'Create a container: set it up and stop before running the user process'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "start" -d 'Run the user process of a created container'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "state" -d 'Print the state of a container as JSON'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "kill" -d 'Send a signal (name or number, default SIGTERM) to the container\'s init'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "delete" -d 'Delete a container and its state'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "run" -d 'Create and start a container; in the foreground, wait and return its exit status'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "exec" -d 'Run a new process inside a container'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "list" -d 'List containers'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "ps" -d 'List the processes of a container'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "pause" -d 'Freeze every process of a container'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "resume" -d 'Thaw a paused container'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "update" -d 'Change the resource limits of a running container'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "events" -d 'Print container events (resource statistics) as JSON lines'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "features" -d 'Print the runtime\'s features (runtime-spec features.json)'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "spec" -d 'Write a template config.json into the bundle'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "checkpoint" -d 'Not supported: checkpointing needs CRIU integration'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "restore" -d 'Not supported: restoring needs CRIU integration'
complete -c singlet-oci -n "__fish_singlet_oci_using_subcommand help; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
