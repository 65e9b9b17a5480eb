# Shared by the checks that drive a pinned npm package with node (the
# dashboard and report checks in tests/browser, the Alpaca SDK check in
# tests/sdk). Source it after setting
#   CHECK  what the check is, for the skip message ("the dashboard browser check")
#   BUILD  the build directory (npm's cache goes in BUILD/npm-cache)
# A missing tool or an unreachable registry is a loud skip: exit 77, which
# ctest reports as skipped, never as passed.

skip() {
    echo "########################################################################"
    echo "SKIPPED: $CHECK did not run: $*"
    echo "########################################################################"
    exit 77
}

# need_node [MIN_MAJOR]: node and npm on PATH, node at least MIN_MAJOR.
need_node() {
    command -v node >/dev/null 2>&1 || skip "node is not installed (scripts/install-deps.sh installs nodejs)"
    command -v npm >/dev/null 2>&1 || skip "npm is not installed (scripts/install-deps.sh installs npm)"
    if [ -n "${1:-}" ]; then
        major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
        [ "$major" -ge "$1" ] || skip "node $major is too old (the check needs $1 or later)"
    fi
}

need_chromium() {
    [ -x /usr/bin/chromium ] || skip "Debian's chromium is not installed (scripts/install-deps.sh installs it)"
}

# npm_pinned WORK PACKAGE FILE...: copies FILE... (a package.json among them)
# into WORK and installs PACKAGE there at the version that package.json pins,
# unless that version is already installed. Sets PINNED to the version.
npm_pinned() {
    work=$1
    pkg=$2
    shift 2
    mkdir -p "$work" || exit 1
    cp "$@" "$work/" || exit 1
    PINNED=$(node -p 'require(process.argv[1]).dependencies[process.argv[2]]' "$work/package.json" "$pkg")
    have=$(node -p 'try { require(process.argv[1]).version } catch (e) { "" }' \
        "$work/node_modules/$pkg/package.json" 2>/dev/null)
    if [ "$have" != "$PINNED" ]; then
        if ! (cd "$work" && npm install --no-audit --no-fund --no-package-lock \
                --cache "$BUILD/npm-cache" --fetch-timeout=30000 --fetch-retries=1 >npm-install.log 2>&1); then
            tail -5 "$work/npm-install.log"
            skip "npm could not install $pkg@$PINNED (registry unreachable?); see $work/npm-install.log"
        fi
    fi
}

# shipped_config DIR TMP: the test copy of the shipped configuration in DIR,
# data read from the source tree, state and logs written inside TMP.
shipped_config() {
    cp -r "$SRC/tests/configs/shipped" "$1" || exit 1
    sed -i -e "s#\.\./data/#$SRC/data/#g" -e "s#\.\./state/#$2/#g" -e "s#\.\./logs/#$2/#g" \
        "$1/settings.yaml" || exit 1
}
