# Sourced by tools/fetch-web.sh and tools/fetch-places.sh: checked npm
# tarballs. Needs $tool (the caller's name, for messages), $npmdir (where the
# tarballs are kept) and $tmp (where packages are unpacked).

# fetch NAME VERSION SHA256: the checked tarball $npmdir/NAME-VERSION.tgz
fetch() {
  local tgz=$npmdir/$1-$2.tgz
  if [ -f "$tgz" ] && echo "$3  $tgz" | sha256sum --check --status; then return; fi
  command -v npm >/dev/null || { echo "$tool: npm is needed to download $1@$2: sudo apt-get install npm" >&2; exit 1; }
  rm -f "$tgz"
  echo "$tool: npm pack $1@$2 into $npmdir"
  (cd "$npmdir" && npm pack --silent "$1@$2" >/dev/null)
  echo "$3  $tgz" | sha256sum --check --status || {
    echo "$tool: $tgz does not have the expected SHA-256 $3" >&2; exit 1; }
}

# unpack NAME VERSION: the package's files in $tmp/NAME
unpack() {
  mkdir -p "$tmp/$1"
  tar -xzf "$npmdir/$1-$2.tgz" -C "$tmp/$1" --strip-components=1
}
