#!/usr/bin/env bash
# Prepare a Debian 12 machine for the local cloud and the tests: system packages, the Cloud SDK
# emulators check, and .venv with requirements-dev.txt. Idempotent: quick when nothing changed.
#   bash infra/local/setup.sh            (as root, or with sudo available)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${ROOT}/.venv"
STAMP="${VENV}/.requirements.sha256"
SDK_PLATFORM="/usr/lib/google-cloud-sdk/platform"
# chromium + chromium-driver: the studio's real-browser tests (Selenium drives /usr/bin/chromium).
APT_PACKAGES=(ffmpeg espeak-ng sox fonts-dejavu-core shellcheck fontconfig chromium chromium-driver)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

is_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing_apt_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    is_installed "$pkg" || printf '%s\n' "$pkg"
  done
  command -v java >/dev/null 2>&1 || printf '%s\n' openjdk-17-jre-headless
  # Debian's own python3 needs python3-venv for `python3 -m venv` to bootstrap pip.
  python3 -c 'import ensurepip' >/dev/null 2>&1 || printf '%s\n' python3-venv
}

install_system_packages() {
  local missing
  mapfile -t missing < <(missing_apt_packages)
  if [ "${#missing[@]}" -eq 0 ]; then
    say "system packages present"
    return
  fi
  say "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

check_cloud_sdk_emulators() {
  local firestore="${SDK_PLATFORM}/cloud-firestore-emulator/cloud_firestore_emulator"
  local pubsub="${SDK_PLATFORM}/pubsub-emulator/bin/cloud-pubsub-emulator"
  if [ ! -x "$firestore" ] || [ ! -x "$pubsub" ]; then
    die "google-cloud-cli emulators not found (${firestore}, ${pubsub}).
They ship with the machine image and cannot be installed from the package registries here.
Use a machine image with google-cloud-cli (Firestore and Pub/Sub emulator components)."
  fi
  say "Firestore and Pub/Sub emulators present"
}

# The deployed runtime is Cloud Functions python312: build the venv with Python 3.12 when the machine has it
# (on PATH, or installed by pyenv without being its global version), so tests run on the deployed interpreter.
find_python() {
  local candidate
  for candidate in python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 /usr/bin/python3.12; do
    if [ -n "$candidate" ] && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then
      PYTHON="$candidate"
      return
    fi
  done
  PYTHON=python3
  say "Python 3.12 (the deployed runtime) not found: building .venv with $(python3 --version 2>&1)"
}

check_python() {
  find_python
  command -v "$PYTHON" >/dev/null 2>&1 || [ -x "$PYTHON" ] || die "python3 not found"
  "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "python >= 3.11 needed, found $("$PYTHON" --version 2>&1)"
}

# Hash of every requirements file requirements-dev.txt pulls in, plus the interpreter version.
requirements_hash() {
  (
    cd "$ROOT"
    "$PYTHON" --version
    cat requirements-dev.txt requirements.txt shared/requirements.txt agent-*/requirements.txt 2>/dev/null
  ) | sha256sum | cut -d' ' -f1
}

venv_matches_python() {
  [ -x "${VENV}/bin/python" ] && [ "$("${VENV}/bin/python" --version 2>&1)" = "$("$PYTHON" --version 2>&1)" ]
}

install_python_packages() {
  if ! venv_matches_python; then
    [ -d "$VENV" ] && say "rebuilding .venv for $("$PYTHON" --version 2>&1)" && rm -rf "$VENV"
    say "creating .venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
  fi
  local wanted
  wanted="$(requirements_hash)"
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
    say "python packages up to date"
    return
  fi
  say "installing requirements-dev.txt into .venv (a few minutes the first time)"
  "${VENV}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${ROOT}/requirements-dev.txt"
  printf '%s\n' "$wanted" >"$STAMP"
}

# .venv/bin/studio: the studio command (infra/studio/cli.py), usable from any directory.
install_studio_command() {
  local wrapper="${VENV}/bin/studio"
  cat >"$wrapper" <<EOF
#!/usr/bin/env bash
PYTHONPATH="${ROOT}\${PYTHONPATH:+:\$PYTHONPATH}" exec "${VENV}/bin/python" -m infra.studio.cli "\$@"
EOF
  chmod +x "$wrapper"
}

main() {
  install_system_packages
  check_cloud_sdk_emulators
  check_python
  install_python_packages
  install_studio_command
  say "ready (start the local cloud with: .venv/bin/python -m infra.local.cloud up)"
}

main "$@"
