# Shared by demo.sh, test.sh and the benchmarks in scripts/: install moto (the AWS emulator) into a
# virtualenv outside the clone, start or stop it on a free loopback port, build, and set test credentials.
# Source it; do not run it.

HIKKONUKI_CACHE="${HIKKONUKI_CACHE:-$HOME/.cache/hikkonuki}"
HIKKONUKI_VENV="${HIKKONUKI_VENV:-$HIKKONUKI_CACHE/venv}"
# Pinned: the emulator's gaps and quirks are documented for this version.
MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
export HIKKONUKI_VENV
export HIKKONUKI_MOTO_SERVER="$HIKKONUKI_VENV/bin/moto_server"
# Build outside the clone, so repeated runs reuse the (heavy) AWS SDK build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HIKKONUKI_CACHE/target}"

ensure_moto() {
    if [ -x "$HIKKONUKI_MOTO_SERVER" ] \
        && "$HIKKONUKI_VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
        return 0
    fi
    echo "installing moto[server]==$MOTO_VERSION into $HIKKONUKI_VENV" >&2
    mkdir -p "$(dirname "$HIKKONUKI_VENV")"
    python3 -m venv "$HIKKONUKI_VENV"
    "$HIKKONUKI_VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
}

# Builds the binaries and examples in PROFILE (debug unless PROFILE=release); sets `profile`.
build_profile() {
    profile="${PROFILE:-debug}"
    if [ "$profile" = release ]; then
        cargo build --quiet --release --bins --examples
    else
        cargo build --quiet --bins --examples
    fi
}

# Test credentials for the emulator, with AWS files of their own in DIR (an empty aws-config): never the
# operator's own credentials, profile or configuration.
use_test_credentials() {
    : >"$1/aws-config"
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    export AWS_CONFIG_FILE="$1/aws-config" AWS_SHARED_CREDENTIALS_FILE="$1/aws-config" AWS_EC2_METADATA_DISABLED=true
    unset AWS_PROFILE AWS_SESSION_TOKEN
    # The emulator is on loopback: hikkonuki sends its calls through the proxy the environment names, as
    # the AWS CLI does, and a developer's own proxy would not reach it.
    unset HTTP_PROXY http_proxy HTTPS_PROXY https_proxy ALL_PROXY all_proxy
}

free_port() {
    "$HIKKONUKI_VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts moto in the background; sets EMULATOR_PID and AWS_ENDPOINT_URL. Stop it with stop_emulator.
start_emulator() {
    local port log
    port="$(free_port)"
    log="${1:-/dev/null}"
    # launch.py adds hikkonuki's model of the AWS operations moto lacks (tests/emulator/aws_model/).
    MOTO_IAM_LOAD_MANAGED_POLICIES=true "$HIKKONUKI_VENV/bin/python" \
        "$(dirname "${BASH_SOURCE[0]}")/../tests/emulator/launch.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    EMULATOR_PID=$!
    export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
    "$HIKKONUKI_VENV/bin/python" - "$port" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/moto-api/"
for _ in range(300):
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("the emulator did not start")
PY
}

stop_emulator() {
    if [ -n "${EMULATOR_PID:-}" ]; then
        kill "$EMULATOR_PID" 2>/dev/null || true
        wait "$EMULATOR_PID" 2>/dev/null || true
        EMULATOR_PID=
    fi
}
