# Shared by scripts/get-fedora-coreos and scripts/get-flatcar: download into a staging directory,
# verify every file (checksum and OpenPGP signature), then rename the staging directory to
# images/<os>/<version> in one step. Nothing unverified ever appears where bootcfgd serves from.
#
# The caller sets: tool (its name, for messages), and calls os_images_init OS VERSION.

die() { echo "$tool: $*" >&2; exit 1; }
usage_error() { echo "$tool: $* (see the header of scripts/$tool)" >&2; exit 2; }

for cmd in curl gpg gpgv sha256sum sha512sum; do
    command -v "$cmd" >/dev/null || die "needs '$cmd' (Debian: apt-get install curl gnupg coreutils)"
done

# fetch URL FILE: the body of URL into FILE, or exit naming the URL and why.
fetch() {
    local err
    if ! err=$(curl -fsSL --retry 3 --retry-delay 1 --connect-timeout 20 -o "$2" "$1" 2>&1); then
        die "cannot download $1: ${err##*curl: }"
    fi
}

# fetch_text URL: the body of URL on stdout.
fetch_text() {
    local f="$stage_root/.text"
    fetch "$1" "$f"
    cat "$f"
    rm -f "$f"
}

# os_images_init OS VERSION: the staging directory under DEST/OS; exits 0 early when the version
# is already there (unless --force).
os_images_init() {
    os_dir="$dest/$1"
    target="$os_dir/$2"
    if [[ -e $target && -z $force ]]; then
        echo "$tool: $target already exists (--force downloads and verifies it again)"
        exit 0
    fi
    mkdir -p "$os_dir" || die "cannot create $os_dir"
    stage_root=$(mktemp -d "$os_dir/.$2.partial.XXXXXX") || die "cannot create a staging directory in $os_dir"
    stage="$stage_root/$2"
    mkdir "$stage"
    trap 'rm -rf "$stage_root"' EXIT
}

# load_keyring KEY: KEY (a file or an https:// URL of an armored or binary OpenPGP key) becomes
# the only key signatures are checked against.
load_keyring() {
    local key=$1 src="$stage_root/key"
    case $key in
        https://* | http://*) fetch "$key" "$src" ;;
        *) [[ -r $key ]] || die "--key '$key' is not a readable file"; cp "$key" "$src" ;;
    esac
    keyring="$stage_root/trusted.gpg"
    GNUPGHOME="$stage_root/gnupg" && mkdir -m 700 "$GNUPGHOME" && export GNUPGHOME
    gpg --batch --quiet --no-default-keyring --keyring "$keyring" --import "$src" 2>/dev/null ||
        die "key $key holds no OpenPGP public key"
    echo "$tool: trusting $(gpg --batch --no-default-keyring --keyring "$keyring" --with-colons --list-keys 2>/dev/null |
        awk -F: '$1 == "uid" {print $10; exit}') from $key" >&2
}

# verify_file NAME ALGO DIGEST SIG-URL: NAME (in the staging dir) has DIGEST and a good signature
# from the trusted key, or everything is removed and the script exits naming the file.
verify_file() {
    local name=$1 algo=$2 want=$3 sig_url=$4 got
    got=$("${algo}sum" "$stage/$name" | cut -d' ' -f1)
    [[ -n $want ]] || die "no $algo checksum published for $name: refusing it"
    [[ $got == "$want" ]] || die "$name: $algo mismatch (published $want, downloaded $got): refusing it"
    fetch "$sig_url" "$stage_root/$name.sig"
    gpgv --keyring "$keyring" "$stage_root/$name.sig" "$stage/$name" >"$stage_root/gpgv.log" 2>&1 ||
        die "$name: bad or untrusted signature ($(grep -m1 -E 'BAD|No public key|Can.t check' "$stage_root/gpgv.log" | sed 's/^gpgv: //')): refusing it"
    echo "$tool: $name: $algo and signature ok" >&2
}

# download NAME URL: NAME into the staging dir, with a progress bar on a terminal.
download() {
    echo "$tool: downloading $2" >&2
    if [[ -t 2 ]]; then
        curl -fL --retry 3 --retry-delay 1 --connect-timeout 20 --progress-bar -o "$stage/$1" "$2" ||
            die "cannot download $2"
    else
        fetch "$2" "$stage/$1"
    fi
}

# publish: the verified version appears under its final name in one rename.
publish() {
    [[ ! -e $target ]] || mv "$target" "$stage_root/replaced" || die "cannot replace $target"
    mv "$stage" "$target" || die "cannot move the verified files to $target"
    echo "$tool: $target ready:"
    (cd "$target" && ls -l | sed 1d | awk '{print "  " $NF " (" $5 " bytes)"}')
}
