#!/usr/bin/env bash
# kernel-lane.sh — run vnet's end-to-end tests under Debian's stock kernel in qemu.
#
# Why: the dev/CI machines run a 6.18 kernel without loadable modules and
# without 802.1Q, bridge VLAN filtering, netem, dummy, ... . Debian's stock
# kernel has all of them as modules, so we boot it under qemu (TCG, no KVM)
# with a throw-away initramfs holding busybox, iproute2, nft, the modules, the
# vnet binary and the e2e test binary, and read the result off the serial
# console. Nothing touches the host's network: the guest has no NIC at all.
#
# Usage:
#   scripts/kernel-lane.sh [--vnet PATH] [--e2e PATH] [--topologies DIR]
#                          [--env NAME=VALUE]... [--keep] [-- E2E_ARGS...]
#   scripts/kernel-lane.sh --selftest [--vnet PATH] [-- E2E_ARGS...]
#   scripts/kernel-lane.sh --prepare-only
#
#   --vnet PATH        vnet binary (default: built with `cargo build`)
#   --e2e PATH         e2e test executable (default: built with
#                      `cargo test --test e2e --no-run`)
#   --topologies DIR   topology YAML files, seen as /vnet/topologies in the
#                      guest (default: REPO/topologies if it exists, else empty)
#   --selftest         use scripts/kernel-lane/selftest.sh as the e2e binary:
#                      proves the lane itself (veth, 802.1Q, VLAN-filtering
#                      bridge, netem, nftables, ...) without vnet's tests
#   --prepare-only     boot nothing: fill the cache (kernel, busybox, qemu; the
#                      e1000 NIC driver with what it depends on and the kernel,
#                      both unpacked) and print, on stdout, lines
#                      `export VNET_VM_{KERNEL,BUSYBOX,MODULES,QEMU}=PATH` for
#                      the e2e test that boots a VM on a lab's TAP port:
#                        eval "$(scripts/kernel-lane.sh --prepare-only)"
#   --env NAME=VALUE   extra environment for the test binary (repeatable)
#   --keep             keep the work dir (initramfs, console log) and say where
#   -- ARGS            passed to the e2e binary after --test-threads=2 (which
#                      is left out if ARGS has a --test-threads of its own)
#
# Environment:
#   VNET_LANE_CACHE    cache dir (default /var/cache/vnet-kernel-lane): .debs,
#                      the extracted kernel and busybox, reused between runs
#   VNET_LANE_TIMEOUT  how long the guest may run, `timeout` syntax (default 40m)
#   VNET_LANE_KVM=1    use KVM instead of TCG (opt-in: on the project's
#                      machines KVM guests hang after "Probing EDD", and
#                      qemu 7.2 with -cpu host aborts: "failed to set MSR 0x10a")
#   VNET_LANE_MEM      guest memory in MiB (default 2048)
#   VNET_LANE_SMP      guest CPUs (default 2)
#   VNET_LANE_CMDLINE  the guest kernel's command line after console= and
#                      panic= (default: warnings and worse on the console, so
#                      a kernel report comes with its stack trace, and a soft
#                      lockup panics the guest at once instead of spinning
#                      until the timeout)
#   VNET_LANE_QEMU     qemu-system-x86_64 to use (default: the one on PATH,
#                      else a private copy unpacked from Debian's .debs into
#                      the cache; see prepare_qemu for why not apt-get install)
#   VNET_LANE_KERNEL_PKG  pin a versioned kernel package, e.g.
#                      linux-image-6.1.0-56-amd64 (default: what
#                      linux-image-amd64 depends on)
#   VNET_LANE_STRIP=0  keep debug info in the copied test binaries (default:
#                      stripped, which makes the initramfs far smaller)
#
# Exit status (with --prepare-only: 0 when every path was printed, 2 if not):
# 0 only if the guest printed the test summary with 0 failed and
# the test binary exited 0; 1 if tests failed or the guest hung or crashed;
# 2 for usage or host-side setup errors. The last line on stdout is always
#   kernel-lane: N passed, N failed, N skipped
# (skipped = the harness's "ignored" count).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
LANE_DIR=$SCRIPT_DIR/kernel-lane

CACHE=${VNET_LANE_CACHE:-/var/cache/vnet-kernel-lane}
TIMEOUT=${VNET_LANE_TIMEOUT:-40m}
MEM=${VNET_LANE_MEM:-2048}
SMP=${VNET_LANE_SMP:-2}
CMDLINE=${VNET_LANE_CMDLINE:-loglevel=5 softlockup_panic=1 softlockup_all_cpu_backtrace=1}

# sed script: drop CRs (serial line ends are CR LF) and terminal escapes
# (colours, SeaBIOS's reset/clear-screen) from console output.
STRIP_TERM='s/\r$//; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g; s/\x1b[()][0-9A-Za-z]//g'

# Marker lines printed by scripts/kernel-lane/init.
DONE_MARKER='VNET-KERNEL-LANE-DONE'
SETUP_MARKER='VNET-KERNEL-LANE-SETUP-FAILED'

