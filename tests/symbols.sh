#!/usr/bin/env bash
# The installed archive exports only geoloc_* names: every global symbol
# that libgeoloc.a defines starts with geoloc_ (internal helpers such as
# csv_open or atomic_file_open are local to its one object), the public API
# is there, and the same check on the internal archive does find the
# helpers (so the check can fail).
# usage: symbols.sh LIBGEOLOC_A LIBGEOLOC_INTERNAL_A
. "$(dirname "$0")/lib.sh"
public=${1:?usage: symbols.sh LIBGEOLOC_A LIBGEOLOC_INTERNAL_A}
internal=${2:?usage: symbols.sh LIBGEOLOC_A LIBGEOLOC_INTERNAL_A}

# defined_globals ARCHIVE: the names of the global symbols ARCHIVE defines
defined_globals() { nm -g --defined-only "$1" | awk 'NF == 3 { print $3 }' | sort -u; }

pub=$(defined_globals "$public")
stray=$(grep -v '^geoloc_' <<<"$pub" || true)
check "non-geoloc_ global symbols in $public: $(tr '\n' ' ' <<<"$stray")" '[ -z "$stray" ]'
# the archive holds one object, the localised link of all the others
members=$(ar t "$public" | wc -l)
check "$public holds $members objects, expected 1" '[ "$members" -eq 1 ]'
for name in geoloc_s2_from_latlng geoloc_haversine_km geoloc_atomic_file_open \
            geoloc_csv_open geoloc_status_name geoloc_model_find_data; do
    check "$name missing from $public" 'grep -qx "$name" <<<"$pub"'
done
# the internal helpers are in it, local ("t"), not global
for name in csv_open atomic_file_open file_lock_acquire error_set array_grow; do
    check "$name not a local symbol of $public" 'nm "$public" | grep -qE " [tdbr] $name\$"'
    check "$name global in $public" '! grep -qx "$name" <<<"$pub"'
    check "$name not global in $internal: the check would see nothing" \
          'defined_globals "$internal" | grep -qx "$name"'
done
finish
