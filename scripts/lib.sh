# Shared by the scripts that run a pinned Python tool against a freshly started scimd
# (conformance.sh, schemathesis.sh). Source it; it defines functions only.

# pinned_venv DIR REQUIREMENTS: a virtualenv at DIR holding exactly REQUIREMENTS (a pinned
# requirements file), made again whenever that file changes.
pinned_venv() {
  local dir="$1" requirements="$2"
  if [ ! -x "$dir/bin/python" ] || ! cmp -s "$requirements" "$dir/requirements.txt"; then
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$dir/requirements.txt"
  fi
}

# free_port: a TCP port nothing listens on right now, on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