export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C

log() { printf 'kernel-lane: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 2
}
usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit "${1:-0}"
}

# ---------------------------------------------------------------- arguments

VNET=
E2E=
TOPOLOGIES=
SELFTEST=0
PREPARE_ONLY=0
KEEP=0
GUEST_ENV=()
E2E_ARGS=()
while (($#)); do
    case $1 in
    --vnet) VNET=${2:?--vnet needs a path}; shift 2 ;;
    --e2e) E2E=${2:?--e2e needs a path}; shift 2 ;;
    --topologies) TOPOLOGIES=${2:?--topologies needs a directory}; shift 2 ;;
    --selftest) SELFTEST=1; shift ;;
    --prepare-only) PREPARE_ONLY=1; shift ;;
    --env)
        [[ ${2:-} =~ ^[A-Za-z_][A-Za-z0-9_]*=[^$'\n']*$ ]] || die "--env wants NAME=VALUE, got '${2:-}'"
        GUEST_ENV+=("$2"); shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage 0 ;;
    --) shift; E2E_ARGS=("$@"); break ;;
    *) log "unknown argument: $1"; usage 2 >&2 ;;
    esac
done
for a in "${E2E_ARGS[@]}"; do
    [[ $a != *$'\n'* ]] || die "arguments for the e2e binary cannot contain newlines"
