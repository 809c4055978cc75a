#!/usr/bin/env bash
# The man page and the shell completions armi generates: tests/completions.sh ARMI, where ARMI
# prints them with `--generate man|complete-bash|complete-zsh|complete-fish`.
#
# Each generated file is installed into a private directory laid out as a system's share/, and
# used from there the way each program finds it: mandoc lints the page and man renders it; bash
# (with bash-completion's on-demand loader), zsh (compinit, from fpath) and fish (its vendor
# completions directory) complete real command lines with it. bash and fish run
# non-interactively; zsh completes only in a terminal, so it runs in a private tmux server and
# its list-choices output is read from the pane. Every wait is bounded.
#
# The commands, flags and environment variables expected are read from `ARMI --help`, so the
# page and the completions must cover what the help lists.
set -euo pipefail
armi=$(realpath "$1")
fail() { echo "completions: FAIL: $*" >&2; exit 1; }
say() { echo "completions: $*"; }
export LC_ALL=C
for tool in mandoc man col lexgrog bash zsh fish tmux timeout; do
    command -v "$tool" >/dev/null || fail "$tool is missing (make test installs it as root)"
done
bash_completion=/usr/share/bash-completion/bash_completion
[ -f "$bash_completion" ] || fail "$bash_completion is missing (package bash-completion)"

work=$(mktemp -d)
tmux_socket=$work/tmux.sock
cleanup() {
    [ -S "$tmux_socket" ] && tmux -S "$tmux_socket" kill-server 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
share=$work/share
man_page=$share/man/man1/armi.1
bash_file=$share/bash-completion/completions/armi
zsh_file=$share/zsh/site-functions/_armi
fish_file=$share/fish/vendor_completions.d/armi.fish
mkdir -p "$work/bin" "$work/home" "$(dirname "$man_page")" "$(dirname "$bash_file")" \
    "$(dirname "$zsh_file")" "$(dirname "$fish_file")"
# The shells complete `armi` as a command on PATH (fish loads completions only for those).
ln -s "$armi" "$work/bin/armi"

# Each file twice: the output must not change from one run to the next.
generate() {
    local what=$1 out=$2
    timeout 10 "$armi" --generate "$what" > "$out" 2> "$work/err" \
        || fail "'armi --generate $what' failed: $(head -n 1 "$work/err")"
    [ -s "$out" ] || fail "'armi --generate $what' printed nothing"
    timeout 10 "$armi" --generate "$what" 2>/dev/null | cmp -s - "$out" \
        || fail "'armi --generate $what' printed something else the second time"
}
generate man "$man_page"
generate complete-bash "$bash_file"
generate complete-zsh "$zsh_file"
generate complete-fish "$fish_file"

# What armi --help lists: the commands (first word of each row under "Commands:"), the long
# flags (under "Flags"), and the environment variables it names. A row starts two columns in
# (a flag without a short spelling six); deeper lines continue the row above.
help=$("$armi" --help)
section() { echo "$help" | awk -v head="$1" 'index($0, head) == 1 { on = 1; next } on && /^$/ { exit } on'; }
commands=$(section "Commands:" | awk '/^  [a-z]/ { print $1 }')
flags=$(section "Flags" | grep -oE '^  (-[a-zA-Z], |    )--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*')
variables=$(echo "$help" | grep -oE '\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b' | sort -u)
count() { echo "$1" | wc -w; }
# One line: words separated by spaces.
words() { echo "$1" | tr -s ' \n' '  ' | sed 's/ $//'; }
[ "$(count "$commands")" -ge 5 ] || fail "could not read the commands from 'armi --help'"
[ "$(count "$flags")" -ge 5 ] || fail "could not read the flags from 'armi --help'"
[ -n "$variables" ] || fail "could not read the environment variables from 'armi --help'"

# ---- The man page ----
# Every mandoc message counts, from the style level up (-W style): for man(7) the style
# messages are trailing whitespace, a lower-case title, an unusual date format, redundant
# .fi/.nf, bad comment syntax and unterminated quotes, all of which a generator can avoid.
# Warnings and errors (broken line scope, empty paragraphs, unknown macros, a missing date)
# are misformatting. (The base level is OpenBSD's conventions for its own mdoc pages.)
if ! lint=$(mandoc -T lint -W style "$man_page" 2>&1) || [ -n "$lint" ]; then
    fail "mandoc -T lint -W style reports:
$lint"
fi
rendered=$(MANWIDTH=80 man -l "$man_page" 2>"$work/man.err" | col -bx) || fail "man -l could not render the page: $(cat "$work/man.err")"
[ ! -s "$work/man.err" ] || fail "man -l printed warnings: $(cat "$work/man.err")"
# The text of one section: from its heading (a line of its own) to the next heading.
man_section() { echo "$rendered" | awk -v head="$1" '$0 == head { on = 1; next } on && /^[A-Z]/ { exit } on'; }
for heading in NAME SYNOPSIS COMMANDS OPTIONS "EXIT STATUS" ENVIRONMENT EXAMPLES; do
    [ -n "$(man_section "$heading" | tr -d ' \n')" ] || fail "the rendered man page has no $heading section (or it is empty)"
done
grep -q 'armi - ' <<< "$(man_section NAME)" || fail "the NAME section is not 'armi - description'"
grep -q '"armi - ' <<< "$(lexgrog "$man_page")" || fail "man-db cannot read a whatis entry from the page: $(lexgrog "$man_page")"
grep -qw armi <<< "$(man_section SYNOPSIS)" || fail "the SYNOPSIS does not show armi"
for command in $commands; do
    grep -qw -- "$command" <<< "$(man_section COMMANDS)" || fail "the COMMANDS section does not list '$command' (armi --help does)"
done
for flag in $flags; do
    grep -q -- "$flag\b" <<< "$(man_section OPTIONS)" || fail "the OPTIONS section does not list $flag (armi --help does)"
done
for variable in $variables; do
    grep -qw -- "$variable" <<< "$(man_section ENVIRONMENT)" || fail "the ENVIRONMENT section does not name $variable (armi --help does)"
done
for code in 0 1 2 3 4 5 6 7; do
    grep -qE "^ +$code\b" <<< "$(man_section "EXIT STATUS")" || fail "the EXIT STATUS section does not describe exit code $code"
done
grep -qE '^ +(\$ )?armi ' <<< "$(man_section EXAMPLES)" || fail "the EXAMPLES section shows no armi command line"
# The date must not be the day the page was generated (a page must not depend on when it is
# made): checked when the sources' date is another day.
today=$(date -u +%Y-%m-%d)
if [ -n "${SOURCE_DATE_EPOCH:-}" ] && [ "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)" != "$today" ]; then
    th=$(grep -m1 '^\.TH' "$man_page")
    for form in "$today" "$(date -u '+%B %-d, %Y')" "$(date -u '+%-d %B %Y')"; do
        case $th in *"$form"*) fail "the page's date is today ($th), not the sources' date" ;; esac
    done
