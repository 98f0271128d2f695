# shellcheck shell=bash
# The results of a test run, one way for every script of the suite:
# "ok - NAME" / "not ok - NAME" (what went wrong indented under it), counts
# kept in PASSED and FAILED, and the last line "N passed, N failed" that
# test/run-all.sh and CI read.
PASSED=0
FAILED=0
FAILED_NAMES=()

pass() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
# fail NAME [LINE...]: the LINEs (what went wrong) are printed under it
fail() {
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1")
    echo "not ok - $1"; shift
    local line; for line in "$@"; do echo "    $line"; done
}
# result NAME STATUS: by a command's exit status
result() { if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1"; fi; }
# verdict NAME WHY_FILE: passes when the checks wrote nothing to WHY_FILE,
# else fails with what they wrote
verdict() {
    local why_lines=()
    if [ -s "$2" ]; then mapfile -t why_lines < "$2"; fail "$1" "${why_lines[@]}"
    else pass "$1"; fi
}
# add_counts LOG NAME: adds a sub-run's last "N passed, N failed" line
# (LOG holds its output); a run that printed none failed, as NAME
add_counts() {
    local line f; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -1)
    [ -n "$line" ] || { fail "$2 ran to its end"; return 1; }
    PASSED=$((PASSED + ${line%% passed*}))
    f=${line#*, }; FAILED=$((FAILED + ${f%% failed*}))
}
counts_line() { echo "$PASSED passed, $FAILED failed"; }
# finish: the counts line, and exits 0 when nothing failed
finish() { counts_line; [ "$FAILED" -eq 0 ]; exit; }