done
if ((PREPARE_ONLY)); then
    ((!SELFTEST)) && [[ -z $E2E && -z $VNET && -z $TOPOLOGIES ]] && ((${#E2E_ARGS[@]} == 0)) ||
        die "--prepare-only takes no other arguments"
fi
if ((SELFTEST)); then
    [[ -z $E2E ]] || die "--selftest and --e2e are exclusive"
    E2E=$LANE_DIR/selftest.sh
fi

# ------------------------------------------------------------ temp and trap

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vnet-kernel-lane.XXXXXX")
QEMU_PID=
TAIL_PID=
cleanup() {
    local rc=$?
    # Only the processes this script started, by pid.
    if [[ -n $QEMU_PID ]]; then kill "$QEMU_PID" 2>/dev/null || true; fi
    if [[ -n $TAIL_PID ]]; then kill "$TAIL_PID" 2>/dev/null || true; fi
    if ((KEEP)); then
        log "work dir kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# ------------------------------------------------------------- host tools

# retry CMD...: up to 3 tries, for the network-facing apt-get calls (seen here:
# a one-off "Temporary failure resolving" from the mirror).
retry() {
    local try
    for try in 1 2 3; do
        "$@" && return 0
        ((try < 3)) || break
        echo "kernel-lane: '$1 $2' failed, retrying in $((try * 5))s" >&2
        sleep $((try * 5))
    done
    return 1
}

APT_UPDATED=0
apt_update_once() {
    ((APT_UPDATED)) && return 0
    log "apt-get update"
    retry apt-get update -qq >"$WORK/apt-update.log" 2>&1 || {
        cat "$WORK/apt-update.log" >&2
        die "apt-get update failed"
    }
    APT_UPDATED=1
    APT_VER=() APT_ARCH=()
}

# Candidate versions and architectures, as apt would install them. Every
# apt-cache run costs ~0.6 s here (the images disable apt's binary cache), so
# ask once for several packages.
declare -A APT_VER=() APT_ARCH=()
apt_info() {
    local pkg ver arch
    # (awk reads to the end on purpose: a reader that stops early, like grep -q
    # or head, can kill apt-cache with SIGPIPE and fail under pipefail.)
    while read -r pkg ver arch; do
        APT_VER[$pkg]=$ver APT_ARCH[$pkg]=$arch
    done < <(apt-cache show --no-all-versions "$@" 2>/dev/null | awk '
        /^Package: / { p = $2 } /^Version: / { v[p] = $2 } /^Architecture: / { a[p] = $2 }
        END { for (p in v) print p, v[p], a[p] }')
}

# Package lists can be missing on a fresh machine: apt-cache then knows nothing.
ensure_apt_lists() {
    [[ -n ${APT_VER[linux-image-amd64]:-} ]] && return 0
    apt_info linux-image-amd64 busybox-static qemu-system-x86
    [[ -n ${APT_VER[linux-image-amd64]:-} ]] && return 0
    apt_update_once
    apt_info linux-image-amd64 busybox-static qemu-system-x86
    [[ -n ${APT_VER[linux-image-amd64]:-} ]] || die "apt knows no linux-image-amd64 even after apt-get update"
}

ensure_host_tools() {
    local need=() cmd pkg
    # command:package pairs
    # (kmod's /usr/bin/kmod also becomes the guest's modprobe. qemu is not
    # among them: see prepare_qemu.)
    for pair in depmod:kmod cpio:cpio dpkg-deb:dpkg gzip:gzip timeout:coreutils; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null || need+=("$pkg")
    done
    ((${#need[@]})) || return 0
    ensure_apt_lists
    log "installing: ${need[*]}"
    retry apt-get install -y -qq --no-install-recommends "${need[@]}" >"$WORK/apt-install.log" 2>&1 || {
        cat "$WORK/apt-install.log" >&2
        die "apt-get install ${need[*]} failed"
    }
}

# fetch_deb PKG [VERSION ARCH] -> prints the path of PKG's .deb (default: the
# candidate) in the cache, running `apt-get download` only when it is not
# there yet.
fetch_deb() {
    local pkg=$1 ver=${2:-${APT_VER[$1]:-}} arch=${3:-${APT_ARCH[$1]:-}} file tmp
    [[ -n $ver && -n $arch ]] || die "apt-cache knows no version of $pkg"
    # apt-get download writes an epoch "1:" as "1%3a".
    file=$CACHE/debs/${pkg}_${ver//:/%3a}_${arch}.deb
    if [[ ! -s $file ]]; then
        log "apt-get download $pkg=$ver"
        mkdir -p "$CACHE/debs"
        tmp=$(mktemp -d "$CACHE/debs/.download.XXXXXX")
        # Download into a temp dir and move: an interrupted download never
        # leaves a truncated .deb that a later run would trust.
        if ! (cd "$tmp" && retry apt-get download -q "$pkg=$ver") >"$WORK/apt-download.log" 2>&1; then
            rm -rf "$tmp"
            cat "$WORK/apt-download.log" >&2
            die "apt-get download $pkg=$ver failed"
        fi
        mv "$tmp"/*.deb "$file"
        rm -rf "$tmp"
    fi
    printf '%s\n' "$file"
}

# --------------------------------------------------------- kernel, busybox

# Cache entries are filled in a ".something.XXXXXX" temp dir and renamed into
# place when complete, so a killed run never leaves a half entry behind.
# publish TMP DIR: the rename; if a concurrent run got there first, keep its.
publish() {
    chmod 0755 "$1" # mktemp made it 0700
    mv -T "$1" "$2" 2>/dev/null || rm -rf "$1"
}
# prune_cache DIR KEEP: drop what else is in DIR (older versions), but not
# temp dirs, which may belong to a run in progress (main removes old ones).
prune_cache() {
    find "$1" -mindepth 1 -maxdepth 1 ! -path "$2" ! -name '.*' -exec rm -rf {} +
}

# Sets KVER, VMLINUZ, KROOT (the extracted kernel package) and KMODS
# (KROOT/lib/modules/KVER).
prepare_kernel() {
    local kpkg kpkg_ver meta_deb dep kdeb dir tmp
    if [[ -n ${VNET_LANE_KERNEL_PKG:-} ]]; then
        kpkg=$VNET_LANE_KERNEL_PKG
        apt_info "$kpkg"
        kdeb=$(fetch_deb "$kpkg")
    else
        # The meta package only depends on the versioned image package, e.g.
        # "linux-image-6.1.0-56-amd64 (= 6.1.192-2)"; read that from the .deb
        # itself, so the two always match, and no second apt-cache run is needed.
        meta_deb=$(fetch_deb linux-image-amd64)
        dep=$(dpkg-deb -f "$meta_deb" Depends | tr ',' '\n' |
            awk '$1 ~ /^linux-image-/ && k == "" { k = $0 } END { print k }')
        kpkg=$(awk '{ print $1 }' <<<"$dep")
        kpkg_ver=$(sed -n 's/.*(= *\([^)]*\)).*/\1/p' <<<"$dep")
        [[ -n $kpkg ]] || die "cannot find the versioned kernel in $(basename "$meta_deb")'s Depends"
        if [[ -z $kpkg_ver ]]; then
            apt_info "$kpkg"
            kpkg_ver=${APT_VER[$kpkg]:-}
        fi
        kdeb=$(fetch_deb "$kpkg" "$kpkg_ver" "${APT_ARCH[linux-image-amd64]}")
    fi
    KVER=${kpkg#linux-image-}
    dir=$CACHE/kernel/$(basename "$kdeb" .deb)
    if [[ ! -e $dir/.complete ]]; then
        log "extracting $(basename "$kdeb")"
        rm -rf "$dir"
        mkdir -p "$CACHE/kernel"
        tmp=$(mktemp -d "$CACHE/kernel/.extract.XXXXXX")
        dpkg-deb -x "$kdeb" "$tmp"
        [[ -d $tmp/lib/modules/$KVER ]] || die "$kpkg has no lib/modules/$KVER"
        # The .deb ships no modules.dep: postinst runs depmod. Do it here once.
        depmod -b "$tmp" "$KVER"
        touch "$tmp/.complete"
        publish "$tmp" "$dir"
        # Keep one extracted kernel (about 400 MB) and its .deb, not all.
        prune_cache "$CACHE/kernel" "$dir"
        find "$CACHE/debs" -maxdepth 1 -name 'linux-image-*.deb' \
            ! -name "$(basename "$kdeb")" ! -name 'linux-image-amd64_*' -delete
    fi
    VMLINUZ=$dir/boot/vmlinuz-$KVER
    KROOT=$dir
    KMODS=$dir/lib/modules/$KVER
    [[ -f $VMLINUZ ]] || die "no $VMLINUZ in $kpkg"
}

# Sets BUSYBOX.
prepare_busybox() {
    local deb dir tmp
    deb=$(fetch_deb busybox-static)
    dir=$CACHE/busybox/$(basename "$deb" .deb)
    if [[ ! -x $dir/bin/busybox ]]; then
        mkdir -p "$CACHE/busybox"
        tmp=$(mktemp -d "$CACHE/busybox/.extract.XXXXXX")
        dpkg-deb -x "$deb" "$tmp"
        rm -rf "$dir"
        publish "$tmp" "$dir"
        prune_cache "$CACHE/busybox" "$dir"
        find "$CACHE/debs" -maxdepth 1 -name 'busybox-static_*.deb' ! -name "$(basename "$deb")" -delete
    fi
    BUSYBOX=$dir/bin/busybox
}

# Sets QEMU (an array: the command to run qemu-system-x86_64).
#
# A qemu-system-x86_64 on PATH (or VNET_LANE_QEMU) is used as is. Otherwise
# qemu is NOT installed with apt-get: on the project's machines the image
# carries qemu-utils 10.x from bookworm-backports, which Breaks bookworm's
# qemu-system-common 7.2, so `apt-get install qemu-system-x86` would remove
# qemu-img/qemu-nbd from the machine. Instead the .debs apt would install are
# fetched with `apt-get download` and unpacked into the cache, and that
# private qemu runs with its libraries, TCG module and firmware found there.
prepare_qemu() {
    local ver dir tmp deb pkgs libdirs missing
    if [[ -n ${VNET_LANE_QEMU:-} ]]; then
        QEMU=("$VNET_LANE_QEMU")
        return 0
    elif command -v qemu-system-x86_64 >/dev/null; then
        QEMU=(qemu-system-x86_64)
        return 0
    fi
    ver=${APT_VER[qemu-system-x86]:-}
    [[ -n $ver ]] || die "apt knows no qemu-system-x86"
    dir=$CACHE/qemu/qemu-system-x86_${ver//:/%3a}
    if [[ ! -e $dir/.complete ]]; then
        # What apt would install (missing dependencies included), as pkg=version.
        mapfile -t pkgs < <(apt-get -s install --no-install-recommends qemu-system-x86 2>/dev/null |
            awk '$1 == "Inst" { v = $3; sub(/^\(/, "", v); print $2 "=" v }')
        ((${#pkgs[@]})) || die "apt-get -s install qemu-system-x86 lists nothing to fetch"
        log "apt-get download qemu-system-x86 and ${#pkgs[@]} packages it needs (unpacked into the cache, not installed)"
        mkdir -p "$CACHE/qemu"
        tmp=$(mktemp -d "$CACHE/qemu/.fetch.XXXXXX")
        mkdir -p "$tmp/debs" "$tmp/root"
        (cd "$tmp/debs" && retry apt-get download -q "${pkgs[@]}") >"$WORK/apt-download.log" 2>&1 || {
            rm -rf "$tmp"
            cat "$WORK/apt-download.log" >&2
            die "apt-get download of qemu's packages failed"
        }
        for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
        rm -rf "$tmp/debs" "$dir"
        touch "$tmp/.complete"
        publish "$tmp" "$dir"
        prune_cache "$CACHE/qemu" "$dir"
    fi
    libdirs=$dir/root/usr/lib/x86_64-linux-gnu:$dir/root/lib/x86_64-linux-gnu
    missing=$(LD_LIBRARY_PATH=$libdirs ldd "$dir/root/usr/bin/qemu-system-x86_64" | grep 'not found' || true)
    [[ -z $missing ]] || die "private qemu in $dir lacks libraries: $missing"
    # QEMU_MODULE_DIR: Debian builds the TCG accelerator as a loadable module.
    # -L: firmware (qemu-system-data's ROMs, seabios's bios-256k.bin).
    QEMU=(env "LD_LIBRARY_PATH=$libdirs" "QEMU_MODULE_DIR=$dir/root/usr/lib/x86_64-linux-gnu/qemu"
        "$dir/root/usr/bin/qemu-system-x86_64" -L "$dir/root/usr/share/qemu" -L "$dir/root/usr/share/seabios")
}

# ------------------------------------------------ assets for a VM on a TAP

# For the e2e test that boots a real VM on a lab's TAP port (tests/e2e/vm.rs):
# that VM is this same stock kernel with a busybox initramfs the test builds,
# and needs the driver of the NIC qemu emulates for it (e1000). Sets VM_DIR
# (the driver and what it depends on, unpacked, named NN-NAME.ko so a sorted
# glob is the load order: busybox's insmod reads neither .ko.xz nor
# modules.dep) and VM_QEMU (one executable: the test cannot pass an env
# prefix and -L options around).
prepare_vm_assets() {
    local dir tmp kind path name i=0 wrapper
    dir=$CACHE/vm/$KVER
    if [[ ! -e $dir/.complete ]]; then
        mkdir -p "$CACHE/vm" "$WORK/empty-modprobe.d"
        tmp=$(mktemp -d "$CACHE/vm/.prepare.XXXXXX")
        kmod_show_depends e1000 >"$tmp/depends" || die "kernel $KVER has no e1000 module"
        while read -r kind path _; do
            [[ $kind == insmod ]] || continue
            name=$(basename "$path")
            name=$(printf '%02d-%s.ko' "$i" "${name%%.ko*}")
            case $path in
            *.ko.xz) xz -dc "$path" >"$tmp/$name" ;;
            *.ko.zst) zstd -dc "$path" >"$tmp/$name" ;;
            *.ko.gz) gzip -dc "$path" >"$tmp/$name" ;;
            *) cp "$path" "$tmp/$name" ;;
            esac
            i=$((i + 1))
        done <"$tmp/depends"
        # "builtin e1000" leaves the directory empty: nothing to load.
        rm -f "$tmp/depends"
        # qemu boots an uncompressed kernel directly (PVH, an ELF note Debian's kernel
        # carries): under TCG that saves the 20-30 s the bzImage spends unpacking itself.
        # Without readelf to see the note, the bzImage it is.
        if command -v readelf >/dev/null && extract_vmlinux "$VMLINUZ" "$tmp/vmlinux" &&
            ! readelf -n "$tmp/vmlinux" 2>/dev/null | grep -E 'PHYS32_ENTRY|\(0x00000012\)' >/dev/null; then
            rm -f "$tmp/vmlinux"
        fi
        touch "$tmp/.complete"
        rm -rf "$dir"
        publish "$tmp" "$dir"
        prune_cache "$CACHE/vm" "$dir"
    fi
    VM_DIR=$dir
    VM_KERNEL=$VMLINUZ
    [[ -f $dir/vmlinux ]] && VM_KERNEL=$dir/vmlinux
    if ((${#QEMU[@]} == 1)); then
        VM_QEMU=$(command -v "${QEMU[0]}")
    else
        # Rewritten every run (QEMU may have moved), renamed into place whole.
        wrapper=$CACHE/vm-qemu-system-x86_64
        tmp=$(mktemp "$CACHE/.vm-qemu.XXXXXX")
        printf '#!/bin/bash\n# Written by scripts/kernel-lane.sh --prepare-only: the private qemu.\nexec %s"$@"\n' \
            "$(printf '%q ' "${QEMU[@]}")" >"$tmp"
        chmod 0755 "$tmp"
        mv -f "$tmp" "$wrapper"
        VM_QEMU=$wrapper
    fi
}

# extract_vmlinux BZIMAGE OUT: the uncompressed kernel inside a bzImage (as the
# kernel's scripts/extract-vmlinux finds it: the first offset where a known
# compressor's magic starts a stream that unpacks to an ELF file).
extract_vmlinux() {
    local pair magic tool off
    for pair in '\xfd7zXZ\x00:xz' '\x28\xb5\x2f\xfd:zstd' '\x1f\x8b\x08:gzip'; do
        magic=${pair%%:*} tool=${pair#*:}
        command -v "$tool" >/dev/null || continue
        while read -r off; do
            # The stream is followed by the rest of the image: the tool complains.
            tail -c +$((off + 1)) "$1" | "$tool" -dcq >"$2" 2>/dev/null || true
            [[ -s $2 ]] && is_elf "$2" && return 0
        done < <(grep -obUaP "$magic" "$1" 2>/dev/null | cut -d: -f1 | head -n 3 || true)
    done
    rm -f "$2"
    return 1
}

# Prints the assets as shell lines for eval.
print_vm_assets() {
    printf 'export VNET_VM_KERNEL=%q\n' "$VM_KERNEL"
    printf 'export VNET_VM_BUSYBOX=%q\n' "$BUSYBOX"
    printf 'export VNET_VM_MODULES=%q\n' "$VM_DIR"
    printf 'export VNET_VM_QEMU=%q\n' "$VM_QEMU"
}

# ------------------------------------------------------ cargo (if needed)

# cargo_artifact NAME KIND < cargo-json -> executable of that target
cargo_artifact() {
    grep '"reason":"compiler-artifact"' |
        grep "\"target\":{\"kind\":\[\"$2\"\][^}]*\"name\":\"$1\"" |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1
}

build_with_cargo() {
    command -v cargo >/dev/null || die "cargo not found; pass --vnet and --e2e"
    if [[ -z $VNET ]]; then
        log "cargo build (in $REPO_ROOT)"
        (cd "$REPO_ROOT" && cargo build --message-format=json) >"$WORK/cargo-build.json" ||
            die "cargo build failed"
        VNET=$(cargo_artifact vnet bin <"$WORK/cargo-build.json")
        [[ -n $VNET ]] || die "cargo build produced no vnet binary"
    fi
    if [[ -z $E2E ]]; then
        log "cargo test --test e2e --no-run (in $REPO_ROOT)"
        (cd "$REPO_ROOT" && cargo test --test e2e --no-run --message-format=json) >"$WORK/cargo-test.json" ||
            die "cargo test --no-run failed"
        E2E=$(cargo_artifact e2e test <"$WORK/cargo-test.json")
        [[ -n $E2E ]] || die "cargo test --no-run produced no e2e executable"
    fi
}

# ------------------------------------------------------------- initramfs

ROOT=$WORK/root

is_elf() { [[ $(head -c4 "$1" | od -An -c | tr -d ' ') == '177ELF' ]]; }

# copy_libs FILE: copy the shared libraries FILE needs (and the dynamic
# loader) to the same paths inside the initramfs. Static binaries and scripts
# need none.
copy_libs() {
    local lib
    is_elf "$1" || return 0
    # ldd lines: "libx.so.1 => /lib/.../libx.so.1 (0x..)", "/lib64/ld-linux-x86-64.so.2 (0x..)",
    # "linux-vdso.so.1 (0x..)"; ldd fails on static binaries.
    ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
        while read -r lib; do
            [[ -e $ROOT$lib ]] && continue
            mkdir -p "$ROOT$(dirname "$lib")"
            cp -L "$lib" "$ROOT$lib"
        done
}

# copy_host_bin PATH: a host binary to the same path in the guest, with libs.
copy_host_bin() {
    mkdir -p "$ROOT$(dirname "$1")"
    cp -L "$1" "$ROOT$1"
    copy_libs "$1"
}

# install_payload SRC DEST: a test/vnet binary; ELF files lose their debug
# info (often >90% of a debug Rust binary) unless VNET_LANE_STRIP=0.
install_payload() {
    if is_elf "$1" && [[ ${VNET_LANE_STRIP:-1} != 0 ]] && command -v strip >/dev/null; then
        strip --strip-debug -o "$2" "$1"
    else
        cp -L "$1" "$2"
    fi
    chmod 0755 "$2"
    copy_libs "$1"
}

# kmod's own resolver over the full extracted kernel: follows modules.dep,
# aliases and soft dependencies (nf_tables -> libcrc32c needs "crc32c", which
# only a softdep names). An empty config dir keeps the host's modprobe.d out.
kmod_show_depends() {
    modprobe --config="$WORK/empty-modprobe.d" --dirname="$KROOT" --set-version="$KVER" \
        --show-depends "$@"
}

# Resolve modules.txt against this kernel: writes the boot load list and the
# list of module files (paths relative to lib/modules/KVER) to copy.
resolve_modules() {
    local kind name line=0 deps
    local names=() load=()
    mkdir -p "$WORK/empty-modprobe.d"
    while read -r kind name _; do
        line=$((line + 1))
        [[ -z $kind || $kind == \#* ]] && continue
        case $kind in
        load | load\?)
            if ! deps=$(kmod_show_depends "$name" 2>/dev/null); then
                [[ $kind == load\? ]] && continue
                die "modules.txt:$line: kernel $KVER has no module '$name' (use 'load?' if optional)"
            fi
            # "builtin NAME": compiled in, nothing to copy or load.
            [[ $deps == builtin* ]] && continue
            names+=("$name")
            load+=("$name")
            ;;
        include)
            [[ -d $KMODS/$name ]] || die "modules.txt:$line: kernel $KVER has no $name"
            while read -r kind; do
                kind=${kind##*/}
                names+=("${kind%.ko*}")
            done < <(find "$KMODS/$name" -name '*.ko*' | sort)
            ;;
        *) die "modules.txt:$line: unknown kind '$kind'" ;;
        esac
    done <"$LANE_DIR/modules.txt"

    printf '%s\n' "${load[@]}" >"$WORK/modules.load"
    # "insmod /abs/path/x.ko [options]" lines -> unique relative paths.
    kmod_show_depends -a "${names[@]}" >"$WORK/modules.closure" ||
        die "modprobe --show-depends failed for the module list"
    awk -v base="/lib/modules/$KVER/" '
        $1 == "insmod" {
            p = substr($2, index($2, base) + length(base))
            if (!(p in seen)) { seen[p] = 1; print p }
        }' "$WORK/modules.closure" >"$WORK/modules.files"
}

build_initramfs() {
    local d m a args=()
    log "building initramfs"
    mkdir -p "$ROOT"
    # Same /bin, /sbin, /lib, /lib64 layout as the host (merged /usr on
    # Debian 12), so binaries, ldd paths and the loader path all line up.
    for d in bin sbin lib lib64; do
        if [[ -L /$d ]]; then
            ln -s "$(readlink "/$d")" "$ROOT/$d"
        else
            mkdir -p "$ROOT/$d"
        fi
    done
    mkdir -p "$ROOT"/{usr/bin,usr/sbin,usr/lib,usr/lib64,dev,proc,sys,run,tmp,root,etc,var,mnt}
    mkdir -p "$ROOT"/{etc/vnet-lane,etc/modprobe.d,vnet/bin,vnet/topologies}
    ln -s ../run "$ROOT/var/run"

    install -m 0755 "$BUSYBOX" "$ROOT/bin/busybox"
    install -m 0755 "$LANE_DIR/init" "$ROOT/init"

    # kmod, because busybox's modprobe is not the one to trust with a distro
    # kernel's modules.dep/aliases; one binary, applet chosen by argv[0].
    copy_host_bin /usr/bin/kmod
    for m in modprobe insmod rmmod lsmod modinfo depmod; do
        ln -s ../bin/kmod "$ROOT/usr/sbin/$m"
    done
    # iproute2 and nft: vnet may shell out to them, and they are what you want
    # when debugging in the guest; ping and iperf3 are what e2e against_ping::*
    # measures vnet against.
    for m in /usr/sbin/ip /usr/sbin/tc /usr/sbin/bridge /usr/sbin/nft /usr/bin/ss /usr/bin/ping /usr/bin/iperf3; do
        if [[ -e $m ]]; then copy_host_bin "$m"; else log "note: host has no $m, not in the guest"; fi
    done
    # Data files they read: route tables names, netem delay distributions,
    # protocol/service names for nft.
    for d in /etc/iproute2 /usr/share/iproute2 /usr/lib/x86_64-linux-gnu/tc /usr/lib/tc; do
        [[ -d $d ]] && mkdir -p "$ROOT$(dirname "$d")" && cp -a "$d" "$ROOT$d"
    done
    for d in /etc/protocols /etc/services /etc/ethertypes; do
        [[ -f $d ]] && cp "$d" "$ROOT$d"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$ROOT/etc/passwd"
    printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$ROOT/etc/group"
    printf '127.0.0.1\tlocalhost vnet-lane\n::1\tlocalhost ip6-localhost\n' >"$ROOT/etc/hosts"

    # Kernel modules, then modules.dep/alias for exactly this set.
    resolve_modules
    while read -r m; do
        mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$m")"
        cp "$KMODS/$m" "$ROOT/lib/modules/$KVER/$m"
    done <"$WORK/modules.files"
    for m in modules.builtin modules.builtin.modinfo modules.order; do
        [[ -f $KMODS/$m ]] && cp "$KMODS/$m" "$ROOT/lib/modules/$KVER/"
    done
    depmod -b "$ROOT" "$KVER"
    cp "$WORK/modules.load" "$ROOT/etc/vnet-lane/modules.load"
    # dummy and ifb create dummy0/ifb0.. when loaded; tests want a clean slate.
    printf 'options dummy numdummies=0\noptions ifb numifbs=0\n' >"$ROOT/etc/modprobe.d/vnet-lane.conf"

    # The payload.
    install_payload "$E2E" "$ROOT/vnet/bin/e2e"
    if [[ -n $VNET ]]; then install_payload "$VNET" "$ROOT/vnet/bin/vnet"; fi
    if [[ -n $TOPOLOGIES ]]; then cp -a "$TOPOLOGIES/." "$ROOT/vnet/topologies/"; fi
    printf '%s\n' RUST_BACKTRACE=1 "${GUEST_ENV[@]}" >"$ROOT/vnet/env"
    # The test binary's full argument list. libtest-mimic (clap) rejects a
    # repeated --test-threads, so the default only goes in when the caller
    # gave none.
    for a in "${E2E_ARGS[@]}"; do [[ $a == --test-threads* ]] && break; done
    [[ ${a:-} == --test-threads* ]] || args+=(--test-threads=2)
    args+=("${E2E_ARGS[@]}")
    printf '%s\n' "${args[@]}" >"$ROOT/vnet/args"

    # newc cpio, sorted for reproducibility, everything owned by root.
    (cd "$ROOT" && find . -mindepth 1 -print0 | sort -z |
        cpio --null --create --format=newc --owner=0:0 --quiet) |
        gzip -1 >"$WORK/initrd.gz"
    log "initramfs: $(du -h "$WORK/initrd.gz" | cut -f1) compressed, $(wc -l <"$WORK/modules.files") modules, ${#GUEST_ENV[@]} extra env, e2e args: ${args[*]}"
}

# ------------------------------------------------------------------ boot

# Boots the guest; console goes to the terminal live and to $CONSOLE_LOG.
# Sets QEMU_RC (124 = timed out).
boot() {
    local accel=tcg cpu=max
    if [[ ${VNET_LANE_KVM:-0} == 1 ]]; then
        accel=kvm cpu=host
    fi
    CONSOLE_LOG=$WORK/console.log
    : >"$CONSOLE_LOG"
    log "booting $KVER under qemu ($accel, ${MEM} MiB, $SMP cpus, timeout $TIMEOUT)"
    # -nic none: the guest gets no network device at all; every link the
    # tests make lives inside the guest kernel.
    # -cpu max: TCG then emulates RDRAND etc., so the guest's RNG is ready at
    # once (Rust's std asks getrandom early).
    timeout --kill-after=10 "$TIMEOUT" \
        "${QEMU[@]}" -accel "$accel" -cpu "$cpu" -m "$MEM" -smp "$SMP" \
        -nographic -no-reboot -nic none \
        -kernel "$VMLINUZ" -initrd "$WORK/initrd.gz" \
        -append "console=ttyS0 panic=-1 $CMDLINE" \
        </dev/null >"$CONSOLE_LOG" 2>&1 &
    QEMU_PID=$!
    # Stream the console while it runs (tail exits when qemu does). SeaBIOS
    # resets and clears the terminal (ESC c, ESC [2J): strip escapes and CRs.
    tail -n +1 -f --pid="$QEMU_PID" "$CONSOLE_LOG" | sed -u "$STRIP_TERM" &
    TAIL_PID=$!
    QEMU_RC=0
    wait "$QEMU_PID" || QEMU_RC=$?
    QEMU_PID=
    wait "$TAIL_PID" || true
    TAIL_PID=
}

# ----------------------------------------------------------------- verdict

# Reads the console log; prints the summary line; returns the exit status.
verdict() {
    local clean=$WORK/console.clean summary passed=0 failed=0 skipped=0 status rc=0
    sed "$STRIP_TERM" "$CONSOLE_LOG" >"$clean"

    summary=$(grep -Eo 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed; [0-9]+ ignored' "$clean" | tail -n1 || true)
    status=$(sed -n "s/.*$DONE_MARKER exit=\([0-9]*\).*/\1/p" "$clean" | tail -n1)

    if [[ -n $summary ]]; then
        read -r passed failed skipped < <(sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed; ([0-9]+) ignored/\1 \2 \3/' <<<"$summary")
    else
        # No summary: count what did finish, and count the lane as a failure.
        passed=$(grep -Ec '^test .* \.\.\. ok$' "$clean" || true)
        skipped=$(grep -Ec '^test .* \.\.\. ignored' "$clean" || true)
        failed=$(grep -Ec '^test .* \.\.\. FAILED$' "$clean" || true)
        ((failed += 1))
    fi

    echo
    if ((QEMU_RC == 124 || QEMU_RC == 137)); then
        log "FAILED: the guest did not finish within $TIMEOUT (qemu killed)"
        rc=1
    elif grep -q "$SETUP_MARKER" "$clean"; then
        log "FAILED: guest setup: $(sed -n "/$SETUP_MARKER: /{s/.*$SETUP_MARKER: //;p;q}" "$clean")"
        rc=1
    elif grep -q 'BUG: soft lockup' "$clean"; then
        log "FAILED: the guest kernel locked up (a soft lockup, its stack traces above); last test to finish: $(grep -E '^test .* \.\.\. ' "$clean" | tail -n1)"
        rc=1
    elif [[ -z $status ]]; then
        log "FAILED: the guest stopped without the $DONE_MARKER line (crash or panic? qemu exit $QEMU_RC)"
        rc=1
    elif [[ -z $summary ]]; then
        log "FAILED: the test binary printed no 'test result:' summary (exit status $status)"
        rc=1
    elif ((failed > 0)); then
        log "FAILED: $failed test(s) failed"
        rc=1
    elif ((status != 0)); then
        log "FAILED: the test binary exited with status $status despite 0 failed"
        rc=1
    fi
    if ((KEEP)); then log "console log: $CONSOLE_LOG"; fi
    echo "kernel-lane: $passed passed, $failed failed, $skipped skipped"
    return "$rc"
}

# ------------------------------------------------------------------- main

# The cache: qemu, the kernel and busybox, downloaded and unpacked where missing.
prepare_cache() {
    mkdir -p "$CACHE"
    # Temp dirs of runs that were killed mid-download or mid-extraction.
    find "$CACHE" -mindepth 2 -maxdepth 2 -name '.*.??????' -type d -mmin +120 -exec rm -rf {} +
    ensure_host_tools
    ensure_apt_lists
    prepare_qemu
    prepare_kernel
    prepare_busybox
}

prepare_only() {
    prepare_cache
    prepare_vm_assets
    print_vm_assets
}

main() {
    local t0 t_prep
    if ((PREPARE_ONLY)); then
        prepare_only
        return
    fi
    t0=$(date +%s)
    if [[ -z $VNET || -z $E2E ]] && ((!SELFTEST)); then build_with_cargo; fi
    [[ -f $E2E ]] || die "e2e executable not found: $E2E"
    [[ -z $VNET || -f $VNET ]] || die "vnet binary not found: $VNET"
    if [[ -z $TOPOLOGIES && -d $REPO_ROOT/topologies ]]; then TOPOLOGIES=$REPO_ROOT/topologies; fi
    [[ -z $TOPOLOGIES || -d $TOPOLOGIES ]] || die "topologies dir not found: $TOPOLOGIES"

    prepare_cache
    build_initramfs
    t_prep=$(date +%s)
    boot
    log "timings: prepare $((t_prep - t0))s, guest $(($(date +%s) - t_prep))s, total $(($(date +%s) - t0))s"
    verdict
}

main
