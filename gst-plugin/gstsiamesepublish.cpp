// SPDX-License-Identifier: LGPL-2.1-or-later

/**
 * SECTION:element-siamesepublish
 * @title: siamesepublish
 *
 * Sends the results that siamesematch attached to each buffer out of the
 * process as JSON events, one per result: to a file of JSON lines (or
 * standard output), or to an MQTT broker.  Place it after siamesematch; the
 * buffers pass through untouched.
 *
 * Each fresh result (a frame or region that siamesematch embedded, not one
 * it repeated because of `interval`) allowed by the `events` policy becomes
 * one JSON object with, among others, `camera`, `sequence`, `pts`, `utc`,
 * `model`, `region`, `matched`, `label`, `score`, `distance`, `threshold`
 * and `top`.  The schema, its version and every field are documented in
 * docs/events.md and, as a JSON Schema, in docs/event.schema.json.
 *
 * Delivery never holds up the stream: events wait in a queue of `queue-size`
 * and a thread of the element's own writes or sends them, in order.  When
 * the broker (or the file) cannot be reached, the element posts a warning,
 * keeps the events and tries again after 0.1 s, then after doubling delays
 * up to 5 s; when it succeeds it posts an info message and delivers the
 * queued events, oldest first.  When the queue is full, the oldest event is
 * dropped for each new one: the first drop of an overflow posts a warning,
 * and the `dropped` property counts every event never delivered.  With
 * `qos=1` (the default) an event counts as delivered only when the broker
 * has acknowledged it, and nothing that fits in the queue is lost across an
 * outage; an event may then arrive twice (its acknowledgement was lost with
 * the connection): `sequence` tells repeats apart.  With `qos=0` the events
 * written to a connection that breaks are lost (and counted as dropped).
 * At the end of the stream (the element stopping) it waits up to
 * `flush-timeout` for the queue to empty.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -e v4l2src ! siamesematch model=model.onnx reference=faces/ ! \
 *     siamesepublish method=mqtt address=127.0.0.1:1883 topic=cams/door ! fakesink
 * ]| Publishes one event per frame to the topic cams/door; read them with
 * `mosquitto_sub -t cams/door`.
 * |[
 * gst-launch-1.0 -e filesrc location=clip.mp4 ! decodebin ! siamesematch model=model.onnx \
 *     reference=refs/ ! siamesepublish location=events.jsonl max-size=10000000 events=on-change ! fakesink
 * ]| Appends an event to events.jsonl each time the matched label changes,
 * starting a new file (older ones renamed events.jsonl.1 ... .5) every 10 MB.
 * |[
 * gst-launch-1.0 -e videotestsrc ! siamesematch model=model.onnx reference=refs/ ! \
 *     siamesepublish camera-id=lab events=on-match ! fakesink
 * ]| Prints matches only, as JSON lines on standard output.
 *
 * ## Messages
 * * Warning (RESOURCE, WRITE) when the destination cannot be reached (once
 *   per outage), naming it and saying why; info when it is reached again.
 * * Warning (RESOURCE, WRITE) when the queue overflows and begins dropping
 *   the oldest events (once per overflow: until the queue has emptied).
 * * Warning (RESOURCE, WRITE) when events were left undelivered at stop.
 * * Error (RESOURCE, SETTINGS) at start for settings no retry can fix: a
 *   malformed address, a topic with wildcards, no location, an unreadable TLS
 *   file, rotation asked of standard output.
 */

// How it works, for maintainers.  The GStreamer-free half lives in core/:
// match_event.h (the event and its JSON), event_publisher.h (the queue and
// the worker thread that connects, retries and sends), file_transport.h and
// mqtt_transport.h.  start() builds a transport from the properties and a
// publisher around it; transform_ip() reads siamesematch's results from the
// region metas through match_structure.h, filters them with the core's
// ReportFilter, turns each into an event and queues it (publish() never
// waits on I/O); stop() gives the worker flush-timeout to deliver, then ends
// it.  The publisher's status callback runs on the worker thread and only
// posts bus messages.