fi
say "ok: man page: mandoc -T lint -W style clean, man -l renders NAME, SYNOPSIS, COMMANDS ($(count "$commands")), OPTIONS ($(count "$flags") flags), EXIT STATUS (0-7), ENVIRONMENT ($(count "$variables") variables), EXAMPLES"

# ---- Completions ----
# Each shell runs with nothing of this machine's user configuration: its own HOME and XDG dirs.
shell_env=(env -i HOME="$work/home" PATH="$work/bin:/usr/bin:/bin" TERM=xterm-256color
    XDG_CONFIG_HOME="$work/home/config" XDG_DATA_HOME="$work/home/data" XDG_DATA_DIRS="$share")

# bash: bash-completion loads the file on demand from XDG_DATA_DIRS, as for any command; the
# function `complete -p armi` names is then called as readline would call it.
bash_complete() {
    # shellcheck disable=SC2016 # the script is bash's, with its own variables
    "${shell_env[@]}" BASH_COMPLETION_USER_DIR="$work/home/none" timeout 20 bash --norc --noprofile -c '
        file=$1 line=$2
        . /usr/share/bash-completion/bash_completion
        if declare -F _comp_load >/dev/null; then _comp_load armi; else __load_completion armi; fi \
            || { echo "bash-completion found no completion for armi in $XDG_DATA_DIRS" >&2; exit 3; }
        spec=$(complete -p armi 2>/dev/null) || { echo "the bash completion file registers nothing for armi" >&2; exit 3; }
        [[ $spec =~ -F\ ([^ ]+) ]] || { echo "the bash completion is not a function (complete -F FUNCTION armi): $spec" >&2; exit 3; }
        func=${BASH_REMATCH[1]}
        shopt -s extdebug
        [[ $(declare -F "$func") == *" $file" ]] || { echo "$func does not come from $file" >&2; exit 3; }
        shopt -u extdebug
        COMP_LINE=$line COMP_POINT=${#line} COMP_TYPE=9 COMP_KEY=9
        read -ra COMP_WORDS <<< "$line"
        [[ $line == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        "$func" armi "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf "%s\n" "${COMPREPLY[@]}"
    ' bash "$bash_file" "$1"
}

# fish: autoloads armi.fish from the vendor directory under XDG_DATA_DIRS; complete -C prints
# the candidates (a tab and the description after each).
fish_complete() {
    # shellcheck disable=SC2016 # $argv is fish's
    "${shell_env[@]}" timeout 20 fish -c 'complete -C $argv[1]' "$1" | cut -f1
}

# zsh: an interactive zsh in a private tmux server, with compinit loading _armi from fpath;
# each line is typed, then ^D (list-choices) lists the candidates under it. verbose=no lists
# names only, without descriptions.
zsh_start() {
    mkdir -p "$work/zdot"
    cat > "$work/zdot/.zshrc" <<EOF
fpath=("$(dirname "$zsh_file")" \$fpath)
autoload -Uz compinit && compinit -u -D
zstyle ':completion:*' verbose no
PROMPT='ready> '
EOF
    tmux -S "$tmux_socket" new-session -d -x 250 -y 50 \
        "$(printf '%q ' "${shell_env[@]}" ZDOTDIR="$work/zdot" zsh -d -i)"
    zsh_wait_prompt || fail "zsh did not show its prompt within 10 s:
$(tmux -S "$tmux_socket" capture-pane -p)"
}
zsh_pane() { tmux -S "$tmux_socket" capture-pane -p | sed 's/ *$//'; }
zsh_wait_prompt() {
    for _ in $(seq 100); do
        [ "$(zsh_pane | grep -v '^$')" = "ready>" ] && return 0
        sleep 0.1
    done
    return 1
}
zsh_complete() {
    local line=$1 typed pane before=
    tmux -S "$tmux_socket" send-keys C-u C-l
    tmux -S "$tmux_socket" clear-history
    zsh_wait_prompt || fail "zsh did not come back to an empty prompt:
$(zsh_pane)"
    tmux -S "$tmux_socket" send-keys -l "$line"
    tmux -S "$tmux_socket" send-keys C-d
    typed="ready> ${line% }"
    # The listing is complete when the pane holds more than the typed line and stops changing.
    for _ in $(seq 50); do
        sleep 0.1
        pane=$(zsh_pane)
        if [ "$pane" = "$before" ] && [ "$(echo "$pane" | grep -vc '^$')" -gt 1 ]; then
            echo "$pane" | awk -v typed="$typed" 'done { print; next } $0 == typed { done = 1 }' | tr -s ' ' '\n' | grep -v '^$'
            return 0
        fi
        before=$pane
    done
    echo "zsh listed nothing for '$line' within 5 s; the pane:" >&2
    zsh_pane >&2
    return 1
}

# expect SHELL LINE includes|exactly WORD...: what SHELL offers for LINE (the cursor at its
# end). "includes": at least the WORDs, and every candidate starts with the word being
# completed; "exactly": the WORDs and nothing else.
expect() {
    local shell=$1 line=$2 mode=$3 got missing extra current
    shift 3
    got=$("${shell}_complete" "$line" 2>"$work/complete.err") \
        || fail "$shell could not complete '$line': $(cat "$work/complete.err")"
    got=$(echo "$got" | grep -v '^$' | sort -u)
    missing=$(comm -23 <(printf '%s\n' "$@" | sort -u) <(echo "$got"))
    [ -z "$missing" ] || fail "$shell completes '$line' to: $(words "$got"); missing: $(words "$missing")"
    current=${line##* }
    if [ "$mode" = exactly ]; then
        extra=$(comm -13 <(printf '%s\n' "$@" | sort -u) <(echo "$got"))
    else
        extra=$(echo "$got" | grep -v -- "^$current" || true)
    fi
    [ -z "$extra" ] || fail "$shell completes '$line' to: $(words "$got"); not expected: $(words "$extra")"
}

# The same command lines in every shell.
check_shell() {
    local shell=$1
    expect "$shell" "armi gr" includes group groups
    expect "$shell" "armi group --re" includes --resource-group
    expect "$shell" "armi token -o " exactly raw json compact tsv env header none
    expect "$shell" "armi group -o " exactly json compact tsv none
    # shellcheck disable=SC2086
    expect "$shell" "armi " includes $commands
    # shellcheck disable=SC2086
    expect "$shell" "armi --" includes $flags
    say "ok: $shell completes 'armi gr', 'armi group --re', 'armi token -o ', 'armi group -o ', every command and every flag of armi --help"
}

grep -qE '^#compdef armi( |$)' <<< "$(head -n 1 "$zsh_file")" \
    || fail "the zsh completion does not begin with '#compdef armi' (compinit needs it): $(head -n 1 "$zsh_file")"
check_shell bash
check_shell fish
zsh_start
check_shell zsh
