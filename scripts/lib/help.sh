# Sourced by every script before it does anything: -h/--help prints the script's header
# comment (its usage) and exits 0. Usage in a script: source "$(dirname "$0")/lib/help.sh" "$@"
for arg in "$@"; do
    case $arg in
        -h | --help)
            sed -n '2,/^[^#]/{/^#/!q;s/^# \{0,1\}//;p}' "$0"
            exit 0
            ;;
        --) break ;;
    esac
done
