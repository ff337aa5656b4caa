#!/usr/bin/env bash
# Four cameras in one process: four video sources, each through its own
# siamesematch and siamesepublish, to the MQTT topic cams/<camera>.  The four
# siamesematch instances use the same model and reference folder, so they
# share one loaded network and one reference set.
#
# Usage: four-cameras.sh MODEL REFS BROKER [SOURCE...]
#   BROKER  host:port of the MQTT broker, e.g. 127.0.0.1:1883
#   SOURCE  up to four of: a video file, an rtsp:// or other URI, a camera
#           device (/dev/video0), or a videotestsrc pattern name (ball,
#           snow, smpte, ...: 300 frames each).  Default: four patterns.
# The cameras are named cam1 ... cam4; watch them with
#   mosquitto_sub -h HOST -p PORT -t 'cams/#' -v
set -euo pipefail
if (($# < 3)); then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
model=$1 refs=$2 broker=$3
shift 3
sources=("$@")
((${#sources[@]})) || sources=(ball snow smpte pinwheel)
frames=${FRAMES:-300}

branches=()
camera=0
for source in "${sources[@]:0:4}"; do
  camera=$((camera + 1))
  case $source in
    /dev/video*) input=(v4l2src device="$source") ;;
    *://*) input=(uridecodebin uri="$source") ;;
    *)
      if [[ -f $source ]]; then
        input=(filesrc location="$source" ! decodebin)
      else
        input=(videotestsrc num-buffers="$frames" pattern="$source")
      fi
      ;;
  esac
  branches+=("${input[@]}" ! siamesematch model="$model" reference="$refs" !
             siamesepublish method=mqtt address="$broker" camera-id="cam$camera"
             topic='cams/{camera}' ! fakesink)
done
exec gst-launch-1.0 -e "${branches[@]}"
