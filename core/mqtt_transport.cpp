// SPDX-License-Identifier: LGPL-2.1-or-later
//
// libmosquitto with an external loop: connect() starts a non-blocking
// connection, wait() polls the client's socket beside the publisher's wake-up
// descriptor and lets the library read, write and keep alive.  Callbacks run
// inside those calls, on the worker thread.
//
// Order and loss: a QoS 1 event handed to mosquitto_publish() stays in the
// library until the broker acknowledges it (on_publish), also across a lost
// connection: the library sends it again on reconnecting, before anything
// published after the reconnection (it resends when the CONNACK arrives;
// new events are only published after the call that handled it returns).
// So events are handed over only while connected, at most kWindow at a time,
// and everything else waits in the publisher's bounded queue.
#include "mqtt_transport.h"

#include <mosquitto.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace siamese {
namespace {

// Events handed to the library and not yet acknowledged; libmosquitto's own
// default in-flight limit, so it never queues more itself.
constexpr std::size_t kWindow = 20;
constexpr int kPlainPort = 1883;
constexpr int kTlsPort = 8883;

void init_library_once() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

void require_readable(const std::string &path, const char *property) {
  if (!path.empty() && access(path.c_str(), R_OK) != 0)
    throw TransportSettingsError(std::string("The ") + property + " file " + path +
                                 " cannot be read (" + std::strerror(errno) + ").");
}

bool connection_error(int code) {
  return code == MOSQ_ERR_NO_CONN || code == MOSQ_ERR_CONN_LOST || code == MOSQ_ERR_ERRNO;
}

}  // namespace

