#!/usr/bin/env bash
# Installs, as root on Debian 12, what building, demonstrating and testing
# mod_audiostream needs; with --bench, also what `make bench` compares it
# with (Icecast 2, with ffmpeg, which the tests install anyway, as its source
# client; LAME's command; libmpg123 for the latency probe). Safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# `apt-get source lighttpd` needs deb-src entries
. "$(dirname "$0")/deb-src.sh"
have_deb_src || add_deb_src

packages=(
    # the lighttpd the module loads into, and what configuring its source needs
    lighttpd dpkg-dev libpcre2-dev zlib1g-dev
    # building the module
    build-essential autoconf automake libtool pkgconf libasound2-dev libmp3lame-dev
    # tests: clients, decoders, leak checking
    curl mpg123 alsa-utils valgrind cppcheck
    # static analysis: test/tidy.sh's clang-tidy (Debian 12: clang-tidy-14,
    # run as clang-tidy); it parses bench/latency.c too, hence mpg123.h
    clang-tidy libmpg123-dev
    # tests: the status JSON is checked with a real JSON parser; a real
    # player that prints the ICY title
    python3 mpv
    # tests: real players fetch, decode and play the stream (test/players.sh):
    # ffmpeg/ffprobe, VLC (cvlc: the player and its base plugins: http,
    # mpg123, transcode, wav), headless Chromium for <audio> and the web
    # player page (player/), and a font for its screenshot
    ffmpeg vlc-bin vlc-plugin-base chromium fonts-dejavu-core
    # fuzzing: clang's libFuzzer
    clang libclang-rt-14-dev
)
[ "${1:-}" = --bench ] && packages+=(icecast2 lame libmpg123-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ "${AUDIOSTREAM_APT_UPDATE:-0}" = 1 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# apt-get source reads the deb-src lists, which an earlier update may lack
apt-cache showsrc lighttpd >/dev/null 2>&1 || apt-get update -qq
