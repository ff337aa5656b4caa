// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Events published to an MQTT broker with libmosquitto, driven by the
// publisher's worker (no thread of libmosquitto's own): one topic, QoS 0 or
// 1, optional TLS and user name / password.
#pragma once

#include <memory>
#include <string>

#include "event_transport.h"

struct mosquitto;

namespace siamese {

struct MqttSettings {
  std::string host = "localhost";
  int port = 0;  // 0: 1883, or 8883 with TLS
  std::string topic;
  int qos = 1;  // 0: at most once; 1: at least once (kept until the broker acknowledges it)
  std::string client_id;  // empty: a random one
  std::string username;   // empty: none
  std::string password;
  bool tls = false;
  std::string tls_ca_file;    // empty: the system's trusted authorities
  std::string tls_cert_file;  // client certificate, with tls_key_file
  std::string tls_key_file;
  int keepalive_seconds = 30;
};

// Reads "host", "host:port" or "[ipv6]:port" into `settings`.  Throws
// TransportSettingsError naming the address when it is malformed.
void parse_mqtt_address(const std::string &address, MqttSettings &settings);

class MqttTransport : public EventTransport {
 public:
  // Throws TransportSettingsError for an invalid topic, QoS, or TLS file
  // (naming it).
  explicit MqttTransport(MqttSettings settings);
  ~MqttTransport() override;

  void connect() override;
  bool connecting() const override { return live_; }
  bool ready() const override { return ready_; }
  std::size_t room() const override;
  std::size_t in_flight() const override { return in_flight_; }
  bool send(const std::string &event) override;
  void wait(std::chrono::milliseconds timeout, int wake_fd) override;
  void close() override;
  std::string describe() const override;

 private:
  static void on_connect(struct mosquitto *client, void *self, int code);
  static void on_disconnect(struct mosquitto *client, void *self, int code);
  static void on_publish(struct mosquitto *client, void *self, int message_id);
  // The connection failed or ended with `code` (a mosquitto error).
  void lost(int code);
  std::string explain(int code) const;

  MqttSettings settings_;
  struct mosquitto *client_ = nullptr;
  bool live_ = false;       // a connection attempt or connection not yet reported lost
  bool ready_ = false;      // the broker accepted the connection
  bool closing_ = false;
  std::size_t in_flight_ = 0;
  std::string refusal_;     // why the broker refused the last connection, if it did
};

}  // namespace siamese
