# Sourced by tools/sid_root.sh and tools/bookworm_root.sh: what both Debian
# roots need. The sourcing script sets ROOT and defines log().

# The first non-security deb URI of this machine's apt sources (deb822 or
# one-line form): the roots come from the same mirror as the machine.
mirror() {
  local uri
  uri=$(grep -hsE '^\s*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
        | grep -v security | head -n 1 || true)
  [ -n "$uri" ] || uri=$(grep -hsE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        2>/dev/null | awk '{print $2}' | grep -v security | head -n 1 || true)
  [ -n "$uri" ] || { log "no Debian mirror in this machine's apt sources"; exit 1; }
  echo "$uri"
}

# /proc and /dev inside the root, for what runs there.
mount_api() {
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
}
