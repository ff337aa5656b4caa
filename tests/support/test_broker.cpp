// SPDX-License-Identifier: LGPL-2.1-or-later
#include "test_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char **environ;

namespace siamese::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// How long a broker may take to start, or a subscription to be acknowledged.
constexpr auto kStartPatience = 15s;

[[noreturn]] void fail(const std::string &what) { throw std::runtime_error("test broker: " + what); }

// A port no one listens on now: bind port 0 and let the kernel choose.
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0)
    fail("no free port");
  close(fd);
  return ntohs(address.sin_port);
}

bool accepts_connections(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool connected = connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0;
  close(fd);
  return connected;
}

void run(const std::string &command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) fail("`" + command + "` failed");
}

std::string read_text(const std::string &path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// A certificate authority and a server certificate for 127.0.0.1 it signed
// (elliptic-curve keys: made in milliseconds).
void make_certificates(const std::string &folder) {
  const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  run("cd " + folder + " && openssl req -x509" + key +
      " -keyout ca.key -out ca.crt -days 2 -subj /CN=siamese-test-ca");
  run("cd " + folder + " && openssl req" + key +
      " -keyout server.key -out server.csr -subj /CN=127.0.0.1");
  std::ofstream(folder + "/san.ext") << "subjectAltName=IP:127.0.0.1\n";
  run("cd " + folder + " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key " +
      "-CAcreateserial -out server.crt -days 2 -extfile san.ext");
}

}  // namespace

TestBroker::TestBroker(const Options &options) : options_(options) {
  char pattern[] = "/tmp/siamese-broker-XXXXXX";
  if (!mkdtemp(pattern)) fail("cannot create a temporary folder");
  folder_ = pattern;
  port_ = free_port();
  write_config(options);
  spawn();
}

TestBroker::~TestBroker() {
  kill();
  std::error_code ignored;
  fs::remove_all(folder_, ignored);
}

void TestBroker::write_config(const Options &options) {
  std::ofstream config(folder_ + "/mosquitto.conf");
  // Run as whoever runs the test (as root, mosquitto would otherwise switch
  // to its own user, who cannot write the persistence file here).
  if (const passwd *user = getpwuid(getuid())) config << "user " << user->pw_name << "\n";
  config << "listener " << port_ << " 127.0.0.1\n"
         << "persistence true\n"
         << "persistence_location " << folder_ << "/\n"
         << "autosave_interval 0\n"
         << "max_queued_messages 0\n"
         << "log_dest file " << folder_ << "/mosquitto.log\n"
         << "log_type all\n";
  if (options.tls) {
    make_certificates(folder_);
    config << "cafile " << folder_ << "/ca.crt\n"
           << "certfile " << folder_ << "/server.crt\n"
           << "keyfile " << folder_ << "/server.key\n";
  }
  if (options.username.empty()) {
    config << "allow_anonymous true\n";
  } else {
    run(std::string(SIAMESE_MOSQUITTO_PASSWD) + " -b -c " + folder_ + "/passwords " +
        options.username + " " + options.password);
    config << "allow_anonymous false\n"
           << "password_file " << folder_ << "/passwords\n";
  }
}

void TestBroker::spawn() {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, (folder_ + "/stderr.log").c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  const std::string config = folder_ + "/mosquitto.conf";
  const char *arguments[] = {SIAMESE_MOSQUITTO, "-c", config.c_str(), nullptr};
  const int error = posix_spawn(&pid_, SIAMESE_MOSQUITTO, &actions, nullptr,
                                const_cast<char *const *>(arguments), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) fail(std::string("cannot start ") + SIAMESE_MOSQUITTO);
  wait_until_listening();
}

void TestBroker::wait_until_listening() {
  const auto deadline = std::chrono::steady_clock::now() + kStartPatience;
  while (!accepts_connections(port_)) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      fail("mosquitto exited at start: " + read_text(folder_ + "/stderr.log") +
           read_text(folder_ + "/mosquitto.log"));
    }
    if (std::chrono::steady_clock::now() > deadline) fail("mosquitto does not listen");
    std::this_thread::sleep_for(10ms);
  }
}

void TestBroker::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void TestBroker::restart() {
  kill();
  spawn();
}

void TestBroker::save() {
  const std::string database = folder_ + "/mosquitto.db";
  std::error_code ignored;
  fs::remove(database, ignored);
  ::kill(pid_, SIGUSR1);
  const auto deadline = std::chrono::steady_clock::now() + kStartPatience;
  while (!fs::exists(database)) {
    if (std::chrono::steady_clock::now() > deadline) fail("mosquitto did not save its state");
    std::this_thread::sleep_for(10ms);
  }
}

TestSubscriber::TestSubscriber(const TestBroker &broker, const std::string &topic) : topic_(topic) {
  static std::atomic<int> instances{0};
  mosquitto_lib_init();
  const std::string id =
      "siamese-test-subscriber-" + std::to_string(getpid()) + "-" + std::to_string(instances++);
  client_ = mosquitto_new(id.c_str(), false, this);  // persistent session
  if (!client_) fail("cannot create a subscriber");
  mosquitto_connect_callback_set(client_, &TestSubscriber::on_connect);
  mosquitto_subscribe_callback_set(client_, &TestSubscriber::on_subscribe);
  mosquitto_message_callback_set(client_, &TestSubscriber::on_message);
  mosquitto_reconnect_delay_set(client_, 1, 1, false);
  const TestBroker::Options &options = broker.options();
  if (!options.username.empty())
    mosquitto_username_pw_set(client_, options.username.c_str(), options.password.c_str());
  if (options.tls) mosquitto_tls_set(client_, broker.ca_file().c_str(), nullptr, nullptr, nullptr, nullptr);
  if (mosquitto_connect(client_, "127.0.0.1", broker.port(), 30) != MOSQ_ERR_SUCCESS ||
      mosquitto_loop_start(client_) != MOSQ_ERR_SUCCESS)
    fail("the subscriber cannot connect");
  std::unique_lock<std::mutex> lock(mutex_);
  if (!changed_.wait_for(lock, kStartPatience, [this] { return subscribed_; }))
    fail("the subscription was not acknowledged");
}

TestSubscriber::~TestSubscriber() {
  mosquitto_disconnect(client_);
  mosquitto_loop_stop(client_, false);
  mosquitto_destroy(client_);
}

std::vector<std::string> TestSubscriber::messages() {
  const std::lock_guard<std::mutex> lock(mutex_);
  return messages_;
}

bool TestSubscriber::wait_for(std::size_t count, std::chrono::seconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
}

void TestSubscriber::on_connect(struct mosquitto *client, void *self, int code) {
  if (code == 0)
    mosquitto_subscribe(client, nullptr, static_cast<TestSubscriber *>(self)->topic_.c_str(), 1);
}

void TestSubscriber::on_subscribe(struct mosquitto *, void *self, int, int, const int *) {
  auto *subscriber = static_cast<TestSubscriber *>(self);
  {
    const std::lock_guard<std::mutex> lock(subscriber->mutex_);
    subscriber->subscribed_ = true;
  }
  subscriber->changed_.notify_all();
}

void TestSubscriber::on_message(struct mosquitto *, void *self, const struct mosquitto_message *message) {
  auto *subscriber = static_cast<TestSubscriber *>(self);
  {
    const std::lock_guard<std::mutex> lock(subscriber->mutex_);
    subscriber->messages_.emplace_back(static_cast<const char *>(message->payload),
                                       static_cast<std::size_t>(message->payloadlen));
  }
  subscriber->changed_.notify_all();
}

}  // namespace siamese::test
