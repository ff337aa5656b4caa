#!/usr/bin/env bash
# siamesepublish as a user runs it, with the bundled model, a mosquitto
# broker of this test's own (free port, folder under WORK_DIR) and
# mosquitto_sub, every event checked against docs/event.schema.json:
#  1. gst-launch-1.0 ... ! siamesematch ... ! siamesepublish method=mqtt
#     address=127.0.0.1:PORT topic=cams/door ! fakesink: one event per frame;
#  2. the same with method=file;
#  3. examples/four-cameras.sh: four sources in one process, one
#     siamesepublish each, every camera's events on its own topic.
# Usage: publish.sh MODEL DEMO SCHEMA FOUR_CAMERAS WORK_DIR
set -euo pipefail
model=$1 demo=$2 schema=$3 four_cameras=$4 work=$5
rm -rf "$work" && mkdir -p "$work/broker"
source "$(dirname "$0")/enrolled_frames.sh"
enrolled_frames "$model" "$demo" "$work"
source_pipeline=(multifilesrc location="$work/frames/%05d.png" index=0 stop-index=$((frames - 1))
                 caps=image/png,framerate=5/1 ! pngdec ! siamesematch model="$model" reference="$refs")

# A free port on 127.0.0.1, chosen by the kernel.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" > "$work/broker/mosquitto.conf"
[[ $(id -u) == 0 ]] && echo "user root" >> "$work/broker/mosquitto.conf"
mosquitto -c "$work/broker/mosquitto.conf" > "$work/broker/log" 2>&1 &
broker=$!
trap 'kill $broker ${subscriber:-} 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

# subscribe TOPIC FILE: mosquitto_sub writes what arrives on TOPIC to FILE
# (topic first, then the message).  It receives probe messages first: once
# one has arrived, it is subscribed, and the pipeline may start.
subscribe() {
  local probe_topic=$1
  [[ $1 == *'#' ]] && probe_topic="${1%#}probe"
  mosquitto_sub -h 127.0.0.1 -p "$port" -t "$1" -q 1 -v > "$2" &
  subscriber=$!
  for _ in $(seq 100); do
    mosquitto_pub -h 127.0.0.1 -p "$port" -t "$probe_topic" -q 1 -m probe
    grep -q ' probe$' "$2" && break
    sleep 0.1
  done
}
# collect COUNT FILE OUT: waits until COUNT events have arrived, stops the
# subscriber and writes them, without the probes, to OUT as "topic event" lines.
collect() {
  for _ in $(seq 600); do
    (($(grep -vc ' probe$' "$2") >= $1)) && break
    sleep 0.1
  done
  kill "$subscriber"
  grep -v ' probe$' "$2" > "$3" || true
}

subscribe cams/door "$work/received"
gst-launch-1.0 -q "${source_pipeline[@]}" ! \
    siamesepublish method=mqtt address="127.0.0.1:$port" topic=cams/door ! fakesink
collect "$frames" "$work/received" "$work/mqtt.txt"
gst-launch-1.0 -q "${source_pipeline[@]}" ! \
    siamesepublish method=file location="$work/file.jsonl" camera-id=door ! fakesink
sed 's/^/cams\/door /' "$work/file.jsonl" > "$work/file.txt"

camera_frames=10
subscribe 'cams/#' "$work/received-cameras"
FRAMES=$camera_frames "$four_cameras" "$model" "$refs" "127.0.0.1:$port" > "$work/four-cameras.log"
collect $((4 * camera_frames)) "$work/received-cameras" "$work/cameras.txt"

python3 - "$schema" "$frames" "$camera_frames" "$work" <<'PY'
import collections, json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
frames, camera_frames, work = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

def events(path):
    """{topic: [event, ...]} from "topic event" lines, each event valid."""
    by_topic = collections.defaultdict(list)
    for line in open(path):
        topic, text = line.rstrip("\n").split(" ", 1)
        event = json.loads(text)
        validator.validate(event)
        by_topic[topic].append(event)
    return by_topic

for name in ("mqtt", "file"):
    received = events(f"{work}/{name}.txt")["cams/door"]
    assert len(received) == frames, f"{name}: {len(received)} events for {frames} frames"
    assert [e["sequence"] for e in received] == list(range(frames)), f"{name}: out of order"
    # Each frame is an enrolled image: it matches its own label.
    matched = sum(e["matched"] for e in received)
    assert matched == frames, f"{name}: {matched} of {frames} frames matched"
    print(f"{name}: {len(received)} events, all valid against the schema, all matched")

cameras = events(f"{work}/cameras.txt")
assert sorted(cameras) == [f"cams/cam{i}" for i in range(1, 5)], sorted(cameras)
for topic, received in sorted(cameras.items()):
    assert [e["sequence"] for e in received] == list(range(camera_frames)), topic
    assert {e["camera"] for e in received} == {topic.split("/")[1]}, topic
print(f"four cameras: {camera_frames} valid events on each of {', '.join(sorted(cameras))}")
PY