#include "gstsiamesepublish.h"

#include <gst/video/gstvideometa.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "element_glue.h"
#include "event_publisher.h"
#include "file_transport.h"
#include "match_event.h"
#include "match_structure.h"
#include "mqtt_transport.h"
#include "report_filter.h"

GST_DEBUG_CATEGORY_STATIC(gst_siamese_publish_debug);
#define GST_CAT_DEFAULT gst_siamese_publish_debug

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

enum {
  PROP_0,
  PROP_METHOD,
  PROP_CAMERA_ID,
  PROP_EVENTS,
  PROP_LOCATION,
  PROP_MAX_SIZE,
  PROP_MAX_FILES,
  PROP_ADDRESS,
  PROP_TOPIC,
  PROP_QOS,
  PROP_CLIENT_ID,
  PROP_USERNAME,
  PROP_PASSWORD,
  PROP_TLS,
  PROP_TLS_CA_FILE,
  PROP_TLS_CERT_FILE,
  PROP_TLS_KEY_FILE,
  PROP_QUEUE_SIZE,
  PROP_FLUSH_TIMEOUT,
  PROP_DROPPED,
  PROP_DELIVERED,
  PROP_CONNECTED,
};

enum GstSiamesePublishMethod {
  METHOD_FILE,
  METHOD_MQTT,
};

// In `topic`, this text stands for the camera id.
#define CAMERA_PLACEHOLDER "{camera}"

#define DEFAULT_METHOD METHOD_FILE
#define DEFAULT_EVENTS siamese::ReportPolicy::kEvery
#define DEFAULT_LOCATION "-"
#define DEFAULT_MAX_SIZE 0
#define DEFAULT_MAX_FILES 5
#define DEFAULT_ADDRESS "localhost"
#define DEFAULT_TOPIC "siamesematch/" CAMERA_PLACEHOLDER
#define DEFAULT_QOS 1
#define DEFAULT_TLS FALSE
#define DEFAULT_QUEUE_SIZE 1000
#define DEFAULT_FLUSH_TIMEOUT 2000

namespace {

using siamese::ObjectLock;

struct Settings {
  GstSiamesePublishMethod method = DEFAULT_METHOD;
  std::string camera_id;  // "": the element's name
  siamese::ReportPolicy events = DEFAULT_EVENTS;
  std::string location = DEFAULT_LOCATION;
  guint64 max_size = DEFAULT_MAX_SIZE;
  guint max_files = DEFAULT_MAX_FILES;
  std::string address = DEFAULT_ADDRESS;
  std::string topic = DEFAULT_TOPIC;
  guint qos = DEFAULT_QOS;
  std::string client_id;
  std::string username;
  std::string password;
  gboolean tls = DEFAULT_TLS;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  guint queue_size = DEFAULT_QUEUE_SIZE;
  guint flush_timeout_ms = DEFAULT_FLUSH_TIMEOUT;
};

// One run (start() to stop()): the publisher and what the streaming thread
// remembers between buffers.
struct State {
  std::string camera;
  std::size_t queue_size = 0;
  std::unique_ptr<siamese::EventPublisher> publisher;
  siamese::ReportFilter filter;
  guint64 sequence = 0;
};

}  // namespace

struct _GstSiamesePublish {
  GstBaseTransform parent;
  // C++ members, constructed in init() and destroyed in finalize().
  Settings settings;             // guarded by the object lock
  std::unique_ptr<State> state;  // swapped under the object lock
  // The counters of the last run, for the read-only properties after stop().
  siamese::EventPublisher::Counters last_counters;  // guarded by the object lock
};

