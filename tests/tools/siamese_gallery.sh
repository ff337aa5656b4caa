#!/usr/bin/env bash
# siamese-gallery end to end on the fixtures: build, list, add, remove, check;
# another model's gallery, a corrupted and a foreign file are refused with
# the documented exit status and a message naming what is wrong.
# Usage: siamese_gallery.sh TOOL MODEL OTHER_MODEL REFERENCES WORK_DIR
set -euo pipefail
tool=$1 model=$2 other=$3 refs=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
g="$work/colours.gallery"
fail() { echo "FAIL: $*" >&2; exit 1; }
# Runs the tool expecting exit status $1; its stderr goes to $work/err.
expect_status() {
  local want=$1; shift
  local got=0
  "$tool" "$@" > "$work/out" 2> "$work/err" || got=$?
  [ "$got" -eq "$want" ] || { cat "$work/err" >&2; fail "'$*' exited $got, expected $want"; }
}

"$tool" --version | grep -q '^siamese-gallery [0-9]' || fail "--version"

expect_status 0 build "$g" --model "$model" --folder "$refs"
grep -q 'added 9 templates' "$work/out" || fail "build did not add the 9 reference images"
grep -q 'enrolling: 9 of 9 images' "$work/err" || fail "no progress on stderr"
# Building again embeds nothing new.
expect_status 0 build "$g" --model "$model" --folder "$refs" --quiet
grep -q 'added 0 templates (9 images were already' "$work/out" || fail "second build added images"

expect_status 0 list "$g" --templates
grep -q '^4 labels, 9 templates of 3 floats' "$work/out" || fail "list summary"
grep -q '^  red: 3$' "$work/out" || fail "list counts"
sha=$(sha256sum "$refs/red/red_0.png" | cut -d' ' -f1)
grep -q "red	$refs/red/red_0.png	$sha	" "$work/out" || fail "list --templates provenance"

expect_status 0 add "$g" --model "$model" --label sky "$refs/blue/blue_0.png" "$refs/blue/blue_1.png"
expect_status 0 list "$g"
grep -q '^  sky: 2$' "$work/out" || fail "add"
expect_status 0 remove "$g" --label red --image "$refs/blue/blue_0.png"
expect_status 0 list "$g"
grep -q '^4 labels, 6 templates' "$work/out" || fail "remove: $(head -4 "$work/out")"  # red's 3, and blue_0 as blue and as sky
! grep -q '^  red:' "$work/out" || fail "red still listed"

expect_status 0 check "$g" --model "$model"
grep -q 'valid, made by this model' "$work/out" || fail "check"

# Another model: exit 3, both fingerprints named.
expect_status 3 check "$g" --model "$other"
gallery_fp=$(sed -n 's/^model fingerprint //p' <("$tool" list "$g"))
grep -q "$gallery_fp" "$work/err" || fail "gallery fingerprint not named"
other_fp=$(cat "$work/err" | grep -o '[0-9a-f]\{64\}' | grep -v "$gallery_fp" | head -1)
[ -n "$other_fp" ] || fail "model fingerprint not named"
# ... and adding to it with the other model is refused too.
expect_status 1 add "$g" --model "$other" --label x "$refs/red/red_0.png"
grep -q 'another model' "$work/err" || fail "add with another model"

# Damaged and foreign files: exit 1 with a sentence naming the file.
head -c 3000 "$g" > "$work/truncated.gallery"
expect_status 1 list "$work/truncated.gallery"
grep -q "truncated.gallery is truncated" "$work/err" || fail "truncated: $(cat "$work/err")"
expect_status 1 list "$model"
grep -q "not an SQLite database" "$work/err" || fail "foreign file"
expect_status 1 list "$work/missing.gallery"
grep -q "does not exist" "$work/err" || fail "missing file"
expect_status 2 list
echo "siamese-gallery: all checks passed"
