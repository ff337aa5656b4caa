#!/usr/bin/env bash
# siamesepublish as a user runs it: gst-launch-1.0 ... ! siamesematch ... !
# siamesepublish method=mqtt address=127.0.0.1:PORT topic=cams/door ! fakesink
# with the bundled model, a mosquitto broker of this test's own (free port,
# folder under WORK_DIR) and mosquitto_sub on the topic: one event per frame
# arrives, each valid against docs/event.schema.json; the same with method=file.
# Usage: publish.sh MODEL DEMO SCHEMA WORK_DIR
set -euo pipefail
model=$1 demo=$2 schema=$3 work=$4
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

# The subscriber receives probe messages first: once one has arrived, it is
# subscribed, and the pipeline may start.
mosquitto_sub -h 127.0.0.1 -p "$port" -t cams/door -q 1 > "$work/received" &
subscriber=$!
for _ in $(seq 100); do
  mosquitto_pub -h 127.0.0.1 -p "$port" -t cams/door -q 1 -m probe
  grep -q '^probe$' "$work/received" && break
  sleep 0.1
done
gst-launch-1.0 -q "${source_pipeline[@]}" ! \
    siamesepublish method=mqtt address="127.0.0.1:$port" topic=cams/door ! fakesink
for _ in $(seq 600); do
  (($(grep -vc '^probe$' "$work/received") >= frames)) && break
  sleep 0.1
done
kill "$subscriber"
grep -v '^probe$' "$work/received" > "$work/mqtt.jsonl" || true
gst-launch-1.0 -q "${source_pipeline[@]}" ! \
    siamesepublish method=file location="$work/file.jsonl" camera-id=door ! fakesink

python3 - "$schema" "$frames" "$work/mqtt.jsonl" "$work/file.jsonl" <<'PY'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
frames = int(sys.argv[2])
for path in sys.argv[3:]:
    events = [json.loads(line) for line in open(path)]
    assert len(events) == frames, f"{path}: {len(events)} events for {frames} frames"
    for event in events:
        validator.validate(event)
    assert [e["sequence"] for e in events] == list(range(frames)), f"{path}: out of order"
    # Each frame is an enrolled image: it matches its own label.
    matched = sum(e["matched"] for e in events)
    assert matched == frames, f"{path}: {matched} of {frames} frames matched"
    print(f"{path}: {len(events)} events, all valid against the schema, all matched")
PY