G_DEFINE_TYPE(GstSiamesePublish, gst_siamese_publish, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE(siamesepublish, "siamesepublish", GST_RANK_NONE,
                            GST_TYPE_SIAMESE_PUBLISH)

namespace {

Settings copy_settings(GstSiamesePublish *self) {
  const ObjectLock lock(self);
  return self->settings;
}

GType method_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {METHOD_FILE, "JSON lines in a file (location; - for standard output)", "file"},
      {METHOD_MQTT, "MQTT messages to a broker (address, topic)", "mqtt"},
      {0, nullptr, nullptr},
  };
  return siamese::register_enum_once(type, "GstSiamesePublishMethod", values);
}

GType events_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {static_cast<gint>(siamese::ReportPolicy::kEvery), "For every fresh result", "every"},
      {static_cast<gint>(siamese::ReportPolicy::kOnChange),
       "For the results of a frame whose matched labels differ from the last published frame's",
       "on-change"},
      {static_cast<gint>(siamese::ReportPolicy::kOnMatch),
       "For every fresh result that matches a label", "on-match"},
      {0, nullptr, nullptr},
  };
  return siamese::register_enum_once(type, "GstSiamesePublishEvents", values);
}

std::string replace_all(std::string text, const std::string &from, const std::string &to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// The transport the properties describe; throws TransportSettingsError.
std::unique_ptr<siamese::EventTransport> make_transport(const Settings &settings,
                                                        const std::string &camera) {
  if (settings.method == METHOD_FILE)
    return std::make_unique<siamese::FileTransport>(
        siamese::FileSettings{settings.location, settings.max_size, settings.max_files});
  siamese::MqttSettings mqtt;
  siamese::parse_mqtt_address(settings.address, mqtt);
  mqtt.topic = replace_all(settings.topic, CAMERA_PLACEHOLDER, camera);
  mqtt.qos = static_cast<int>(settings.qos);
  mqtt.client_id = settings.client_id;
  mqtt.username = settings.username;
  mqtt.password = settings.password;
  mqtt.tls = settings.tls;
  mqtt.tls_ca_file = settings.tls_ca_file;
  mqtt.tls_cert_file = settings.tls_cert_file;
  mqtt.tls_key_file = settings.tls_key_file;
  return std::make_unique<siamese::MqttTransport>(mqtt);
}

// Posts the publisher's news (called on its worker thread).
void post_status(GstSiamesePublish *self, bool reachable, const std::string &text) {
  if (reachable)
    GST_ELEMENT_INFO(self, RESOURCE, WRITE, ("%s", text.c_str()), (nullptr));
  else
    GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("%s", text.c_str()), (nullptr));
}

// A result on the buffer, and the region meta it came in.
struct FoundResult {
  const GstVideoRegionOfInterestMeta *region;
  siamese::MatchResult result;
  GstClockTime timestamp;  // of the frame embedded (in async mode an earlier one)
};

// The fresh results siamesematch attached to `buffer`, in meta order.
std::vector<FoundResult> fresh_results(GstBuffer *buffer) {
  std::vector<FoundResult> found;
  gpointer iterator = nullptr;
  while (GstMeta *meta = gst_buffer_iterate_meta_filtered(
             buffer, &iterator, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) {
    const auto *region = reinterpret_cast<const GstVideoRegionOfInterestMeta *>(meta);
    auto tagged = siamese::region_result(region);
    if (tagged && tagged->fresh)
      found.push_back({region, std::move(tagged->result), tagged->timestamp});
  }
  return found;
}

siamese::MatchEvent make_event(State &state, GstBuffer *buffer, const FoundResult &found,
                               std::int64_t utc_us) {
  const GstVideoRegionOfInterestMeta *region = found.region;
  siamese::MatchEvent event;
  event.camera = state.camera;
  event.sequence = state.sequence++;
  const GstClockTime pts =
      GST_CLOCK_TIME_IS_VALID(found.timestamp) ? found.timestamp : GST_BUFFER_PTS(buffer);
  if (GST_CLOCK_TIME_IS_VALID(pts)) event.pts = pts;
  event.utc_us = utc_us;
  event.whole_frame = region->roi_type == g_quark_from_static_string(siamese::kMatchStructureName);
  event.region = {region->id, g_quark_to_string(region->roi_type), region->x, region->y, region->w,
                  region->h};
  event.result = found.result;
  return event;
}

}  // namespace

