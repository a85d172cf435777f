# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_singlet_global_optspecs
    string join \n d/debug q/quiet s/silent v/verbose h/help V/version
end

function __fish_singlet_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_singlet_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_singlet_using_subcommand
    set -l cmd (__fish_singlet_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c singlet -n "__fish_singlet_needs_command" -s d -l debug -d 'Print debugging information (which rootfs path was taken, mounts, timings)'
complete -c singlet -n "__fish_singlet_needs_command" -s q -l quiet -d 'Print only warnings and errors'
complete -c singlet -n "__fish_singlet_needs_command" -s s -l silent -d 'Print only errors'
complete -c singlet -n "__fish_singlet_needs_command" -s v -l verbose -d 'Print more information'
complete -c singlet -n "__fish_singlet_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c singlet -n "__fish_singlet_needs_command" -s V -l version -d 'Print version'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "exec" -d 'Run a command inside a container'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "run" -d 'Run the container\'s runscript'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "shell" -d 'Start an interactive shell in the container'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "test" -d 'Run the container\'s test script'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "pull" -d 'Download an OCI/Docker image and convert it to a SIF (or a sandbox)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "build" -d 'Build a SIF or a sandbox from a registry image, an OCI layout, a sandbox or a SIF'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "cache" -d 'List or clean the per-user cache (blobs, converted images, extracted rootfs)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "overlay" -d 'Create overlay images (ext3 files, or an overlay partition in a SIF)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "instance" -d 'Manage instances: containers running detached (start, run, list, stop, stats)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "run-help" -d 'Show the runscript help of an image (or of one of its SCIF apps)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "inspect" -d 'Show an image\'s metadata (labels by default)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "push" -d 'Upload a SIF to an OCI registry (oras://) or a library endpoint (library://)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "registry" -d 'Log in to and out of OCI registries (credentials in the containers auth.json format)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "delete" -d 'Delete an image from a library endpoint'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "search" -d 'Search a library endpoint for users, collections and containers'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "remote" -d 'Manage library endpoints for library:// (add, use, list, remove, login, logout, status)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "sign" -d 'Add a signature to a SIF image (OpenPGP, or DSSE with a PEM key)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "verify" -d 'Check the signatures of a SIF image (OpenPGP current and legacy formats, DSSE)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "key" -d 'Manage the OpenPGP keyrings (newpair, list, import, export, remove)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "oci" -d 'A rootless-by-default OCI runtime, runc-compatible (runtime-spec v1.2)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "sif" -d 'SIF file tools, siftool-compatible (header, list, info, dump, new, add, del, setprim)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "config" -d 'Show the effective site configuration (/etc/singlet/singlet.conf, or the file SINGLET_CONFIG_FILE names; Apptainer\'s apptainer.conf directive names)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "create" -d '(Singularity 2.x) Create an empty ext3 image [today: singlet build, singlet overlay create]'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "import" -d '(Singularity 2.x) Unpack a docker:// image or a tar archive into an ext3 image [today: singlet build]'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "bootstrap" -d '(Singularity 2.x) Build a definition file into an ext3 image [today: singlet build]'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "expand" -d '(Singularity 2.x) Grow an ext3 image [today: singlet overlay create for writable space]'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "image.export" -d '(Singularity 2.x) Write an image\'s tree as a tar archive [today: singlet build --sandbox]'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "instance.start" -d '(Singularity 2.x) Start an instance [today: singlet instance start]'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "instance.list" -d '(Singularity 2.x) List instances [today: singlet instance list]'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "instance.stop" -d '(Singularity 2.x) Stop an instance [today: singlet instance stop]'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "generate" -d 'Write man pages or shell completions (packaging)'
complete -c singlet -n "__fish_singlet_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s B -l bind -d 'Bind a host path: src[:dst[:ro|rw]] (repeatable, comma-separated lists) [env: APPTAINER_BIND, APPTAINER_BINDPATH, added to these]' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l mount -d 'Docker-style mount: type=bind,src=…,dst=…[,ro] (repeatable) [env: APPTAINER_MOUNT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s H -l home -d 'Home directory: src[:dst] [env: APPTAINER_HOME]' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l no-mount -d 'Disable default mounts: proc,sys,dev,devpts,home,tmp,cwd,bind-paths,/etc/resolv.conf' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l env -d 'Set an environment variable in the container: K=V (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l env-file -d 'Read environment variables from a file (repeatable)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l pwd -d 'Initial working directory inside the container' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s W -l workdir -d 'Host directory backing /tmp, /var/tmp and home with --contain' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s o -l overlay -d 'Overlay: a directory (upper/ and work/ inside), an ext3 image (singlet overlay create), a squashfs image (read-only) or a SIF\'s overlay partition; writable, or read-only with :ro (repeatable, one writable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l hostname -d 'Hostname in the container (implies --uts)' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l network -d 'With --net: none or slirp [env: APPTAINER_NETWORK]' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l network-args -d 'With --net: portmap=HOST:CONTAINER[/tcp|/udp] (from the host\'s 127.0.0.1), allow-host-loopback (the host\'s 127.0.0.1 as 10.0.2.2) [env: APPTAINER_NETWORK_ARGS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l memory -d 'Memory limit: bytes with an optional b/k/m/g/t suffix, e.g. 512m or 1.5g (root; cgroups) [env: APPTAINER_MEMORY]' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l cpus -d 'CPU limit as a number of CPUs, e.g. 1.5 (root; cgroups) [env: APPTAINER_CPUS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l pids-limit -d 'Limit on the number of processes (root; cgroups) [env: APPTAINER_PIDS_LIMIT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l app -d 'Run a SCIF app of the image: its runscript (run), test (test) or startscript (instances), with its environment (/scif/apps/NAME) [env: APPTAINER_APP]' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l device -d 'A CDI device, vendor.com/class=name, from the CDI specs in /etc/cdi and /var/run/cdi (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l cdi-dirs -d 'CDI spec directories instead of /etc/cdi,/var/run/cdi (comma-separated)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l authfile -d 'containers auth.json with registry credentials' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l no-home -d 'Do not mount the home directory'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s c -l contain -d 'Use minimal /dev and empty /tmp, /var/tmp and home; no host cwd'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s C -l containall -d 'Contain everything: --contain plus PID and IPC namespaces and --cleanenv'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s e -l cleanenv -d 'Clean the environment (keep TERM and proxy variables)'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s w -l writable -d 'Write to a sandbox directory image, or to a SIF\'s overlay partition'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l writable-tmpfs -d 'Make the container writable through a tmpfs overlay (changes vanish at exit)'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s f -l fakeroot -d 'Run as root inside a user namespace (subuid range via newuidmap when present)'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s p -l pid -d 'Use a new PID namespace'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s i -l ipc -d 'Use a new IPC namespace'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l uts -d 'Use a new UTS namespace'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l no-privs -d 'Drop all capabilities (root inside)'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l keep-privs -d 'Keep privileges (root only: no no_new_privs)'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l no-init -d 'No init process with --pid'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l verify -d 'Refuse to run a SIF whose signatures do not verify with your keyring (and the site\'s trusted keyring)'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l compat -d 'OCI-like: --containall --no-init --writable-tmpfs --no-eval'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l no-eval -d 'Do not shell-evaluate injected environment values'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l unsquash -d 'Extract the image instead of mounting it with squashfuse'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l oci-semantics -d 'Run images converted from OCI with OCI rules: WORKDIR as the working directory, USER (with --fakeroot or as root), exact ENTRYPOINT/CMD arguments without shell evaluation'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s n -l net -d 'A network namespace: with --network slirp (default) user-mode networking through slirp4netns, with --network none loopback only [env: APPTAINER_NET]'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l nv -d 'Bind the host\'s NVIDIA driver: the libraries of nvliblist.conf from the ldconfig cache into /.singularity.d/libs, nvidia-smi and the other programs at /usr/bin, /dev/nvidia* with --contain [env: APPTAINER_NV]'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l nvccli -d 'Set up the NVIDIA GPUs with nvidia-container-cli (NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES …); implies --nv and --writable-tmpfs [env: APPTAINER_NVCCLI]'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l rocm -d 'Bind the host\'s ROCm driver (rocmliblist.conf, /dev/kfd, /dev/dri) [env: APPTAINER_ROCM]'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l gpu-strict -d 'With --nv or --rocm: fail when the host has no such driver instead of warning [env: APPTAINER_GPU_STRICT]'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l private-userns -d 'As a rank of an MPI or Slurm job, do not join the job\'s shared user namespace (ranks of a node then cannot use cross-memory attach between them) [env: APPTAINER_PRIVATE_USERNS]'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l no-https -d 'Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -l docker-login -d 'Ask for registry credentials on the terminal'
complete -c singlet -n "__fish_singlet_using_subcommand exec" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand run" -s B -l bind -d 'Bind a host path: src[:dst[:ro|rw]] (repeatable, comma-separated lists) [env: APPTAINER_BIND, APPTAINER_BINDPATH, added to these]' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l mount -d 'Docker-style mount: type=bind,src=…,dst=…[,ro] (repeatable) [env: APPTAINER_MOUNT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -s H -l home -d 'Home directory: src[:dst] [env: APPTAINER_HOME]' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l no-mount -d 'Disable default mounts: proc,sys,dev,devpts,home,tmp,cwd,bind-paths,/etc/resolv.conf' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l env -d 'Set an environment variable in the container: K=V (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l env-file -d 'Read environment variables from a file (repeatable)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand run" -l pwd -d 'Initial working directory inside the container' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -s W -l workdir -d 'Host directory backing /tmp, /var/tmp and home with --contain' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand run" -s o -l overlay -d 'Overlay: a directory (upper/ and work/ inside), an ext3 image (singlet overlay create), a squashfs image (read-only) or a SIF\'s overlay partition; writable, or read-only with :ro (repeatable, one writable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l hostname -d 'Hostname in the container (implies --uts)' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l network -d 'With --net: none or slirp [env: APPTAINER_NETWORK]' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l network-args -d 'With --net: portmap=HOST:CONTAINER[/tcp|/udp] (from the host\'s 127.0.0.1), allow-host-loopback (the host\'s 127.0.0.1 as 10.0.2.2) [env: APPTAINER_NETWORK_ARGS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l memory -d 'Memory limit: bytes with an optional b/k/m/g/t suffix, e.g. 512m or 1.5g (root; cgroups) [env: APPTAINER_MEMORY]' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l cpus -d 'CPU limit as a number of CPUs, e.g. 1.5 (root; cgroups) [env: APPTAINER_CPUS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l pids-limit -d 'Limit on the number of processes (root; cgroups) [env: APPTAINER_PIDS_LIMIT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l app -d 'Run a SCIF app of the image: its runscript (run), test (test) or startscript (instances), with its environment (/scif/apps/NAME) [env: APPTAINER_APP]' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l device -d 'A CDI device, vendor.com/class=name, from the CDI specs in /etc/cdi and /var/run/cdi (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand run" -l cdi-dirs -d 'CDI spec directories instead of /etc/cdi,/var/run/cdi (comma-separated)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand run" -l authfile -d 'containers auth.json with registry credentials' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand run" -l no-home -d 'Do not mount the home directory'
complete -c singlet -n "__fish_singlet_using_subcommand run" -s c -l contain -d 'Use minimal /dev and empty /tmp, /var/tmp and home; no host cwd'
complete -c singlet -n "__fish_singlet_using_subcommand run" -s C -l containall -d 'Contain everything: --contain plus PID and IPC namespaces and --cleanenv'
complete -c singlet -n "__fish_singlet_using_subcommand run" -s e -l cleanenv -d 'Clean the environment (keep TERM and proxy variables)'
complete -c singlet -n "__fish_singlet_using_subcommand run" -s w -l writable -d 'Write to a sandbox directory image, or to a SIF\'s overlay partition'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l writable-tmpfs -d 'Make the container writable through a tmpfs overlay (changes vanish at exit)'
complete -c singlet -n "__fish_singlet_using_subcommand run" -s f -l fakeroot -d 'Run as root inside a user namespace (subuid range via newuidmap when present)'
complete -c singlet -n "__fish_singlet_using_subcommand run" -s p -l pid -d 'Use a new PID namespace'
complete -c singlet -n "__fish_singlet_using_subcommand run" -s i -l ipc -d 'Use a new IPC namespace'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l uts -d 'Use a new UTS namespace'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l no-privs -d 'Drop all capabilities (root inside)'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l keep-privs -d 'Keep privileges (root only: no no_new_privs)'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l no-init -d 'No init process with --pid'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l verify -d 'Refuse to run a SIF whose signatures do not verify with your keyring (and the site\'s trusted keyring)'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l compat -d 'OCI-like: --containall --no-init --writable-tmpfs --no-eval'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l no-eval -d 'Do not shell-evaluate injected environment values'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l unsquash -d 'Extract the image instead of mounting it with squashfuse'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l oci-semantics -d 'Run images converted from OCI with OCI rules: WORKDIR as the working directory, USER (with --fakeroot or as root), exact ENTRYPOINT/CMD arguments without shell evaluation'
complete -c singlet -n "__fish_singlet_using_subcommand run" -s n -l net -d 'A network namespace: with --network slirp (default) user-mode networking through slirp4netns, with --network none loopback only [env: APPTAINER_NET]'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l nv -d 'Bind the host\'s NVIDIA driver: the libraries of nvliblist.conf from the ldconfig cache into /.singularity.d/libs, nvidia-smi and the other programs at /usr/bin, /dev/nvidia* with --contain [env: APPTAINER_NV]'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l nvccli -d 'Set up the NVIDIA GPUs with nvidia-container-cli (NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES …); implies --nv and --writable-tmpfs [env: APPTAINER_NVCCLI]'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l rocm -d 'Bind the host\'s ROCm driver (rocmliblist.conf, /dev/kfd, /dev/dri) [env: APPTAINER_ROCM]'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l gpu-strict -d 'With --nv or --rocm: fail when the host has no such driver instead of warning [env: APPTAINER_GPU_STRICT]'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l private-userns -d 'As a rank of an MPI or Slurm job, do not join the job\'s shared user namespace (ranks of a node then cannot use cross-memory attach between them) [env: APPTAINER_PRIVATE_USERNS]'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l no-https -d 'Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]'
complete -c singlet -n "__fish_singlet_using_subcommand run" -l docker-login -d 'Ask for registry credentials on the terminal'
complete -c singlet -n "__fish_singlet_using_subcommand run" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s B -l bind -d 'Bind a host path: src[:dst[:ro|rw]] (repeatable, comma-separated lists) [env: APPTAINER_BIND, APPTAINER_BINDPATH, added to these]' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l mount -d 'Docker-style mount: type=bind,src=…,dst=…[,ro] (repeatable) [env: APPTAINER_MOUNT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s H -l home -d 'Home directory: src[:dst] [env: APPTAINER_HOME]' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l no-mount -d 'Disable default mounts: proc,sys,dev,devpts,home,tmp,cwd,bind-paths,/etc/resolv.conf' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l env -d 'Set an environment variable in the container: K=V (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l env-file -d 'Read environment variables from a file (repeatable)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l pwd -d 'Initial working directory inside the container' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s W -l workdir -d 'Host directory backing /tmp, /var/tmp and home with --contain' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s o -l overlay -d 'Overlay: a directory (upper/ and work/ inside), an ext3 image (singlet overlay create), a squashfs image (read-only) or a SIF\'s overlay partition; writable, or read-only with :ro (repeatable, one writable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l hostname -d 'Hostname in the container (implies --uts)' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l network -d 'With --net: none or slirp [env: APPTAINER_NETWORK]' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l network-args -d 'With --net: portmap=HOST:CONTAINER[/tcp|/udp] (from the host\'s 127.0.0.1), allow-host-loopback (the host\'s 127.0.0.1 as 10.0.2.2) [env: APPTAINER_NETWORK_ARGS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l memory -d 'Memory limit: bytes with an optional b/k/m/g/t suffix, e.g. 512m or 1.5g (root; cgroups) [env: APPTAINER_MEMORY]' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l cpus -d 'CPU limit as a number of CPUs, e.g. 1.5 (root; cgroups) [env: APPTAINER_CPUS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l pids-limit -d 'Limit on the number of processes (root; cgroups) [env: APPTAINER_PIDS_LIMIT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l app -d 'Run a SCIF app of the image: its runscript (run), test (test) or startscript (instances), with its environment (/scif/apps/NAME) [env: APPTAINER_APP]' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l device -d 'A CDI device, vendor.com/class=name, from the CDI specs in /etc/cdi and /var/run/cdi (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l cdi-dirs -d 'CDI spec directories instead of /etc/cdi,/var/run/cdi (comma-separated)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l authfile -d 'containers auth.json with registry credentials' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s s -l shell -d 'Shell to run (also $SINGULARITY_SHELL)' -r
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l no-home -d 'Do not mount the home directory'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s c -l contain -d 'Use minimal /dev and empty /tmp, /var/tmp and home; no host cwd'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s C -l containall -d 'Contain everything: --contain plus PID and IPC namespaces and --cleanenv'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s e -l cleanenv -d 'Clean the environment (keep TERM and proxy variables)'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s w -l writable -d 'Write to a sandbox directory image, or to a SIF\'s overlay partition'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l writable-tmpfs -d 'Make the container writable through a tmpfs overlay (changes vanish at exit)'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s f -l fakeroot -d 'Run as root inside a user namespace (subuid range via newuidmap when present)'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s p -l pid -d 'Use a new PID namespace'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s i -l ipc -d 'Use a new IPC namespace'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l uts -d 'Use a new UTS namespace'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l no-privs -d 'Drop all capabilities (root inside)'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l keep-privs -d 'Keep privileges (root only: no no_new_privs)'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l no-init -d 'No init process with --pid'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l verify -d 'Refuse to run a SIF whose signatures do not verify with your keyring (and the site\'s trusted keyring)'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l compat -d 'OCI-like: --containall --no-init --writable-tmpfs --no-eval'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l no-eval -d 'Do not shell-evaluate injected environment values'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l unsquash -d 'Extract the image instead of mounting it with squashfuse'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l oci-semantics -d 'Run images converted from OCI with OCI rules: WORKDIR as the working directory, USER (with --fakeroot or as root), exact ENTRYPOINT/CMD arguments without shell evaluation'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s n -l net -d 'A network namespace: with --network slirp (default) user-mode networking through slirp4netns, with --network none loopback only [env: APPTAINER_NET]'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l nv -d 'Bind the host\'s NVIDIA driver: the libraries of nvliblist.conf from the ldconfig cache into /.singularity.d/libs, nvidia-smi and the other programs at /usr/bin, /dev/nvidia* with --contain [env: APPTAINER_NV]'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l nvccli -d 'Set up the NVIDIA GPUs with nvidia-container-cli (NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES …); implies --nv and --writable-tmpfs [env: APPTAINER_NVCCLI]'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l rocm -d 'Bind the host\'s ROCm driver (rocmliblist.conf, /dev/kfd, /dev/dri) [env: APPTAINER_ROCM]'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l gpu-strict -d 'With --nv or --rocm: fail when the host has no such driver instead of warning [env: APPTAINER_GPU_STRICT]'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l private-userns -d 'As a rank of an MPI or Slurm job, do not join the job\'s shared user namespace (ranks of a node then cannot use cross-memory attach between them) [env: APPTAINER_PRIVATE_USERNS]'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l no-https -d 'Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -l docker-login -d 'Ask for registry credentials on the terminal'
complete -c singlet -n "__fish_singlet_using_subcommand shell" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand test" -s B -l bind -d 'Bind a host path: src[:dst[:ro|rw]] (repeatable, comma-separated lists) [env: APPTAINER_BIND, APPTAINER_BINDPATH, added to these]' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l mount -d 'Docker-style mount: type=bind,src=…,dst=…[,ro] (repeatable) [env: APPTAINER_MOUNT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -s H -l home -d 'Home directory: src[:dst] [env: APPTAINER_HOME]' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l no-mount -d 'Disable default mounts: proc,sys,dev,devpts,home,tmp,cwd,bind-paths,/etc/resolv.conf' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l env -d 'Set an environment variable in the container: K=V (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l env-file -d 'Read environment variables from a file (repeatable)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand test" -l pwd -d 'Initial working directory inside the container' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -s W -l workdir -d 'Host directory backing /tmp, /var/tmp and home with --contain' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand test" -s o -l overlay -d 'Overlay: a directory (upper/ and work/ inside), an ext3 image (singlet overlay create), a squashfs image (read-only) or a SIF\'s overlay partition; writable, or read-only with :ro (repeatable, one writable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l hostname -d 'Hostname in the container (implies --uts)' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l network -d 'With --net: none or slirp [env: APPTAINER_NETWORK]' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l network-args -d 'With --net: portmap=HOST:CONTAINER[/tcp|/udp] (from the host\'s 127.0.0.1), allow-host-loopback (the host\'s 127.0.0.1 as 10.0.2.2) [env: APPTAINER_NETWORK_ARGS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l memory -d 'Memory limit: bytes with an optional b/k/m/g/t suffix, e.g. 512m or 1.5g (root; cgroups) [env: APPTAINER_MEMORY]' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l cpus -d 'CPU limit as a number of CPUs, e.g. 1.5 (root; cgroups) [env: APPTAINER_CPUS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l pids-limit -d 'Limit on the number of processes (root; cgroups) [env: APPTAINER_PIDS_LIMIT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l app -d 'Run a SCIF app of the image: its runscript (run), test (test) or startscript (instances), with its environment (/scif/apps/NAME) [env: APPTAINER_APP]' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l device -d 'A CDI device, vendor.com/class=name, from the CDI specs in /etc/cdi and /var/run/cdi (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand test" -l cdi-dirs -d 'CDI spec directories instead of /etc/cdi,/var/run/cdi (comma-separated)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand test" -l authfile -d 'containers auth.json with registry credentials' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand test" -l no-home -d 'Do not mount the home directory'
complete -c singlet -n "__fish_singlet_using_subcommand test" -s c -l contain -d 'Use minimal /dev and empty /tmp, /var/tmp and home; no host cwd'
complete -c singlet -n "__fish_singlet_using_subcommand test" -s C -l containall -d 'Contain everything: --contain plus PID and IPC namespaces and --cleanenv'
complete -c singlet -n "__fish_singlet_using_subcommand test" -s e -l cleanenv -d 'Clean the environment (keep TERM and proxy variables)'
complete -c singlet -n "__fish_singlet_using_subcommand test" -s w -l writable -d 'Write to a sandbox directory image, or to a SIF\'s overlay partition'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l writable-tmpfs -d 'Make the container writable through a tmpfs overlay (changes vanish at exit)'
complete -c singlet -n "__fish_singlet_using_subcommand test" -s f -l fakeroot -d 'Run as root inside a user namespace (subuid range via newuidmap when present)'
complete -c singlet -n "__fish_singlet_using_subcommand test" -s p -l pid -d 'Use a new PID namespace'
complete -c singlet -n "__fish_singlet_using_subcommand test" -s i -l ipc -d 'Use a new IPC namespace'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l uts -d 'Use a new UTS namespace'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l no-privs -d 'Drop all capabilities (root inside)'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l keep-privs -d 'Keep privileges (root only: no no_new_privs)'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l no-init -d 'No init process with --pid'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l verify -d 'Refuse to run a SIF whose signatures do not verify with your keyring (and the site\'s trusted keyring)'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l compat -d 'OCI-like: --containall --no-init --writable-tmpfs --no-eval'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l no-eval -d 'Do not shell-evaluate injected environment values'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l unsquash -d 'Extract the image instead of mounting it with squashfuse'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l oci-semantics -d 'Run images converted from OCI with OCI rules: WORKDIR as the working directory, USER (with --fakeroot or as root), exact ENTRYPOINT/CMD arguments without shell evaluation'
complete -c singlet -n "__fish_singlet_using_subcommand test" -s n -l net -d 'A network namespace: with --network slirp (default) user-mode networking through slirp4netns, with --network none loopback only [env: APPTAINER_NET]'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l nv -d 'Bind the host\'s NVIDIA driver: the libraries of nvliblist.conf from the ldconfig cache into /.singularity.d/libs, nvidia-smi and the other programs at /usr/bin, /dev/nvidia* with --contain [env: APPTAINER_NV]'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l nvccli -d 'Set up the NVIDIA GPUs with nvidia-container-cli (NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES …); implies --nv and --writable-tmpfs [env: APPTAINER_NVCCLI]'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l rocm -d 'Bind the host\'s ROCm driver (rocmliblist.conf, /dev/kfd, /dev/dri) [env: APPTAINER_ROCM]'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l gpu-strict -d 'With --nv or --rocm: fail when the host has no such driver instead of warning [env: APPTAINER_GPU_STRICT]'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l private-userns -d 'As a rank of an MPI or Slurm job, do not join the job\'s shared user namespace (ranks of a node then cannot use cross-memory attach between them) [env: APPTAINER_PRIVATE_USERNS]'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l no-https -d 'Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]'
complete -c singlet -n "__fish_singlet_using_subcommand test" -l docker-login -d 'Ask for registry credentials on the terminal'
complete -c singlet -n "__fish_singlet_using_subcommand test" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand pull" -l arch -d 'Architecture to pull (amd64, arm64, ppc64le …); default: this host\'s' -r
complete -c singlet -n "__fish_singlet_using_subcommand pull" -l compress -d 'Squashfs compression: gzip (default, every Apptainer reads it), zstd, xz, lz4' -r
complete -c singlet -n "__fish_singlet_using_subcommand pull" -l authfile -d 'containers auth.json with registry credentials' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand pull" -l name -d 'Name of the output file (instead of an OUT argument; default NAME_TAG.sif)' -r
complete -c singlet -n "__fish_singlet_using_subcommand pull" -l dir -d 'Directory to write the output in (default: the current directory) [env: APPTAINER_PULLDIR]' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand pull" -l library -d 'Library endpoint for library:// URIs (instead of the remote in use)' -r
complete -c singlet -n "__fish_singlet_using_subcommand pull" -s F -l force -d 'Overwrite an existing output'
complete -c singlet -n "__fish_singlet_using_subcommand pull" -l disable-cache -d 'Do not use or fill the cache [env: APPTAINER_DISABLE_CACHE]'
complete -c singlet -n "__fish_singlet_using_subcommand pull" -l no-https -d 'Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]'
complete -c singlet -n "__fish_singlet_using_subcommand pull" -l docker-login -d 'Ask for registry credentials on the terminal'
complete -c singlet -n "__fish_singlet_using_subcommand pull" -l sandbox -d 'Write a sandbox directory instead of a SIF'
complete -c singlet -n "__fish_singlet_using_subcommand pull" -l oci -d 'Write an OCI-SIF (SingularityCE 4\'s OCI image in a SIF: the layers squashed into one squashfs layer, config and manifest kept; default name NAME_TAG.oci.sif)'
complete -c singlet -n "__fish_singlet_using_subcommand pull" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand build" -l arch -d 'Architecture to pull (amd64, arm64, ppc64le …); default: this host\'s' -r
complete -c singlet -n "__fish_singlet_using_subcommand build" -l compress -d 'Squashfs compression: gzip (default, every Apptainer reads it), zstd, xz, lz4' -r
complete -c singlet -n "__fish_singlet_using_subcommand build" -l authfile -d 'containers auth.json with registry credentials' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand build" -s B -l bind -d 'Definition files: bind a host path into the %post and %test containers (src[:dst[:ro|rw]], repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand build" -l build-arg -d 'Definition files: a value for `{{ NAME }}` (NAME=VALUE, repeatable; wins over --build-arg-file and %arguments)' -r
complete -c singlet -n "__fish_singlet_using_subcommand build" -l build-arg-file -d 'Definition files: a file of NAME=VALUE lines for `{{ NAME }}` (repeatable)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand build" -l section -d 'Definition files: run only these sections (setup, files, post, test; repeatable or comma-separated); the stored sections are always written' -r -f -a "setup\t''
files\t''
post\t''
test\t''
all\t''
none\t''"
complete -c singlet -n "__fish_singlet_using_subcommand build" -s F -l force -d 'Overwrite an existing output'
complete -c singlet -n "__fish_singlet_using_subcommand build" -l disable-cache -d 'Do not use or fill the cache [env: APPTAINER_DISABLE_CACHE]'
complete -c singlet -n "__fish_singlet_using_subcommand build" -l no-https -d 'Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]'
complete -c singlet -n "__fish_singlet_using_subcommand build" -l docker-login -d 'Ask for registry credentials on the terminal'
complete -c singlet -n "__fish_singlet_using_subcommand build" -s s -l sandbox -d 'Write a sandbox directory'
complete -c singlet -n "__fish_singlet_using_subcommand build" -s w -l writable -d 'Write an ext3 image, as Singularity 2.4\'s `build --writable` did (today: a SIF with an overlay, or a sandbox)'
complete -c singlet -n "__fish_singlet_using_subcommand build" -s T -l notest -d 'Definition files: skip the %test section'
complete -c singlet -n "__fish_singlet_using_subcommand build" -s f -l fakeroot -d 'Build as root of a user namespace (implied for a non-root caller; accepted for Apptainer\'s command lines)'
complete -c singlet -n "__fish_singlet_using_subcommand build" -l nv -d 'Bind the host\'s NVIDIA driver into the %post and %test containers (as exec --nv)'
complete -c singlet -n "__fish_singlet_using_subcommand build" -l rocm -d 'Bind the host\'s ROCm driver into the %post and %test containers (as exec --rocm)'
complete -c singlet -n "__fish_singlet_using_subcommand build" -l fix-perms -d 'Definition files: a sandbox the caller owns entirely (every entry owned by the caller, owner rwX), so it can be changed and deleted without entering a user namespace'
complete -c singlet -n "__fish_singlet_using_subcommand build" -s u -l update -d 'Definition files: run the sections on the existing sandbox OUT (no base)'
complete -c singlet -n "__fish_singlet_using_subcommand build" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and not __fish_seen_subcommand_from list clean help" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and not __fish_seen_subcommand_from list clean help" -f -a "list" -d 'List what the cache holds'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and not __fish_seen_subcommand_from list clean help" -f -a "clean" -d 'Remove cache entries'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and not __fish_seen_subcommand_from list clean help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from list" -s T -l type -d 'Only these types: blob, oci-sif, rootfs, ext3, all (comma-separated)' -r -f -a "blob\t''
oci-sif\t''
rootfs\t''
ext3\t''
oras\t''
library\t''
net\t''
all\t''"
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from clean" -s T -l type -d 'Only these types: blob, oci-sif, rootfs, ext3, all (comma-separated)' -r -f -a "blob\t''
oci-sif\t''
rootfs\t''
ext3\t''
oras\t''
library\t''
net\t''
all\t''"
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from clean" -s D -l days -d 'Only entries not used for this many days' -r
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from clean" -l max-size -d 'Evict the least recently used entries until the cache (of the selected types) holds at most SIZE (bytes, k/m/g/t suffixes)' -r
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from clean" -s n -l dry-run -d 'Show what would be removed, remove nothing'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from clean" -s f -l force -d 'Do not ask for confirmation'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from clean" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "list" -d 'List what the cache holds'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "clean" -d 'Remove cache entries'
complete -c singlet -n "__fish_singlet_using_subcommand cache; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand overlay; and not __fish_seen_subcommand_from create help" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand overlay; and not __fish_seen_subcommand_from create help" -f -a "create" -d 'Create an ext3 overlay image, or add an overlay partition to a SIF'
complete -c singlet -n "__fish_singlet_using_subcommand overlay; and not __fish_seen_subcommand_from create help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand overlay; and __fish_seen_subcommand_from create" -s s -l size -d 'Size in MiB (at least 64)' -r
complete -c singlet -n "__fish_singlet_using_subcommand overlay; and __fish_seen_subcommand_from create" -l create-dir -d 'Create this directory (absolute, in the container) inside the overlay (repeatable)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand overlay; and __fish_seen_subcommand_from create" -l sparse -d 'Create a sparse file (allocated as it fills)'
complete -c singlet -n "__fish_singlet_using_subcommand overlay; and __fish_seen_subcommand_from create" -s f -l fakeroot -d 'Make the overlay\'s upper and work directories root\'s, for --fakeroot runs'
complete -c singlet -n "__fish_singlet_using_subcommand overlay; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand overlay; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create an ext3 overlay image, or add an overlay partition to a SIF'
complete -c singlet -n "__fish_singlet_using_subcommand overlay; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and not __fish_seen_subcommand_from start run list stop stats help" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and not __fish_seen_subcommand_from start run list stop stats help" -f -a "start" -d 'Start an instance: run the image\'s startscript detached'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and not __fish_seen_subcommand_from start run list stop stats help" -f -a "run" -d 'Start an instance that runs the image\'s runscript detached'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and not __fish_seen_subcommand_from start run list stop stats help" -f -a "list" -d 'List running instances (yours only)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and not __fish_seen_subcommand_from start run list stop stats help" -f -a "stop" -d 'Stop instances: SIGINT (or --signal), then SIGKILL after --timeout'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and not __fish_seen_subcommand_from start run list stop stats help" -f -a "stats" -d 'Show an instance\'s CPU, memory and process use (needs a cgroup)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and not __fish_seen_subcommand_from start run list stop stats help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s B -l bind -d 'Bind a host path: src[:dst[:ro|rw]] (repeatable, comma-separated lists) [env: APPTAINER_BIND, APPTAINER_BINDPATH, added to these]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l mount -d 'Docker-style mount: type=bind,src=…,dst=…[,ro] (repeatable) [env: APPTAINER_MOUNT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s H -l home -d 'Home directory: src[:dst] [env: APPTAINER_HOME]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l no-mount -d 'Disable default mounts: proc,sys,dev,devpts,home,tmp,cwd,bind-paths,/etc/resolv.conf' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l env -d 'Set an environment variable in the container: K=V (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l env-file -d 'Read environment variables from a file (repeatable)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l pwd -d 'Initial working directory inside the container' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s W -l workdir -d 'Host directory backing /tmp, /var/tmp and home with --contain' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s o -l overlay -d 'Overlay: a directory (upper/ and work/ inside), an ext3 image (singlet overlay create), a squashfs image (read-only) or a SIF\'s overlay partition; writable, or read-only with :ro (repeatable, one writable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l hostname -d 'Hostname in the container (implies --uts)' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l network -d 'With --net: none or slirp [env: APPTAINER_NETWORK]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l network-args -d 'With --net: portmap=HOST:CONTAINER[/tcp|/udp] (from the host\'s 127.0.0.1), allow-host-loopback (the host\'s 127.0.0.1 as 10.0.2.2) [env: APPTAINER_NETWORK_ARGS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l memory -d 'Memory limit: bytes with an optional b/k/m/g/t suffix, e.g. 512m or 1.5g (root; cgroups) [env: APPTAINER_MEMORY]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l cpus -d 'CPU limit as a number of CPUs, e.g. 1.5 (root; cgroups) [env: APPTAINER_CPUS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l pids-limit -d 'Limit on the number of processes (root; cgroups) [env: APPTAINER_PIDS_LIMIT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l app -d 'Run a SCIF app of the image: its runscript (run), test (test) or startscript (instances), with its environment (/scif/apps/NAME) [env: APPTAINER_APP]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l device -d 'A CDI device, vendor.com/class=name, from the CDI specs in /etc/cdi and /var/run/cdi (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l cdi-dirs -d 'CDI spec directories instead of /etc/cdi,/var/run/cdi (comma-separated)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l authfile -d 'containers auth.json with registry credentials' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l pid-file -d 'Write the instance\'s init pid to this file' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l no-home -d 'Do not mount the home directory'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s c -l contain -d 'Use minimal /dev and empty /tmp, /var/tmp and home; no host cwd'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s C -l containall -d 'Contain everything: --contain plus PID and IPC namespaces and --cleanenv'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s e -l cleanenv -d 'Clean the environment (keep TERM and proxy variables)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s w -l writable -d 'Write to a sandbox directory image, or to a SIF\'s overlay partition'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l writable-tmpfs -d 'Make the container writable through a tmpfs overlay (changes vanish at exit)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s f -l fakeroot -d 'Run as root inside a user namespace (subuid range via newuidmap when present)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s p -l pid -d 'Use a new PID namespace'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s i -l ipc -d 'Use a new IPC namespace'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l uts -d 'Use a new UTS namespace'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l no-privs -d 'Drop all capabilities (root inside)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l keep-privs -d 'Keep privileges (root only: no no_new_privs)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l no-init -d 'No init process with --pid'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l verify -d 'Refuse to run a SIF whose signatures do not verify with your keyring (and the site\'s trusted keyring)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l compat -d 'OCI-like: --containall --no-init --writable-tmpfs --no-eval'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l no-eval -d 'Do not shell-evaluate injected environment values'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l unsquash -d 'Extract the image instead of mounting it with squashfuse'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l oci-semantics -d 'Run images converted from OCI with OCI rules: WORKDIR as the working directory, USER (with --fakeroot or as root), exact ENTRYPOINT/CMD arguments without shell evaluation'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s n -l net -d 'A network namespace: with --network slirp (default) user-mode networking through slirp4netns, with --network none loopback only [env: APPTAINER_NET]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l nv -d 'Bind the host\'s NVIDIA driver: the libraries of nvliblist.conf from the ldconfig cache into /.singularity.d/libs, nvidia-smi and the other programs at /usr/bin, /dev/nvidia* with --contain [env: APPTAINER_NV]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l nvccli -d 'Set up the NVIDIA GPUs with nvidia-container-cli (NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES …); implies --nv and --writable-tmpfs [env: APPTAINER_NVCCLI]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l rocm -d 'Bind the host\'s ROCm driver (rocmliblist.conf, /dev/kfd, /dev/dri) [env: APPTAINER_ROCM]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l gpu-strict -d 'With --nv or --rocm: fail when the host has no such driver instead of warning [env: APPTAINER_GPU_STRICT]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l private-userns -d 'As a rank of an MPI or Slurm job, do not join the job\'s shared user namespace (ranks of a node then cannot use cross-memory attach between them) [env: APPTAINER_PRIVATE_USERNS]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l no-https -d 'Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -l docker-login -d 'Ask for registry credentials on the terminal'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s B -l bind -d 'Bind a host path: src[:dst[:ro|rw]] (repeatable, comma-separated lists) [env: APPTAINER_BIND, APPTAINER_BINDPATH, added to these]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l mount -d 'Docker-style mount: type=bind,src=…,dst=…[,ro] (repeatable) [env: APPTAINER_MOUNT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s H -l home -d 'Home directory: src[:dst] [env: APPTAINER_HOME]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l no-mount -d 'Disable default mounts: proc,sys,dev,devpts,home,tmp,cwd,bind-paths,/etc/resolv.conf' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l env -d 'Set an environment variable in the container: K=V (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l env-file -d 'Read environment variables from a file (repeatable)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l pwd -d 'Initial working directory inside the container' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s W -l workdir -d 'Host directory backing /tmp, /var/tmp and home with --contain' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s o -l overlay -d 'Overlay: a directory (upper/ and work/ inside), an ext3 image (singlet overlay create), a squashfs image (read-only) or a SIF\'s overlay partition; writable, or read-only with :ro (repeatable, one writable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l hostname -d 'Hostname in the container (implies --uts)' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l network -d 'With --net: none or slirp [env: APPTAINER_NETWORK]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l network-args -d 'With --net: portmap=HOST:CONTAINER[/tcp|/udp] (from the host\'s 127.0.0.1), allow-host-loopback (the host\'s 127.0.0.1 as 10.0.2.2) [env: APPTAINER_NETWORK_ARGS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l memory -d 'Memory limit: bytes with an optional b/k/m/g/t suffix, e.g. 512m or 1.5g (root; cgroups) [env: APPTAINER_MEMORY]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l cpus -d 'CPU limit as a number of CPUs, e.g. 1.5 (root; cgroups) [env: APPTAINER_CPUS]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l pids-limit -d 'Limit on the number of processes (root; cgroups) [env: APPTAINER_PIDS_LIMIT]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l app -d 'Run a SCIF app of the image: its runscript (run), test (test) or startscript (instances), with its environment (/scif/apps/NAME) [env: APPTAINER_APP]' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l device -d 'A CDI device, vendor.com/class=name, from the CDI specs in /etc/cdi and /var/run/cdi (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l cdi-dirs -d 'CDI spec directories instead of /etc/cdi,/var/run/cdi (comma-separated)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l authfile -d 'containers auth.json with registry credentials' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l pid-file -d 'Write the instance\'s init pid to this file' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l no-home -d 'Do not mount the home directory'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s c -l contain -d 'Use minimal /dev and empty /tmp, /var/tmp and home; no host cwd'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s C -l containall -d 'Contain everything: --contain plus PID and IPC namespaces and --cleanenv'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s e -l cleanenv -d 'Clean the environment (keep TERM and proxy variables)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s w -l writable -d 'Write to a sandbox directory image, or to a SIF\'s overlay partition'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l writable-tmpfs -d 'Make the container writable through a tmpfs overlay (changes vanish at exit)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s f -l fakeroot -d 'Run as root inside a user namespace (subuid range via newuidmap when present)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s p -l pid -d 'Use a new PID namespace'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s i -l ipc -d 'Use a new IPC namespace'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l uts -d 'Use a new UTS namespace'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l no-privs -d 'Drop all capabilities (root inside)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l keep-privs -d 'Keep privileges (root only: no no_new_privs)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l no-init -d 'No init process with --pid'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l verify -d 'Refuse to run a SIF whose signatures do not verify with your keyring (and the site\'s trusted keyring)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l compat -d 'OCI-like: --containall --no-init --writable-tmpfs --no-eval'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l no-eval -d 'Do not shell-evaluate injected environment values'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l unsquash -d 'Extract the image instead of mounting it with squashfuse'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l oci-semantics -d 'Run images converted from OCI with OCI rules: WORKDIR as the working directory, USER (with --fakeroot or as root), exact ENTRYPOINT/CMD arguments without shell evaluation'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s n -l net -d 'A network namespace: with --network slirp (default) user-mode networking through slirp4netns, with --network none loopback only [env: APPTAINER_NET]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l nv -d 'Bind the host\'s NVIDIA driver: the libraries of nvliblist.conf from the ldconfig cache into /.singularity.d/libs, nvidia-smi and the other programs at /usr/bin, /dev/nvidia* with --contain [env: APPTAINER_NV]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l nvccli -d 'Set up the NVIDIA GPUs with nvidia-container-cli (NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES …); implies --nv and --writable-tmpfs [env: APPTAINER_NVCCLI]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l rocm -d 'Bind the host\'s ROCm driver (rocmliblist.conf, /dev/kfd, /dev/dri) [env: APPTAINER_ROCM]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l gpu-strict -d 'With --nv or --rocm: fail when the host has no such driver instead of warning [env: APPTAINER_GPU_STRICT]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l private-userns -d 'As a rank of an MPI or Slurm job, do not join the job\'s shared user namespace (ranks of a node then cannot use cross-memory attach between them) [env: APPTAINER_PRIVATE_USERNS]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l no-https -d 'Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -l docker-login -d 'Ask for registry credentials on the terminal'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from list" -s j -l json -d 'Print JSON ({"instances":[…]}, Apptainer\'s shape)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from list" -s l -l logs -d 'Show the log file paths instead of the image'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from stop" -s s -l signal -d 'Signal sent first, by name or number' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from stop" -s t -l timeout -d 'Seconds to wait before SIGKILL' -r
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from stop" -s a -l all -d 'Stop all of your instances'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from stop" -s F -l force -d 'Send SIGKILL at once'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from stop" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from stats" -l json -d 'Print JSON'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from stats" -l no-stream -d 'One snapshot even on a terminal'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from stats" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from help" -f -a "start" -d 'Start an instance: run the image\'s startscript detached'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from help" -f -a "run" -d 'Start an instance that runs the image\'s runscript detached'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from help" -f -a "list" -d 'List running instances (yours only)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from help" -f -a "stop" -d 'Stop instances: SIGINT (or --signal), then SIGKILL after --timeout'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from help" -f -a "stats" -d 'Show an instance\'s CPU, memory and process use (needs a cgroup)'
complete -c singlet -n "__fish_singlet_using_subcommand instance; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand run-help" -l app -d 'Show the help of this SCIF app (/scif/apps/NAME/scif/runscript.help)' -r
complete -c singlet -n "__fish_singlet_using_subcommand run-help" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -l app -d 'Show the metadata of this SCIF app (/scif/apps/NAME/scif) instead of the image\'s' -r
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -s l -l labels -d 'Show the labels (default)'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -s d -l deffile -d 'Show the definition file'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -s r -l runscript -d 'Show the runscript'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -s s -l startscript -d 'Show the startscript'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -s t -l test -d 'Show the test script'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -s e -l environment -d 'Show the environment scripts'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -s H -l helpfile -d 'Show the runscript help'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -s j -l json -d 'Print JSON (inspect-metadata.json shape)'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -l all -d 'Everything, as JSON'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -l list-apps -d 'List the image\'s SCIF apps, one per line'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -l signatures -d 'List the image\'s signature objects (format, link, signer fingerprint), unchecked: `singlet verify` checks them'
complete -c singlet -n "__fish_singlet_using_subcommand inspect" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand push" -l authfile -d 'containers auth.json with registry credentials' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand push" -s D -l description -d 'library://: description of the image' -r
complete -c singlet -n "__fish_singlet_using_subcommand push" -l library -d 'library://: the library endpoint (instead of the remote in use)' -r
complete -c singlet -n "__fish_singlet_using_subcommand push" -l no-https -d 'Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]'
complete -c singlet -n "__fish_singlet_using_subcommand push" -l docker-login -d 'Ask for registry credentials on the terminal'
complete -c singlet -n "__fish_singlet_using_subcommand push" -l json -d 'Print the result as JSON (digests, bytes sent)'
complete -c singlet -n "__fish_singlet_using_subcommand push" -s U -l allow-unsigned -d 'library://: push an image that carries no signature (Apptainer refuses those)'
complete -c singlet -n "__fish_singlet_using_subcommand push" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and not __fish_seen_subcommand_from login logout list help" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and not __fish_seen_subcommand_from login logout list help" -f -a "login" -d 'Store credentials for a registry (checked with the registry first)'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and not __fish_seen_subcommand_from login logout list help" -f -a "logout" -d 'Remove the stored credentials of a registry'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and not __fish_seen_subcommand_from login logout list help" -f -a "list" -d 'List the stored logins (user names, never passwords), from every file read'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and not __fish_seen_subcommand_from login logout list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from login" -s u -l username -d 'User name (asked on the terminal when missing)' -r
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from login" -s p -l password -d 'Password or token (visible to other users in the process list: prefer --password-stdin)' -r
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from login" -l authfile -d 'The containers auth.json to write (default: $REGISTRY_AUTH_FILE or ~/.config/containers/auth.json, which Podman and skopeo read too)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from login" -l password-stdin -d 'Read the password or token from standard input'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from login" -l no-https -d 'Plain HTTP (and no TLS verification) to check the login'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from login" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from logout" -l authfile -d 'The containers auth.json to change (default as for login)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from logout" -s a -l all -d 'Remove every login of the file'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from logout" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from list" -l authfile -d 'Read only this auth file' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from list" -l json -d 'Print JSON'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "login" -d 'Store credentials for a registry (checked with the registry first)'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "logout" -d 'Remove the stored credentials of a registry'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the stored logins (user names, never passwords), from every file read'
complete -c singlet -n "__fish_singlet_using_subcommand registry; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand delete" -s A -l arch -d 'Architecture of the image to delete (default: this host\'s)' -r
complete -c singlet -n "__fish_singlet_using_subcommand delete" -l library -d 'The library endpoint (instead of the remote in use)' -r
complete -c singlet -n "__fish_singlet_using_subcommand delete" -s F -l force -d 'Do not ask for confirmation (needed when not on a terminal)'
complete -c singlet -n "__fish_singlet_using_subcommand delete" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand search" -l library -d 'The library endpoint (instead of the remote in use)' -r
complete -c singlet -n "__fish_singlet_using_subcommand search" -l arch -d 'Only images of this architecture' -r
complete -c singlet -n "__fish_singlet_using_subcommand search" -l json -d 'Print the library\'s answer as JSON'
complete -c singlet -n "__fish_singlet_using_subcommand search" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and not __fish_seen_subcommand_from add use list remove login logout status help" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and not __fish_seen_subcommand_from add use list remove login logout status help" -f -a "add" -d 'Add a library endpoint (a service root URL), and use it when it is the first'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and not __fish_seen_subcommand_from add use list remove login logout status help" -f -a "use" -d 'Use this remote for library:// from now on'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and not __fish_seen_subcommand_from add use list remove login logout status help" -f -a "list" -d 'List the remotes (the one in use is marked)'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and not __fish_seen_subcommand_from add use list remove login logout status help" -f -a "remove" -d 'Remove a remote'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and not __fish_seen_subcommand_from add use list remove login logout status help" -f -a "login" -d 'Store an access token for a remote (checked with the library first)'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and not __fish_seen_subcommand_from add use list remove login logout status help" -f -a "logout" -d 'Forget the token of a remote'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and not __fish_seen_subcommand_from add use list remove login logout status help" -f -a "status" -d 'Show a remote\'s library API, its version, and whether the token is accepted'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and not __fish_seen_subcommand_from add use list remove login logout status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from add" -l no-login -d 'Do not ask for a token now'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from use" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from list" -l json -d 'Print JSON (tokens are never shown)'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from login" -l tokenfile -d 'Read the token from this file (default: standard input or the terminal)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from login" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from logout" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a library endpoint (a service root URL), and use it when it is the first'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "use" -d 'Use this remote for library:// from now on'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the remotes (the one in use is marked)'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a remote'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "login" -d 'Store an access token for a remote (checked with the library first)'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "logout" -d 'Forget the token of a remote'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show a remote\'s library API, its version, and whether the token is accepted'
complete -c singlet -n "__fish_singlet_using_subcommand remote; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand sign" -s k -l keyidx -d 'Use the secret key at this index of the keyring (see `singlet key list --secret`)' -r
complete -c singlet -n "__fish_singlet_using_subcommand sign" -l key -d 'Sign with this PEM private key (Ed25519, RSA or ECDSA P-256), as a DSSE envelope' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand sign" -s i -l sif-id -d 'Sign the object group of this data object' -r
complete -c singlet -n "__fish_singlet_using_subcommand sign" -s g -l group-id -d 'Sign this object group' -r
complete -c singlet -n "__fish_singlet_using_subcommand sign" -l passphrase -d 'Passphrase of the secret key (default: none, or the SINGLET_KEY_PASSPHRASE variable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand sign" -s a -l all -d 'Sign every object group (the default)'
complete -c singlet -n "__fish_singlet_using_subcommand sign" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand verify" -l key -d 'Verify DSSE signatures with this PEM public key (repeatable)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand verify" -l keyring -d 'Also trust the OpenPGP public keys of this file, armored or binary (repeatable)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand verify" -s i -l sif-id -d 'Verify the signatures covering this data object' -r
complete -c singlet -n "__fish_singlet_using_subcommand verify" -s g -l group-id -d 'Verify the signatures of this object group' -r
complete -c singlet -n "__fish_singlet_using_subcommand verify" -s u -l url -d 'Fetch signers\' keys missing from the keyrings from this keyserver (HKP; used for this verification only, not imported)' -r
complete -c singlet -n "__fish_singlet_using_subcommand verify" -s a -l all -d 'Verify every object (with --legacy-insecure: each object\'s legacy signature)'
complete -c singlet -n "__fish_singlet_using_subcommand verify" -s l -l legacy-insecure -d 'Check signatures of Singularity < 3.6, which do not protect the header and descriptors'
complete -c singlet -n "__fish_singlet_using_subcommand verify" -s j -l json -d 'Print the result as JSON'
complete -c singlet -n "__fish_singlet_using_subcommand verify" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand key; and not __fish_seen_subcommand_from newpair list import export push pull search remove help" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand key; and not __fish_seen_subcommand_from newpair list import export push pull search remove help" -f -a "newpair" -d 'Create a new OpenPGP key pair in the keyrings'
complete -c singlet -n "__fish_singlet_using_subcommand key; and not __fish_seen_subcommand_from newpair list import export push pull search remove help" -f -a "list" -d 'List the public keys (or the secret keys) of the keyrings'
complete -c singlet -n "__fish_singlet_using_subcommand key; and not __fish_seen_subcommand_from newpair list import export push pull search remove help" -f -a "import" -d 'Add the keys of a file (armored or binary; public or secret) to the keyrings'
complete -c singlet -n "__fish_singlet_using_subcommand key; and not __fish_seen_subcommand_from newpair list import export push pull search remove help" -f -a "export" -d 'Write a key to a file'
complete -c singlet -n "__fish_singlet_using_subcommand key; and not __fish_seen_subcommand_from newpair list import export push pull search remove help" -f -a "push" -d 'Send a public key to a keyserver (HKP)'
complete -c singlet -n "__fish_singlet_using_subcommand key; and not __fish_seen_subcommand_from newpair list import export push pull search remove help" -f -a "pull" -d 'Fetch a public key from a keyserver into the public keyring (HKP)'
complete -c singlet -n "__fish_singlet_using_subcommand key; and not __fish_seen_subcommand_from newpair list import export push pull search remove help" -f -a "search" -d 'Search a keyserver\'s index (HKP)'
complete -c singlet -n "__fish_singlet_using_subcommand key; and not __fish_seen_subcommand_from newpair list import export push pull search remove help" -f -a "remove" -d 'Remove a public key from the keyring'
complete -c singlet -n "__fish_singlet_using_subcommand key; and not __fish_seen_subcommand_from newpair list import export push pull search remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from newpair" -s N -l name -d 'Name of the key\'s user id' -r
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from newpair" -s E -l email -d 'Email of the key\'s user id' -r
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from newpair" -s C -l comment -d 'Comment of the key\'s user id' -r
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from newpair" -s P -l password -d 'Passphrase protecting the secret key (default: none)' -r
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from newpair" -s b -l bit-length -d 'RSA key size in bits (Apptainer\'s default)' -r
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from newpair" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from list" -s s -l secret -d 'List the secret keyring, with the index `sign --keyidx` takes'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from import" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from export" -s s -l secret -d 'Export the secret key'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from export" -s a -l armor -d 'ASCII-armored output'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from export" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from push" -s u -l url -d 'Keyserver (hkp://, hkps://, http://, https://)' -r
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from push" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from pull" -s u -l url -d 'Keyserver (hkp://, hkps://, http://, https://)' -r
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from pull" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from search" -s u -l url -d 'Keyserver (hkp://, hkps://, http://, https://)' -r
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from search" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "newpair" -d 'Create a new OpenPGP key pair in the keyrings'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the public keys (or the secret keys) of the keyrings'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "import" -d 'Add the keys of a file (armored or binary; public or secret) to the keyrings'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "export" -d 'Write a key to a file'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "push" -d 'Send a public key to a keyserver (HKP)'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "pull" -d 'Fetch a public key from a keyserver into the public keyring (HKP)'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "search" -d 'Search a keyserver\'s index (HKP)'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a public key from the keyring'
complete -c singlet -n "__fish_singlet_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -l root -d 'Root directory for container state [default: /run/singlet as root, $XDG_RUNTIME_DIR/singlet or /tmp/singlet-<uid> otherwise]' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -l log -d 'Append log messages to FILE (created if missing) instead of stderr' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -l log-format -d 'Log format' -r -f -a "text\t'logrus text lines'
json\t'JSON objects, one per line'"
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -l rootless -d 'Rootless behaviour: auto detects a non-root caller' -r -f -a "auto\t''
true\t''
false\t''"
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -l criu -d 'Accepted for runc compatibility; checkpointing is not supported' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -l cgroup-manager -d 'Accepted for crun compatibility (`disabled` skips cgroups)' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -l debug -d 'Enable debug logging'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -l systemd-cgroup -d 'Interpret linux.cgroupsPath as a systemd slice:prefix:name (needs a running systemd)'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -s v -l version -d 'Print version information'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "create" -d 'Create a container: set it up and stop before running the user process'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "start" -d 'Run the user process of a created container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "state" -d 'Print the state of a container as JSON'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "kill" -d 'Send a signal (name or number, default SIGTERM) to the container\'s init'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "delete" -d 'Delete a container and its state'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "run" -d 'Create and start a container; in the foreground, wait and return its exit status'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "exec" -d 'Run a new process inside a container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "list" -d 'List containers'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "ps" -d 'List the processes of a container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "pause" -d 'Freeze every process of a container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "resume" -d 'Thaw a paused container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "update" -d 'Change the resource limits of a running container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "events" -d 'Print container events (resource statistics) as JSON lines'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "features" -d 'Print the runtime\'s features (runtime-spec features.json)'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "spec" -d 'Write a template config.json into the bundle'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "checkpoint" -d 'Not supported: checkpointing needs CRIU integration'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "restore" -d 'Not supported: restoring needs CRIU integration'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and not __fish_seen_subcommand_from create start state kill delete run exec list ps pause resume update events features spec checkpoint restore help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from create" -s b -l bundle -d 'Path to the bundle directory (holding config.json)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from create" -l console-socket -d 'Unix socket that receives the pty master (SCM_RIGHTS) when process.terminal is set' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from create" -l pid-file -d 'Write the init\'s host pid to FILE (decimal, no newline)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from create" -l preserve-fds -d 'Pass N extra file descriptors (3 .. 3+N-1) to the container' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from create" -l no-pivot -d 'Do not use pivot_root (MS_MOVE + chroot instead; for ramfs roots)'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from create" -l no-new-keyring -d 'Do not create a new session keyring'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from state" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from kill" -s a -l all -d 'Send the signal to every process of the container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from kill" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from delete" -s f -l force -d 'Kill a running container first; succeed when the id is unknown'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from delete" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from run" -s b -l bundle -d 'Path to the bundle directory (holding config.json)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from run" -l console-socket -d 'Unix socket that receives the pty master (SCM_RIGHTS) when process.terminal is set' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from run" -l pid-file -d 'Write the init\'s host pid to FILE (decimal, no newline)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from run" -l preserve-fds -d 'Pass N extra file descriptors (3 .. 3+N-1) to the container' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from run" -l no-pivot -d 'Do not use pivot_root (MS_MOVE + chroot instead; for ramfs roots)'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from run" -l no-new-keyring -d 'Do not create a new session keyring'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from run" -s d -l detach -d 'Return once the container has started'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -s p -l process -d 'Path to a process.json; other process flags are then ignored' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -l pid-file -d 'Write the process\'s host pid to FILE (decimal, no newline)' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -l console-socket -d 'Unix socket that receives the pty master' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -l cwd -d 'Working directory inside the container' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -s e -l env -d 'Set an environment variable (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -s u -l user -d 'User to run as: uid[:gid]' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -s g -l additional-gids -d 'Additional group ids (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -s c -l cap -d 'Add a capability (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -l preserve-fds -d 'Pass N extra file descriptors' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -l cgroup -d 'Run the process in a sub-cgroup of the container\'s: PATH, or CONTROLLER[,CONTROLLER]:PATH (repeatable)' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -s t -l tty -d 'Allocate a pseudo-terminal'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -s d -l detach -d 'Return once the process has started'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -l no-new-privs -d 'Set no_new_privs for the process'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -l ignore-paused -d 'Allow exec in a paused container (the process starts frozen)'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from exec" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from list" -s f -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Print only the ids'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from ps" -s f -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from ps" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from pause" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from resume" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -s r -l resources -d 'LinuxResources JSON file, or - for stdin' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l memory -d 'Memory limit (bytes, or with k/m/g suffix; -1 unlimited)' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l memory-reservation -d 'Memory soft limit' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l memory-swap -d 'Memory plus swap limit' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l kernel-memory -d 'Ignored (kernel memory accounting is gone from current kernels)' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l cpu-shares -d 'CPU shares (relative weight)' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l cpu-period -d 'CPU CFS period in microseconds' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l cpu-quota -d 'CPU CFS quota in microseconds' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l cpuset-cpus -d 'CPUs allowed (0-3, 0,1)' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l cpuset-mems -d 'Memory nodes allowed' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l cpu-rt-period -d 'Realtime period in microseconds' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l cpu-rt-runtime -d 'Realtime runtime in microseconds' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l pids-limit -d 'Maximum number of pids (-1 unlimited)' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -l blkio-weight -d 'Block I/O weight (10–1000)' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from update" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from events" -l interval -d 'Interval between statistics, e.g. 5s or 500ms' -r
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from events" -l stats -d 'Print statistics once and exit'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from events" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from features" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from spec" -s b -l bundle -d 'Bundle directory' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from spec" -l rootless -d 'Write a config for a rootless container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from spec" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a container: set it up and stop before running the user process'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "start" -d 'Run the user process of a created container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "state" -d 'Print the state of a container as JSON'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "kill" -d 'Send a signal (name or number, default SIGTERM) to the container\'s init'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "delete" -d 'Delete a container and its state'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "run" -d 'Create and start a container; in the foreground, wait and return its exit status'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "exec" -d 'Run a new process inside a container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "list" -d 'List containers'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "ps" -d 'List the processes of a container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "pause" -d 'Freeze every process of a container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "resume" -d 'Thaw a paused container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "update" -d 'Change the resource limits of a running container'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "events" -d 'Print container events (resource statistics) as JSON lines'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "features" -d 'Print the runtime\'s features (runtime-spec features.json)'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "spec" -d 'Write a template config.json into the bundle'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "checkpoint" -d 'Not supported: checkpointing needs CRIU integration'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "restore" -d 'Not supported: restoring needs CRIU integration'
complete -c singlet -n "__fish_singlet_using_subcommand oci; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and not __fish_seen_subcommand_from header list info dump new add del cat setprim help" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and not __fish_seen_subcommand_from header list info dump new add del cat setprim help" -f -a "header" -d 'Display the global header'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and not __fish_seen_subcommand_from header list info dump new add del cat setprim help" -f -a "list" -d 'List data objects'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and not __fish_seen_subcommand_from header list info dump new add del cat setprim help" -f -a "info" -d 'Display data object info'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and not __fish_seen_subcommand_from header list info dump new add del cat setprim help" -f -a "dump" -d 'Dump a data object to stdout'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and not __fish_seen_subcommand_from header list info dump new add del cat setprim help" -f -a "new" -d 'Create an empty SIF image (no launch script, like siftool)'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and not __fish_seen_subcommand_from header list info dump new add del cat setprim help" -f -a "add" -d 'Add a data object'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and not __fish_seen_subcommand_from header list info dump new add del cat setprim help" -f -a "del" -d 'Delete a data object (the data stays in the file, like siftool)'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and not __fish_seen_subcommand_from header list info dump new add del cat setprim help" -f -a "cat" -d 'Print a file from the primary system partition, read in process (extension to siftool)'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and not __fish_seen_subcommand_from header list info dump new add del cat setprim help" -f -a "setprim" -d 'Set the primary system partition'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and not __fish_seen_subcommand_from header list info dump new add del cat setprim help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from header" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from info" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from dump" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from new" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -l datatype -d 'Data type: 1 Deffile, 2 EnvVar, 3 Labels, 4 Partition, 5 Signature, 6 GenericJSON, 7 Generic, 8 CryptoMessage, 9 SBOM (10 OCI.RootIndex, 11 OCI.Blob)' -r
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -l parttype -d 'Partition type (with --datatype 4): 1 System, 2 PrimSys, 3 Data, 4 Overlay' -r
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -l partfs -d 'Partition filesystem (with --datatype 4): 1 Squash, 2 Ext3, 3 ImmuObj, 4 Raw' -r
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -l partarch -d 'Partition architecture (with --datatype 4): 1 386, 2 amd64, 3 arm, 4 arm64, 5 ppc64, 6 ppc64le, 7 mips, 8 mipsle, 9 mips64, 10 mips64le, 11 s390x, 12 riscv64' -r
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -l signhash -d 'Signature hash (with --datatype 5): 1 SHA256, 2 SHA384, 3 SHA512, 4 BLAKE2s_256, 5 BLAKE2b_256' -r
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -l signentity -d 'Signing entity fingerprint, 40 hex digits (with --datatype 5)' -r
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -l sbomformat -d 'SBOM format (with --datatype 9): cyclonedx-json, cyclonedx-xml, github-json, spdx-json, spdx-rdf, spdx-tag-value, spdx-yaml, syft-json' -r
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -l groupid -d 'Group id (0 = no group)' -r
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -l link -d 'Link to an object id' -r
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -l alignment -d 'Alignment [default: 4096 for partitions, 0 otherwise]' -r
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -l filename -d 'Object name (set only when given, like siftool)' -r
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from del" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from cat" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from setprim" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from help" -f -a "header" -d 'Display the global header'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from help" -f -a "list" -d 'List data objects'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from help" -f -a "info" -d 'Display data object info'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from help" -f -a "dump" -d 'Dump a data object to stdout'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from help" -f -a "new" -d 'Create an empty SIF image (no launch script, like siftool)'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a data object'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from help" -f -a "del" -d 'Delete a data object (the data stays in the file, like siftool)'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from help" -f -a "cat" -d 'Print a file from the primary system partition, read in process (extension to siftool)'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from help" -f -a "setprim" -d 'Set the primary system partition'
complete -c singlet -n "__fish_singlet_using_subcommand sif; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c singlet -n "__fish_singlet_using_subcommand config" -l json -d 'Print JSON'
complete -c singlet -n "__fish_singlet_using_subcommand config" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand create" -s s -l size -d 'Size in MiB' -r
complete -c singlet -n "__fish_singlet_using_subcommand create" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand import" -l arch -d 'Architecture to pull (amd64, arm64, ppc64le …); default: this host\'s' -r
complete -c singlet -n "__fish_singlet_using_subcommand import" -l compress -d 'Squashfs compression: gzip (default, every Apptainer reads it), zstd, xz, lz4' -r
complete -c singlet -n "__fish_singlet_using_subcommand import" -l authfile -d 'containers auth.json with registry credentials' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand import" -s F -l force -d 'Overwrite an existing output'
complete -c singlet -n "__fish_singlet_using_subcommand import" -l disable-cache -d 'Do not use or fill the cache [env: APPTAINER_DISABLE_CACHE]'
complete -c singlet -n "__fish_singlet_using_subcommand import" -l no-https -d 'Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]'
complete -c singlet -n "__fish_singlet_using_subcommand import" -l docker-login -d 'Ask for registry credentials on the terminal'
complete -c singlet -n "__fish_singlet_using_subcommand import" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand bootstrap" -l arch -d 'Architecture to pull (amd64, arm64, ppc64le …); default: this host\'s' -r
complete -c singlet -n "__fish_singlet_using_subcommand bootstrap" -l compress -d 'Squashfs compression: gzip (default, every Apptainer reads it), zstd, xz, lz4' -r
complete -c singlet -n "__fish_singlet_using_subcommand bootstrap" -l authfile -d 'containers auth.json with registry credentials' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand bootstrap" -s F -l force -d 'Overwrite an existing output'
complete -c singlet -n "__fish_singlet_using_subcommand bootstrap" -l disable-cache -d 'Do not use or fill the cache [env: APPTAINER_DISABLE_CACHE]'
complete -c singlet -n "__fish_singlet_using_subcommand bootstrap" -l no-https -d 'Use plain HTTP (and no TLS verification) for the registry [env: APPTAINER_NOHTTPS]'
complete -c singlet -n "__fish_singlet_using_subcommand bootstrap" -l docker-login -d 'Ask for registry credentials on the terminal'
complete -c singlet -n "__fish_singlet_using_subcommand bootstrap" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand expand" -s s -l size -d 'MiB to add' -r
complete -c singlet -n "__fish_singlet_using_subcommand expand" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand image.export" -s f -l file -d 'Write to this file instead of standard output' -r -F
complete -c singlet -n "__fish_singlet_using_subcommand image.export" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand instance.start" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand instance.list" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand instance.stop" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand generate" -s h -l help -d 'Print help'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "exec" -d 'Run a command inside a container'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "run" -d 'Run the container\'s runscript'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "shell" -d 'Start an interactive shell in the container'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "test" -d 'Run the container\'s test script'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "pull" -d 'Download an OCI/Docker image and convert it to a SIF (or a sandbox)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "build" -d 'Build a SIF or a sandbox from a registry image, an OCI layout, a sandbox or a SIF'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "cache" -d 'List or clean the per-user cache (blobs, converted images, extracted rootfs)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "overlay" -d 'Create overlay images (ext3 files, or an overlay partition in a SIF)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "instance" -d 'Manage instances: containers running detached (start, run, list, stop, stats)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "run-help" -d 'Show the runscript help of an image (or of one of its SCIF apps)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "inspect" -d 'Show an image\'s metadata (labels by default)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "push" -d 'Upload a SIF to an OCI registry (oras://) or a library endpoint (library://)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "registry" -d 'Log in to and out of OCI registries (credentials in the containers auth.json format)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "delete" -d 'Delete an image from a library endpoint'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "search" -d 'Search a library endpoint for users, collections and containers'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "remote" -d 'Manage library endpoints for library:// (add, use, list, remove, login, logout, status)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "sign" -d 'Add a signature to a SIF image (OpenPGP, or DSSE with a PEM key)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "verify" -d 'Check the signatures of a SIF image (OpenPGP current and legacy formats, DSSE)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "key" -d 'Manage the OpenPGP keyrings (newpair, list, import, export, remove)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "oci" -d 'A rootless-by-default OCI runtime, runc-compatible (runtime-spec v1.2): the singlet-oci verbs'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "sif" -d 'SIF file tools, siftool-compatible (header, list, info, dump, new, add, del, setprim)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "config" -d 'Show the effective site configuration (/etc/singlet/singlet.conf, or the file SINGLET_CONFIG_FILE names; Apptainer\'s apptainer.conf directive names)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "create" -d '(Singularity 2.x) Create an empty ext3 image [today: singlet build, singlet overlay create]'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "import" -d '(Singularity 2.x) Unpack a docker:// image or a tar archive into an ext3 image [today: singlet build]'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "bootstrap" -d '(Singularity 2.x) Build a definition file into an ext3 image [today: singlet build]'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "expand" -d '(Singularity 2.x) Grow an ext3 image [today: singlet overlay create for writable space]'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "image.export" -d '(Singularity 2.x) Write an image\'s tree as a tar archive [today: singlet build --sandbox]'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "instance.start" -d '(Singularity 2.x) Start an instance [today: singlet instance start]'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "instance.list" -d '(Singularity 2.x) List instances [today: singlet instance list]'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "instance.stop" -d '(Singularity 2.x) Stop an instance [today: singlet instance stop]'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "generate" -d 'Write man pages or shell completions (packaging)'
complete -c singlet -n "__fish_singlet_using_subcommand help; and not __fish_seen_subcommand_from exec run shell test pull build cache overlay instance run-help inspect push registry delete search remote sign verify key oci sif config create import bootstrap expand image.export instance.start instance.list instance.stop generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
