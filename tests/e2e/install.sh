#!/bin/sh
# `meson install --destdir D` gives a working installation: the plugin lies in
# the folder siamese.pc names as pluginsdir (GStreamer's own for the prefix),
# gst-inspect-1.0 loads siamesematch from there with only GST_PLUGIN_PATH set
# (README.md), the bundled models are in modelsdir, and an application
# builds against the installed header and library with pkg-config alone.
# Usage: install.sh BUILD_DIR WORK_DIR
set -eu
build=$1 work=$2
rm -rf "$work"
mkdir -p "$work"
root=$work/root
meson install -C "$build" --destdir "$root" --no-rebuild --quiet > "$work/install.log"

pc=$(find "$root" -name siamese.pc)
test -n "$pc"
# siamese.pc is relocatable: it finds its prefix from where it lies.
export PKG_CONFIG_PATH="${pc%/siamese.pc}"
plugins=$(pkg-config --variable=pluginsdir siamese)
models=$(pkg-config --variable=modelsdir siamese)
case "$plugins" in "$root"/*) ;; *) echo "pluginsdir $plugins is not under $root"; exit 1 ;; esac
ls "$plugins"/libgstsiamese.so
ls "$models"/fashion-triplet.onnx "$models"/fashion-pair.onnx

# The element from the installed plugin, GStreamer's other paths cleared.
env -u GST_PLUGIN_PATH_1_0 -u GST_PLUGIN_SYSTEM_PATH_1_0 GST_PLUGIN_SYSTEM_PATH= \
  GST_REGISTRY="$work/registry.bin" GST_PLUGIN_PATH="$plugins" \
  gst-inspect-1.0 siamesematch > "$work/inspect.log"
grep -q "Factory Details" "$work/inspect.log"
grep "Filename" "$work/inspect.log" | grep -q "$root"

# An application reading results, built from the installed files only.
cat > "$work/app.cpp" <<'CPP'
#include <match_structure.h>
#include <cstdio>
int main() {
  gst_init(nullptr, nullptr);
  siamese::MatchResult result;
  result.matched = true;
  result.label = "Bag";
  GstStructure *structure = siamese::match_to_structure(result);
  const auto back = siamese::match_from_structure(structure);
  gst_structure_free(structure);
  std::printf("%s\n", back ? back->label.c_str() : "(none)");
  return back && back->label == "Bag" ? 0 : 1;
}
CPP
# shellcheck disable=SC2046  # the flags are words
c++ -std=c++17 -o "$work/app" "$work/app.cpp" $(pkg-config --cflags --libs siamese)
test "$("$work/app")" = Bag
echo "installed plugin, models, header and siamese.pc work from $root"