static void gst_siamese_publish_set_property(GObject *object, guint prop_id, const GValue *value,
                                             GParamSpec *pspec);
static void gst_siamese_publish_get_property(GObject *object, guint prop_id, GValue *value,
                                             GParamSpec *pspec);
static void gst_siamese_publish_finalize(GObject *object);
static gboolean gst_siamese_publish_start(GstBaseTransform *trans);
static gboolean gst_siamese_publish_stop(GstBaseTransform *trans);
static GstFlowReturn gst_siamese_publish_transform_ip(GstBaseTransform *trans, GstBuffer *buffer);

static void gst_siamese_publish_class_init(GstSiamesePublishClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(gst_siamese_publish_debug, "siamesepublish", 0,
                          "Publishes siamesematch results as JSON events");

  gobject_class->set_property = gst_siamese_publish_set_property;
  gobject_class->get_property = gst_siamese_publish_get_property;
  gobject_class->finalize = gst_siamese_publish_finalize;

  constexpr auto kReadyFlags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                        GST_PARAM_MUTABLE_READY);
  constexpr auto kReadOnly = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * GstSiamesePublish:method:
   *
   * Where events go: `file` (JSON lines, see location) or `mqtt` (see
   * address and topic).  Default: file.
   */
  g_object_class_install_property(
      gobject_class, PROP_METHOD,
      g_param_spec_enum("method", "Method", "Where events go", method_get_type(), DEFAULT_METHOD,
                        kReadyFlags));
  /**
   * GstSiamesePublish:camera-id:
   *
   * The source's name in every event (`camera`) and in the default topic.
   * Default: the element's name.
   */
  g_object_class_install_property(
      gobject_class, PROP_CAMERA_ID,
      g_param_spec_string("camera-id", "Camera id",
                          "Name of the source in each event (default: the element's name)",
                          nullptr, kReadyFlags));
  /**
   * GstSiamesePublish:events:
   *
   * Which fresh results become events: every one, those of frames whose
   * matched labels changed (on-change), or matches only (on-match).
   * Default: every.
   */
  g_object_class_install_property(
      gobject_class, PROP_EVENTS,
      g_param_spec_enum("events", "Events", "Which results become events", events_get_type(),
                        static_cast<gint>(DEFAULT_EVENTS),
                        static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                                 GST_PARAM_MUTABLE_PLAYING)));
  /**
   * GstSiamesePublish:location:
   *
   * method=file: the file the JSON lines are appended to; `-` is standard
   * output.  Default: -.
   */
  g_object_class_install_property(
      gobject_class, PROP_LOCATION,
      g_param_spec_string("location", "Location",
                          "File of JSON lines (method=file); - for standard output",
                          DEFAULT_LOCATION, kReadyFlags));
  /**
   * GstSiamesePublish:max-size:
   *
   * method=file: in bytes, the size a file may reach; the line that would
   * pass it starts a new file and the full one is renamed <location>.1 (older
   * ones .2, .3, ...).  0 never rotates.  Default: 0.
   */
  g_object_class_install_property(
      gobject_class, PROP_MAX_SIZE,
      g_param_spec_uint64("max-size", "Maximum size",
                          "Rotate the file before it passes this many bytes (0 = never)", 0,
                          G_MAXUINT64, DEFAULT_MAX_SIZE, kReadyFlags));
  /**
   * GstSiamesePublish:max-files:
   *
   * method=file with max-size: how many rotated files are kept
   * (<location>.1 is the newest); older ones are deleted.  Default: 5.
   */
  g_object_class_install_property(
      gobject_class, PROP_MAX_FILES,
      g_param_spec_uint("max-files", "Maximum files", "Rotated files kept", 0, G_MAXUINT,
                        DEFAULT_MAX_FILES, kReadyFlags));
  /**
   * GstSiamesePublish:address:
   *
   * method=mqtt: the broker, as host, host:port or [IPv6 address]:port; the
   * port defaults to 1883, or 8883 with tls.  Default: localhost.
   */
  g_object_class_install_property(
      gobject_class, PROP_ADDRESS,
      g_param_spec_string("address", "Address", "MQTT broker: host[:port]", DEFAULT_ADDRESS,
                          kReadyFlags));
  /**
   * GstSiamesePublish:topic:
   *
   * method=mqtt: the topic events are published to; `{camera}` in it is
   * replaced by camera-id.  Default: siamesematch/{camera}.
   */
  g_object_class_install_property(
      gobject_class, PROP_TOPIC,
      g_param_spec_string("topic", "Topic",
                          "MQTT topic; {camera} stands for the camera id", DEFAULT_TOPIC,
                          kReadyFlags));
  /**
   * GstSiamesePublish:qos:
   *
   * method=mqtt: 1, an event is kept until the broker acknowledges it (at
   * least once); 0, it is sent once (at most once).  Default: 1.
   */
  g_object_class_install_property(
      gobject_class, PROP_QOS,
      g_param_spec_uint("qos", "QoS", "MQTT quality of service: 0 or 1", 0, 1, DEFAULT_QOS,
                        kReadyFlags));
  /**
   * GstSiamesePublish:client-id:
   *
   * method=mqtt: the client identifier; unset, the library makes a random
   * one.  Two clients with the same id disconnect each other.  Default: unset.
   */
  g_object_class_install_property(
      gobject_class, PROP_CLIENT_ID,
      g_param_spec_string("client-id", "Client id", "MQTT client identifier (default: random)",
                          nullptr, kReadyFlags));
  /**
   * GstSiamesePublish:username:
   *
   * method=mqtt: user name for the broker, with password.  Default: unset.
   */
  g_object_class_install_property(
      gobject_class, PROP_USERNAME,
      g_param_spec_string("username", "User name", "MQTT user name", nullptr, kReadyFlags));
  /**
   * GstSiamesePublish:password:
   *
   * method=mqtt: password for username (never read back).  Default: unset.
   */
  g_object_class_install_property(
      gobject_class, PROP_PASSWORD,
      g_param_spec_string("password", "Password", "MQTT password (write only)", nullptr,
                          static_cast<GParamFlags>(G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
                                                   GST_PARAM_MUTABLE_READY)));
  /**
   * GstSiamesePublish:tls:
   *
   * method=mqtt: connect with TLS, checking the broker's certificate against
   * tls-ca-file, or the system's trusted authorities.  Default: FALSE.
   */
  g_object_class_install_property(
      gobject_class, PROP_TLS,
      g_param_spec_boolean("tls", "TLS", "Connect to the broker with TLS", DEFAULT_TLS,
                           kReadyFlags));
  /**
   * GstSiamesePublish:tls-ca-file:
   *
   * PEM file of the authority that signed the broker's certificate.
   * Default: unset (the system's trusted authorities).
   */
  g_object_class_install_property(
      gobject_class, PROP_TLS_CA_FILE,
      g_param_spec_string("tls-ca-file", "TLS CA file",
                          "Authority that signed the broker's certificate (PEM)", nullptr,
                          kReadyFlags));
  /**
   * GstSiamesePublish:tls-cert-file:
   *
   * PEM certificate to present to the broker, with tls-key-file.  Default: unset.
   */
  g_object_class_install_property(
      gobject_class, PROP_TLS_CERT_FILE,
      g_param_spec_string("tls-cert-file", "TLS certificate file",
                          "Client certificate (PEM), with tls-key-file", nullptr, kReadyFlags));
  /**
   * GstSiamesePublish:tls-key-file:
   *
   * PEM private key of tls-cert-file.  Default: unset.
   */
  g_object_class_install_property(
      gobject_class, PROP_TLS_KEY_FILE,
      g_param_spec_string("tls-key-file", "TLS key file", "Client private key (PEM)", nullptr,
                          kReadyFlags));
  /**
   * GstSiamesePublish:queue-size:
   *
   * In events: how many wait for delivery, at most; when full, the oldest is
   * dropped for each new one.  At qos=1 up to 20 more may be in flight,
   * awaiting the broker's acknowledgement.  Default: 1000.
   */
  g_object_class_install_property(
      gobject_class, PROP_QUEUE_SIZE,
      g_param_spec_uint("queue-size", "Queue size", "Events kept while undelivered", 1,
                        G_MAXINT, DEFAULT_QUEUE_SIZE, kReadyFlags));
  /**
   * GstSiamesePublish:flush-timeout:
   *
   * In milliseconds: how long stopping waits for queued events to be
   * delivered; what is left then counts as dropped.  Default: 2000.
   */
  g_object_class_install_property(
      gobject_class, PROP_FLUSH_TIMEOUT,
      g_param_spec_uint("flush-timeout", "Flush timeout",
                        "Milliseconds stopping waits for queued events", 0, G_MAXINT,
                        DEFAULT_FLUSH_TIMEOUT, kReadyFlags));
  /**
   * GstSiamesePublish:dropped:
   *
   * Events never delivered since the element started: dropped from a full
   * queue, sent at qos=0 on a connection that broke, or left at stop.
   */
  g_object_class_install_property(
      gobject_class, PROP_DROPPED,
      g_param_spec_uint64("dropped", "Dropped", "Events never delivered", 0, G_MAXUINT64, 0,
                          kReadOnly));
  /**
   * GstSiamesePublish:delivered:
   *
   * Events delivered since the element started: acknowledged by the broker
   * (qos=1), written to the connection (qos=0) or to the file.
   */
  g_object_class_install_property(
      gobject_class, PROP_DELIVERED,
      g_param_spec_uint64("delivered", "Delivered", "Events delivered", 0, G_MAXUINT64, 0,
                          kReadOnly));
  /**
   * GstSiamesePublish:connected:
   *
   * TRUE while the broker is connected (or the file open).
   */
  g_object_class_install_property(
      gobject_class, PROP_CONNECTED,
      g_param_spec_boolean("connected", "Connected", "The destination is reachable now", FALSE,
                           kReadOnly));

  gst_element_class_set_static_metadata(
      element_class, "Siamese match publisher", "Filter/Network",
      "Sends siamesematch results as JSON events to a file or an MQTT broker",
      "siamesematch maintainers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  trans_class->start = GST_DEBUG_FUNCPTR(gst_siamese_publish_start);
  trans_class->stop = GST_DEBUG_FUNCPTR(gst_siamese_publish_stop);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR(gst_siamese_publish_transform_ip);

  gst_type_mark_as_plugin_api(method_get_type(), static_cast<GstPluginAPIFlags>(0));
  gst_type_mark_as_plugin_api(events_get_type(), static_cast<GstPluginAPIFlags>(0));
}

