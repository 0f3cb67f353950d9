# shellcheck shell=bash
# Which qemu-system-x86 to install next to the qemu packages already on the machine. Sourced by
# scripts/test-cgroup2-vm; tested by scripts/test-qemu-apt.
#
# The binary packages of one qemu build Break each other across versions: with qemu-utils 10 from
# bookworm-backports installed, `apt-get install qemu-system-x86` picks bookworm's 7.2 and fails
# with "qemu-utils : Breaks: qemu-system-common (< 1:8.0…)". So qemu-system-x86 is installed at
# exactly the installed qemu-utils' version, from the suite of a configured source that has it
# (`-t SUITE` so its qemu-system-common and qemu-system-data come along from there too).

# Prints the `apt-get install` arguments, one per line. Without a matching source it prints why on
# stderr and returns 1 (the caller cannot run the VM).
qemu_apt_install_args() {
    local have suite
    have=$(dpkg-query -W -f='${db:Status-Status} ${Version}\n' qemu-utils 2>/dev/null \
        | awk '$1 == "installed" { print $2 }')
    if [ -z "$have" ]; then
        echo qemu-system-x86
        return 0
    fi
    # `apt-cache madison` rows: "pkg | version | URI SUITE/COMPONENT ARCH Packages".
    suite=$(apt-cache madison qemu-system-x86 2>/dev/null | awk -F'|' -v want="$have" '
        { v = $2; gsub(/ /, "", v) }
        v == want { split($3, f, " "); split(f[2], s, "/"); print s[1]; exit }')
    if [ -z "$suite" ]; then
        echo "qemu-utils $have is installed but no configured apt source has qemu-system-x86 $have" \
            "(the versions would Break each other)." >&2
        case "$have" in
            *~bpo*) echo "It is a backport: enable the backports suite it came from (e.g." \
                "$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-bookworm}")-backports)," >&2 ;;
        esac
        echo "or install qemu-system-x86 at a version matching qemu-utils yourself." >&2
        return 1
    fi
    printf '%s\n' -t "$suite" "qemu-system-x86=$have"
}
