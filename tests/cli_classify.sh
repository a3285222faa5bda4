#!/usr/bin/env bash
# geoloc classify-imagenet with the imported Keras ResNet-50: on the shared
# imagenet-check images, the top-1 class of expected.csv (the Keras model's
# own answers) for every image, its probability within 0.03. Needs the
# weights of tools/fetch-backbone.sh (models/resnet50-imagenet.safetensors
# or $GEOLOC_BACKBONE) and the shared data; skips without them.
. "$(dirname "$0")/lib.sh"
test_setup cli_classify "$@"

run_geoloc classify-imagenet --help
check "--help" '[ $rc -eq 0 ] && [[ $out == *--weights* ]]'
run_geoloc classify-imagenet img.png
check "no --weights" '[ $rc -eq 2 ] && [[ $err == *"--weights is required"* ]]'
run_geoloc classify-imagenet --weights "$tmp/none.safetensors" img.png
check "missing weights file" '[ $rc -eq 1 ] && [[ $err == *none.safetensors* ]] && [[ $err == *fetch-backbone* ]]'

here=$(cd "$(dirname "$0")" && pwd)
weights=${GEOLOC_BACKBONE:-$here/../models/resnet50-imagenet.safetensors}
check_dir="$shared/imagenet-check"
[ -f "$weights" ] || skip_rest "no ImageNet weights at $weights (run tools/fetch-backbone.sh)"
[ -f "$check_dir/expected.csv" ] || skip_rest "no $check_dir/expected.csv (shared data absent)"

printf 'not an image' > "$tmp/bad.jpg"
run_geoloc classify-imagenet --weights "$weights" "$tmp/bad.jpg" "$check_dir/cat.png"
check "a bad image is named and counted, the others classified (exit 3)" \
  '[ $rc -eq 3 ] && [[ $err == *bad.jpg* ]] && [[ $err == *"1 of 2 images"* ]] && [[ $out == *Egyptian_cat* ]]'

# expected.csv: image,top1_index_1000,top1_label,top1_prob,...
images=()
while IFS=, read -r image index _; do
  [ "$image" = image ] || images+=("$image")
done < "$check_dir/expected.csv"
args=()
for image in "${images[@]}"; do args+=("$check_dir/$image"); done
run_geoloc classify-imagenet --weights "$weights" --top 1 "${args[@]}"
check "classify the check images" '[ $rc -eq 0 ]'
for image in "${images[@]}"; do
  want=$(python3 -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1])):
    if r["image"] == sys.argv[2]: print(r["top1_index_1000"], r["top1_prob"])' "$check_dir/expected.csv" "$image")
  got=$(awk -v img="$check_dir/$image" '$0 == img {getline; print $2, $NF}' <<< "$out")
  check "$image: top-1 ${want% *} p=${want#* } (ours: $got)" \
    'python3 -c "import sys; w, g = sys.argv[1].split(), sys.argv[2].split(); sys.exit(not (len(g) == 2 and w[0] == g[0] and abs(float(w[1]) - float(g[1])) <= 0.03))" "$want" "$got"'
done
finish
