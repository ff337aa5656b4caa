#!/usr/bin/env bash
# The main job: sets up (packages, configure, build), then streams Fashion-MNIST
# items the bundled model never saw in training through a real GStreamer
# pipeline and matches them against one enrolled image per class.
# Arguments go to siamese-fashion-demo (see --help), e.g. --shots 5.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The plugin from this build tree, whatever is installed on the system.
export GST_PLUGIN_PATH="$PWD/build/gst-plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
exec build/demo/siamese-fashion-demo --output build/demo-output "$@"