static void gst_siamese_publish_init(GstSiamesePublish *self) {
  new (&self->settings) Settings();
  new (&self->state) std::unique_ptr<State>();
  new (&self->last_counters) siamese::EventPublisher::Counters();
  // The buffers are only read: passthrough still calls transform_ip.
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
}

static void gst_siamese_publish_finalize(GObject *object) {
  GstSiamesePublish *self = GST_SIAMESE_PUBLISH(object);
  self->state.~unique_ptr<State>();
  self->settings.~Settings();
  G_OBJECT_CLASS(gst_siamese_publish_parent_class)->finalize(object);
}

static void gst_siamese_publish_set_property(GObject *object, guint prop_id, const GValue *value,
                                             GParamSpec *pspec) {
  GstSiamesePublish *self = GST_SIAMESE_PUBLISH(object);
  const ObjectLock lock(self);
  Settings &settings = self->settings;
  const auto string_or = [value](const char *fallback) {
    const gchar *text = g_value_get_string(value);
    return std::string(text ? text : fallback);
  };
  switch (prop_id) {
    case PROP_METHOD:
      settings.method = static_cast<GstSiamesePublishMethod>(g_value_get_enum(value));
      break;
    case PROP_CAMERA_ID: settings.camera_id = string_or(""); break;
    case PROP_EVENTS:
      settings.events = static_cast<siamese::ReportPolicy>(g_value_get_enum(value));
      break;
    case PROP_LOCATION: settings.location = string_or(DEFAULT_LOCATION); break;
    case PROP_MAX_SIZE: settings.max_size = g_value_get_uint64(value); break;
    case PROP_MAX_FILES: settings.max_files = g_value_get_uint(value); break;
    case PROP_ADDRESS: settings.address = string_or(DEFAULT_ADDRESS); break;
    case PROP_TOPIC: settings.topic = string_or(DEFAULT_TOPIC); break;
    case PROP_QOS: settings.qos = g_value_get_uint(value); break;
    case PROP_CLIENT_ID: settings.client_id = string_or(""); break;
    case PROP_USERNAME: settings.username = string_or(""); break;
    case PROP_PASSWORD: settings.password = string_or(""); break;
    case PROP_TLS: settings.tls = g_value_get_boolean(value); break;
    case PROP_TLS_CA_FILE: settings.tls_ca_file = string_or(""); break;
    case PROP_TLS_CERT_FILE: settings.tls_cert_file = string_or(""); break;
    case PROP_TLS_KEY_FILE: settings.tls_key_file = string_or(""); break;
    case PROP_QUEUE_SIZE: settings.queue_size = g_value_get_uint(value); break;
    case PROP_FLUSH_TIMEOUT: settings.flush_timeout_ms = g_value_get_uint(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
}

static void gst_siamese_publish_get_property(GObject *object, guint prop_id, GValue *value,
                                             GParamSpec *pspec) {
  GstSiamesePublish *self = GST_SIAMESE_PUBLISH(object);
  const ObjectLock lock(self);
  const Settings &settings = self->settings;
  const auto string_or_null = [value](const std::string &text) {
    g_value_set_string(value, text.empty() ? nullptr : text.c_str());
  };
  const siamese::EventPublisher::Counters counters =
      self->state ? self->state->publisher->counters() : self->last_counters;
  switch (prop_id) {
    case PROP_METHOD: g_value_set_enum(value, settings.method); break;
    case PROP_CAMERA_ID: string_or_null(settings.camera_id); break;
    case PROP_EVENTS: g_value_set_enum(value, static_cast<gint>(settings.events)); break;
    case PROP_LOCATION: g_value_set_string(value, settings.location.c_str()); break;
    case PROP_MAX_SIZE: g_value_set_uint64(value, settings.max_size); break;
    case PROP_MAX_FILES: g_value_set_uint(value, settings.max_files); break;
    case PROP_ADDRESS: g_value_set_string(value, settings.address.c_str()); break;
    case PROP_TOPIC: g_value_set_string(value, settings.topic.c_str()); break;
    case PROP_QOS: g_value_set_uint(value, settings.qos); break;
    case PROP_CLIENT_ID: string_or_null(settings.client_id); break;
    case PROP_USERNAME: string_or_null(settings.username); break;
    case PROP_TLS: g_value_set_boolean(value, settings.tls); break;
    case PROP_TLS_CA_FILE: string_or_null(settings.tls_ca_file); break;
    case PROP_TLS_CERT_FILE: string_or_null(settings.tls_cert_file); break;
    case PROP_TLS_KEY_FILE: string_or_null(settings.tls_key_file); break;
    case PROP_QUEUE_SIZE: g_value_set_uint(value, settings.queue_size); break;
    case PROP_FLUSH_TIMEOUT: g_value_set_uint(value, settings.flush_timeout_ms); break;
    case PROP_DROPPED: g_value_set_uint64(value, counters.dropped); break;
    case PROP_DELIVERED: g_value_set_uint64(value, counters.delivered); break;
    case PROP_CONNECTED: g_value_set_boolean(value, counters.connected); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec); break;
  }
}

static gboolean gst_siamese_publish_start(GstBaseTransform *trans) {
  GstSiamesePublish *self = GST_SIAMESE_PUBLISH(trans);
  const Settings settings = copy_settings(self);
  auto state = std::make_unique<State>();
  state->camera = settings.camera_id;
  state->queue_size = settings.queue_size;
  if (state->camera.empty()) {
    gchar *name = gst_object_get_name(GST_OBJECT(self));
    state->camera = name;
    g_free(name);
  }
  try {
    state->publisher = std::make_unique<siamese::EventPublisher>(
        make_transport(settings, state->camera), settings.queue_size,
        [self](bool reachable, const std::string &text) { post_status(self, reachable, text); });
  } catch (const std::exception &error) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", error.what()), (nullptr));
    return FALSE;
  }
  const ObjectLock lock(self);
  self->state.swap(state);
  self->last_counters = {};
  return TRUE;
}

