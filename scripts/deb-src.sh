# Sourced by the scripts that run `apt-get source`: deb-src entries for the
# archive and suites of the machine's own binary entries, made by copying
# those (so no archive's address is written here).
# deb-src entries for this machine's own suite (others, such as trixie's
# added by scripts/lighttpd-tree.sh, do not count)
have_deb_src() {
    local suite f
    suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
    grep -qsE "^deb-src[[:space:]].*[[:space:]]$suite[[:space:]]" /etc/apt/sources.list \
        /etc/apt/sources.list.d/*.list && return 0
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && grep -q '^Types:.*deb-src' "$f" \
            && grep -qE "^Suites:.*[[:space:]]$suite([[:space:]]|$)" "$f" && return 0
    done
    return 1
}
add_deb_src() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        grep -q '^Types: deb$' "$f" || continue
        sed 's/^Types: deb$/Types: deb-src/' "$f" > "${f%.sources}-src.sources"
    done
    if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list; then
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/audiostream-deb-src.list
    fi
}