void parse_mqtt_address(const std::string &address, MqttSettings &settings) {
  const auto malformed = [&address](const std::string &why) {
    return TransportSettingsError("The MQTT address \"" + address + "\" " + why +
                                  ": write host, host:port or [IPv6 address]:port.");
  };
  std::string host = address;
  std::string port;
  if (!address.empty() && address.front() == '[') {
    const auto close = address.find(']');
    if (close == std::string::npos) throw malformed("has no closing ]");
    host = address.substr(1, close - 1);
    if (close + 1 < address.size()) {
      if (address[close + 1] != ':') throw malformed("has text after ]");
      port = address.substr(close + 2);
    }
  } else if (const auto colon = address.rfind(':'); colon != std::string::npos) {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (host.empty()) throw malformed("has no host");
  settings.host = host;
  if (port.empty() && address.back() != ':') return;
  std::size_t used = 0;
  int number = 0;
  try {
    number = std::stoi(port, &used);
  } catch (const std::exception &) {
    used = 0;
  }
  if (used != port.size() || port.empty() || number < 1 || number > 65535)
    throw malformed("has an invalid port");
  settings.port = number;
}

MqttTransport::MqttTransport(MqttSettings settings) : settings_(std::move(settings)) {
  if (settings_.qos != 0 && settings_.qos != 1)
    throw TransportSettingsError("The MQTT QoS must be 0 or 1, not " +
                                 std::to_string(settings_.qos) + ".");
  if (settings_.topic.empty() || mosquitto_pub_topic_check(settings_.topic.c_str()) != MOSQ_ERR_SUCCESS)
    throw TransportSettingsError("The MQTT topic \"" + settings_.topic +
                                 "\" is not a topic to publish to (not empty, no + or #).");
  if (settings_.port == 0) settings_.port = settings_.tls ? kTlsPort : kPlainPort;
  if (settings_.tls_cert_file.empty() != settings_.tls_key_file.empty())
    throw TransportSettingsError(
        "A TLS client certificate needs both tls-cert-file and tls-key-file.");
  require_readable(settings_.tls_ca_file, "tls-ca-file");
  require_readable(settings_.tls_cert_file, "tls-cert-file");
  require_readable(settings_.tls_key_file, "tls-key-file");

  init_library_once();
  client_ = mosquitto_new(settings_.client_id.empty() ? nullptr : settings_.client_id.c_str(),
                          true, this);
  if (!client_) throw std::runtime_error("libmosquitto cannot create a client (out of memory?).");
  mosquitto_connect_callback_set(client_, &MqttTransport::on_connect);
  mosquitto_disconnect_callback_set(client_, &MqttTransport::on_disconnect);
  mosquitto_publish_callback_set(client_, &MqttTransport::on_publish);
  mosquitto_int_option(client_, MOSQ_OPT_TCP_NODELAY, 1);
  int code = MOSQ_ERR_SUCCESS;
  if (!settings_.username.empty())
    code = mosquitto_username_pw_set(client_, settings_.username.c_str(),
                                     settings_.password.empty() ? nullptr : settings_.password.c_str());
  if (code == MOSQ_ERR_SUCCESS && settings_.tls) {
    const auto or_null = [](const std::string &text) { return text.empty() ? nullptr : text.c_str(); };
    if (settings_.tls_ca_file.empty())
      code = mosquitto_int_option(client_, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    if (code == MOSQ_ERR_SUCCESS)
      code = mosquitto_tls_set(client_, or_null(settings_.tls_ca_file), nullptr,
                               or_null(settings_.tls_cert_file), or_null(settings_.tls_key_file),
                               nullptr);
  }
  if (code != MOSQ_ERR_SUCCESS) {
    mosquitto_destroy(client_);
    throw TransportSettingsError("libmosquitto refuses the MQTT settings: " +
                                 std::string(mosquitto_strerror(code)));
  }
}

MqttTransport::~MqttTransport() {
  close();
  mosquitto_destroy(client_);
}

void MqttTransport::connect() {
  refusal_.clear();
  live_ = true;
  const int code = mosquitto_connect_async(client_, settings_.host.c_str(), settings_.port,
                                           settings_.keepalive_seconds);
  if (code != MOSQ_ERR_SUCCESS) lost(code);
}

std::size_t MqttTransport::room() const {
  return ready_ && in_flight_ < kWindow ? kWindow - in_flight_ : 0;
}

bool MqttTransport::send(const std::string &event) {
  // Counted first: a QoS 0 event may be written, and on_publish called,
  // inside mosquitto_publish().
  ++in_flight_;
  const int code = mosquitto_publish(client_, nullptr, settings_.topic.c_str(),
                                     static_cast<int>(event.size()), event.data(), settings_.qos,
                                     false);
  if (code == MOSQ_ERR_SUCCESS) return true;
  if (connection_error(code)) {
    // At QoS 1 the library has kept the event and sends it again after
    // reconnecting; at QoS 0 it is the caller's again.  wait() notices the
    // broken connection.
    if (settings_.qos > 0) return true;
    --in_flight_;
    return false;
  }
  // Refused for good (e.g. larger than the broker allows): never deliverable.
  --in_flight_;
  listener().on_discarded(1);
  return true;
}

void MqttTransport::wait(std::chrono::milliseconds timeout, int wake_fd) {
  const int socket = live_ ? mosquitto_socket(client_) : -1;
  pollfd descriptors[2] = {{wake_fd, POLLIN, 0}, {socket, POLLIN, 0}};
  if (mosquitto_want_write(client_)) descriptors[1].events |= POLLOUT;
  const nfds_t count = socket >= 0 ? 2 : 1;
  if (::poll(descriptors, count, static_cast<int>(timeout.count())) < 0 || socket < 0) return;
  // Reading also advances a TLS handshake; it returns at once when nothing
  // is there.  Writing only when the library has something to write.
  int code = MOSQ_ERR_SUCCESS;
  if (descriptors[1].revents != 0) code = mosquitto_loop_read(client_, 1);
  if (code == MOSQ_ERR_SUCCESS && mosquitto_socket(client_) >= 0 && mosquitto_want_write(client_) &&
      (descriptors[1].revents & POLLOUT))
    code = mosquitto_loop_write(client_, 1);
  if (code == MOSQ_ERR_SUCCESS && mosquitto_socket(client_) >= 0)
    code = mosquitto_loop_misc(client_);
  if (code != MOSQ_ERR_SUCCESS || mosquitto_socket(client_) < 0) lost(code);
}

void MqttTransport::close() {
  if (!live_) return;
  closing_ = true;
  mosquitto_disconnect(client_);  // writes DISCONNECT now and closes the socket
  closing_ = false;
  live_ = false;
  ready_ = false;
}

std::string MqttTransport::describe() const {
  return "the MQTT broker " + settings_.host + ":" + std::to_string(settings_.port) + " (topic " +
         settings_.topic + ")";
}

void MqttTransport::on_connect(struct mosquitto *, void *self, int code) {
  auto *transport = static_cast<MqttTransport *>(self);
  if (code != 0) {
    transport->refusal_ = std::string("the broker refused the connection (") +
                          mosquitto_connack_string(code) + ").";
    return;  // the library closes the connection: on_disconnect follows
  }
  transport->ready_ = true;
  transport->listener().on_ready();
}

void MqttTransport::on_disconnect(struct mosquitto *, void *self, int code) {
  auto *transport = static_cast<MqttTransport *>(self);
  if (!transport->closing_) transport->lost(code == MOSQ_ERR_SUCCESS ? MOSQ_ERR_CONN_LOST : code);
}

void MqttTransport::on_publish(struct mosquitto *, void *self, int) {
  auto *transport = static_cast<MqttTransport *>(self);
  if (transport->in_flight_ > 0) --transport->in_flight_;
  transport->listener().on_delivered(1);
}

void MqttTransport::lost(int code) {
  if (!live_) return;  // already reported (the callback and the loop's result both say so)
  const std::string why = explain(code);
  live_ = false;
  ready_ = false;
  // A socket the library left open is closed by the next connect().
  if (settings_.qos == 0 && in_flight_ > 0) {
    listener().on_discarded(in_flight_);
    in_flight_ = 0;
  }
  listener().on_lost(why);
}

std::string MqttTransport::explain(int code) const {
  if (!refusal_.empty()) return refusal_;
  if (code == MOSQ_ERR_ERRNO) return std::string(std::strerror(errno)) + ".";
  return mosquitto_strerror(code);
}

}  // namespace siamese
