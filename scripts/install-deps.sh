#!/usr/bin/env bash
# Installs, as root on Debian 12, what building, demonstrating and testing
# mod_audiostream needs; with --bench, also what `make bench` compares it
# with (Icecast 2, which the tests install anyway, with ffmpeg as its source
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
    # tests of HTTPS and scale-out (test/scaleout.sh): lighttpd's TLS module
    # and openssl for a self-signed certificate; nginx and another lighttpd
    # (mod_proxy) as reverse proxies; Icecast 2 as a relay. Each runs on a
    # loopback port of the test's own; their packaged services are not used.
    # (The tests also build bench/latency.c, with libmpg123-dev above.)
    lighttpd-mod-openssl openssl nginx icecast2
    # tests of HTTP/2 clients that misbehave (test/hardening.sh): hyper-h2
    python3-h2
    # tests of players across restarts and resumes (test/resume.sh): a ripper
    # that reads ICY metadata without un-chunking, a player that retries a 503
    # at once
    streamripper mplayer
    # the client matrix (test/clients.sh): GStreamer's gst-launch with
    # souphttpsrc and its MP3 decoder, Liquidsoap, MPD and its client mpc
    gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good liquidsoap mpd mpc
)
[ "${1:-}" = --bench ] && packages+=(lame libmpg123-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || [ "${AUDIOSTREAM_APT_UPDATE:-0}" = 1 ]; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # installing nginx or icecast2 may start their services (port 80, 8000)
    # where systemd runs; the tests start their own: stop those just installed
    if [ -d /run/systemd/system ]; then
        for p in "${missing[@]}"; do
            case $p in
                nginx | icecast2) systemctl disable --now "$p" >/dev/null 2>&1 || true ;;
                mpd) systemctl disable --now mpd.socket mpd >/dev/null 2>&1 || true ;;
            esac
        done
    fi
fi
# apt-get source reads the deb-src lists, which an earlier update may lack
apt-cache showsrc lighttpd >/dev/null 2>&1 || apt-get update -qq