static gboolean gst_siamese_publish_stop(GstBaseTransform *trans) {
  GstSiamesePublish *self = GST_SIAMESE_PUBLISH(trans);
  if (!self->state) return TRUE;  // start() failed
  const Settings settings = copy_settings(self);
  // No buffer arrives during stop(): the state stays in place (so the
  // counters stay readable) while the worker delivers what is queued.
  siamese::EventPublisher &publisher = *self->state->publisher;
  const std::uint64_t undelivered =
      publisher.close(std::chrono::milliseconds(settings.flush_timeout_ms));
  if (undelivered > 0)
    GST_ELEMENT_WARNING(self, RESOURCE, WRITE,
                        ("%" G_GUINT64_FORMAT " events could not be delivered within "
                         "flush-timeout (%u ms) and are lost.",
                         static_cast<guint64>(undelivered), settings.flush_timeout_ms),
                        (nullptr));
  std::unique_ptr<State> state;
  {
    const ObjectLock lock(self);
    self->last_counters = publisher.counters();
    self->state.swap(state);
  }
  return TRUE;
}

static GstFlowReturn gst_siamese_publish_transform_ip(GstBaseTransform *trans, GstBuffer *buffer) {
  GstSiamesePublish *self = GST_SIAMESE_PUBLISH(trans);
  State &state = *self->state;  // start() and stop() never run beside this
  siamese::ReportPolicy policy;
  {
    const ObjectLock lock(self);
    policy = self->settings.events;
  }

  const std::vector<FoundResult> found = fresh_results(buffer);
  std::vector<siamese::MatchResult> results;
  for (const FoundResult &entry : found) results.push_back(entry.result);
  const std::int64_t now = siamese::utc_now_us();
  bool overflow_began = false;
  for (const std::size_t i : state.filter.select(policy, results)) {
    const siamese::MatchEvent event = make_event(state, buffer, found[i], now);
    overflow_began |= state.publisher->publish(siamese::event_to_json(event)).overflow_began;
  }
  if (overflow_began)
    GST_ELEMENT_WARNING(self, RESOURCE, WRITE,
                        ("The event queue is full (queue-size %zu): dropping the oldest events "
                         "until it drains; the dropped property counts them.",
                         state.queue_size),
                        (nullptr));
  return GST_FLOW_OK;
}
