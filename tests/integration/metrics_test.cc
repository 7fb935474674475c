// GET /metrics: the families client dashboards rely on, and that their values move.
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

class MetricsTest : public SharedDaemonTest<MetricsTest> {};

std::vector<MetricSample> Scrape(Client& c) {
  Response r = c.Get("/metrics");
  EXPECT_EQ(r.status, 200) << r;
  return ParseMetrics(r.body);
}

double Value(Client& c, std::string_view name, std::string_view filter = {}) {
  auto v = SumMetric(Scrape(c), name, filter);
  EXPECT_TRUE(v.has_value()) << "no sample " << name << (filter.empty() ? "" : " with ") << filter;
  return v.value_or(-1);
}

::testing::AssertionResult IsHistogram(const std::string& text,
                                       const std::vector<MetricSample>& samples,
                                       const std::string& name) {
  if (text.find("# TYPE " + name + " histogram") == std::string::npos) {
    return ::testing::AssertionFailure() << "no `# TYPE " << name << " histogram`";
  }
  auto inf = SumMetric(samples, name + "_bucket", "le=\"+Inf\"");
  auto count = SumMetric(samples, name + "_count");
  auto sum = SumMetric(samples, name + "_sum");
  if (!inf || !count || !sum) {
    return ::testing::AssertionFailure() << name << " lacks _bucket{le=\"+Inf\"}, _sum or _count";
  }
  if (*inf != *count) {
    return ::testing::AssertionFailure()
           << name << ": +Inf bucket " << *inf << " != count " << *count;
  }
  return ::testing::AssertionSuccess();
}

TEST_F(MetricsTest, RequiredFamiliesArePresent) {
  // Some traffic first, so that every family has had a reason to appear.
  User u(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = u.Join(room);
  ASSERT_TRUE(j.ok);
  u.Say(room, "x");
  ASSERT_TRUE(u.Poll(room, {.cursor = j.cursor, .timeout_ms = 0}).ok);

  Client c(port());
  Response r = c.Get("/metrics");
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.Header("Content-Type").rfind("text/plain", 0), 0u) << r;
  std::vector<MetricSample> samples = ParseMetrics(r.body);
  for (const char* name : {"chatroomd_open_connections", "chatroomd_held_polls",
                           "chatroomd_messages_accepted_total", "chatroomd_deliveries_total"}) {
    EXPECT_TRUE(SumMetric(samples, name).has_value()) << "missing " << name;
  }
  bool labelled = false;
  for (const auto& s : samples) {
    if (s.name == "chatroomd_requests_total" && s.labels.find("endpoint=\"") != std::string::npos &&
        s.labels.find("status=\"200\"") != std::string::npos) {
      labelled = true;
    }
  }
  EXPECT_TRUE(labelled) << "no chatroomd_requests_total{endpoint=\"...\",status=\"200\"}";
  for (const char* name : {"chatroomd_delivery_latency_seconds", "chatroomd_store_batch_writes",
                           "chatroomd_store_batch_latency_seconds"}) {
    EXPECT_TRUE(IsHistogram(r.body, samples, name));
  }
}

TEST_F(MetricsTest, PresenceFamiliesPerSect) {
  User u(port(), "presence-metrics");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  // The online gauge is the sum of the rooms' published counts: at least this user, once the
  // room has published (at once for a quiet room; within a tick otherwise).
  EXPECT_TRUE(WaitUntil(
      [&] { return ScrapeMetric(port(), "chatroomd_online_users", "sect=\"main\"") >= 1.0; }, 3s));
  EXPECT_TRUE(WaitUntil(
      [&] {
        return ScrapeMetric(port(), "chatroomd_presence_aggregations_total", "sect=\"main\"") >=
               1.0;
      },
      3s));
  for (const char* name :
       {"chatroomd_presence_expired_total", "chatroomd_presence_aggregation_seconds_total",
        "chatroomd_presence_rooms_estimated", "chatroomd_presence_audience_writes_total"}) {
    EXPECT_TRUE(ScrapeMetric(port(), name, "sect=\"main\"").has_value()) << "missing " << name;
  }
  Response r = Client(port()).Get("/metrics");
  EXPECT_NE(r.body.find("# TYPE chatroomd_online_users gauge"), std::string::npos);
  EXPECT_NE(r.body.find("# TYPE chatroomd_presence_expired_total counter"), std::string::npos);
}

TEST_F(MetricsTest, MessagesAcceptedCountsNewMessagesOnly) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  Client c(port());
  double before = Value(c, "chatroomd_messages_accepted_total");
  for (int i = 0; i < 7; ++i) u.Say(room, "m" + std::to_string(i), i == 3);
  // A duplicate and a rejected send add nothing.
  ASSERT_TRUE(u.Send(room, {.body = "d", .client_msg_id = "dup"}).ok);
  ASSERT_TRUE(u.Send(room, {.body = "d", .client_msg_id = "dup"}).duplicate);
  EXPECT_EQ(u.SendRaw(room, R"({"body":5})").status, 400);
  EXPECT_TRUE(
      WaitUntil([&] { return Value(c, "chatroomd_messages_accepted_total") >= before + 8; }, 2s));
  EXPECT_EQ(Value(c, "chatroomd_messages_accepted_total"), before + 8);
}

TEST_F(MetricsTest, RequestsAreCountedByStatus) {
  Client c(port());
  double before = SumMetric(Scrape(c), "chatroomd_requests_total", "status=\"404\"").value_or(0);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.Get("/nope", {{"X-User-Id", "alice"}}).status, 404);
  }
  EXPECT_TRUE(WaitUntil(
      [&] {
        return SumMetric(Scrape(c), "chatroomd_requests_total", "status=\"404\"").value_or(0) ==
               before + 3;
      },
      2s))
      << "chatroomd_requests_total{status=\"404\"} did not grow by 3";
}

TEST_F(MetricsTest, ErrorResponsesAreCountedByCode) {
  User u(port(), "alice");
  std::string room = UniqueRoom();
  ASSERT_TRUE(u.Join(room).ok);
  Client c(port());
  auto errors = [&](std::string_view code) {
    return SumMetric(Scrape(c), "chatroomd_error_responses_total",
                     "code=\"" + std::string(code) + "\"");
  };
  // Every code has a series from the start (zero until it happens).
  for (const char* code :
       {"bad_request", "bad_cursor", "room_not_found", "rate_limited", "overloaded", "internal"}) {
    EXPECT_TRUE(errors(code).has_value()) << "no chatroomd_error_responses_total{code=" << code;
  }
  const double bad_cursor = errors("bad_cursor").value_or(-1);
  const double not_found = errors("room_not_found").value_or(-1);
  const double bad_request = errors("bad_request").value_or(-1);
  EXPECT_EQ(u.PollRaw(room, "cursor=%21%21&timeout_ms=0").status, 400);
  EXPECT_EQ(u.PollRaw(room, "cursor=%21%21&timeout_ms=0").status, 400);
  EXPECT_EQ(u.PollRaw(UniqueRoom("gone"), "timeout_ms=0").status, 404);
  EXPECT_TRUE(WaitUntil(
      [&] {
        return errors("bad_cursor") == bad_cursor + 2 && errors("room_not_found") == not_found + 1;
      },
      2s))
      << "bad_cursor " << errors("bad_cursor").value_or(-1) << " (was " << bad_cursor
      << "), room_not_found " << errors("room_not_found").value_or(-1) << " (was " << not_found
      << ")";
  EXPECT_EQ(errors("bad_request"), bad_request);  // the others did not move
}

TEST_F(MetricsTest, LoopLagBuildInfoAndProcessFamilies) {
  Client c(port());
  Response r = c.Get("/metrics");
  ASSERT_EQ(r.status, 200) << r;
  std::vector<MetricSample> samples = ParseMetrics(r.body);
  auto lag = SumMetric(samples, "chatroomd_loop_lag_max_seconds", "sect=\"main\"");
  ASSERT_TRUE(lag.has_value()) << "no chatroomd_loop_lag_max_seconds{sect=\"main\"}";
  EXPECT_GE(*lag, 0);
  EXPECT_LT(*lag, 5);  // an idle test daemon's loop is not seconds late
  EXPECT_NE(r.body.find("# TYPE chatroomd_loop_lag_max_seconds gauge"), std::string::npos);
  EXPECT_NE(r.body.find("chatroomd_build_info{version=\""), std::string::npos);
  EXPECT_EQ(SumMetric(samples, "chatroomd_build_info"), 1);
  EXPECT_GT(SumMetric(samples, "process_resident_memory_bytes").value_or(0), 1 << 20);
  EXPECT_GE(SumMetric(samples, "process_open_fds").value_or(0), 3);
  EXPECT_GT(SumMetric(samples, "process_max_fds").value_or(0), 0);
  EXPECT_GT(SumMetric(samples, "process_cpu_seconds_total").value_or(0), 0);
  // Started after the system booted, and not in the future.
  const double start = SumMetric(samples, "process_start_time_seconds").value_or(0);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(start, now - 24 * 3600 * 365);
  EXPECT_LE(start, now + 5);
}

TEST_F(MetricsTest, HeldPollsDeliveriesAndStoreBatches) {
  Client c(port());
  User alice(port(), "alice");
  std::string room = UniqueRoom();
  JoinResult j = alice.Join(room);
  ASSERT_TRUE(j.ok);
  ASSERT_TRUE(WaitUntil([&] { return Value(c, "chatroomd_held_polls") == 0; }, 3s));
  double deliveries = Value(c, "chatroomd_deliveries_total");
  double latency = Value(c, "chatroomd_delivery_latency_seconds_count");
  double batches = Value(c, "chatroomd_store_batch_writes_count");
  double batch_latency = Value(c, "chatroomd_store_batch_latency_seconds_count");

  auto poll = std::async(std::launch::async, [&] {
    User bob(port(), "bob");
    return bob.Poll(room, {.cursor = j.cursor, .timeout_ms = 10000});
  });
  EXPECT_TRUE(WaitUntil([&] { return Value(c, "chatroomd_held_polls") == 1; }, 5s))
      << "chatroomd_held_polls never showed the held poll";
  alice.Say(room, "to bob");
  PollResult p = poll.get();
  ASSERT_TRUE(p.ok);
  ASSERT_EQ(p.messages.size(), 1u);
  EXPECT_TRUE(WaitUntil([&] { return Value(c, "chatroomd_held_polls") == 0; }, 3s));
  EXPECT_TRUE(WaitUntil(
      [&] {
        auto s = Scrape(c);
        return SumMetric(s, "chatroomd_deliveries_total").value_or(0) >= deliveries + 1 &&
               SumMetric(s, "chatroomd_delivery_latency_seconds_count").value_or(0) >=
                   latency + 1 &&
               SumMetric(s, "chatroomd_store_batch_writes_count").value_or(0) >= batches + 1 &&
               SumMetric(s, "chatroomd_store_batch_latency_seconds_count").value_or(0) >=
                   batch_latency + 1;
      },
      2s))
      << "deliveries, delivery latency or store batch metrics did not move";
}

TEST_F(MetricsTest, OpenConnectionsFollowsClients) {
  Client c(port());
  ASSERT_EQ(c.Get("/healthz").status, 200);
  // Earlier tests' connections may still be closing: wait for the count to settle.
  double base = -1;
  ASSERT_TRUE(WaitUntil(
      [&] {
        double a = Value(c, "chatroomd_open_connections");
        std::this_thread::sleep_for(50ms);
        double b = Value(c, "chatroomd_open_connections");
        base = b;
        return a == b && b >= 1;
      },
      5s));
  {
    std::vector<std::unique_ptr<Client>> more;
    for (int i = 0; i < 3; ++i) {
      more.push_back(std::make_unique<Client>(port()));
      ASSERT_EQ(more.back()->Get("/healthz").status, 200);
    }
    EXPECT_TRUE(WaitUntil([&] { return Value(c, "chatroomd_open_connections") == base + 3; }, 3s))
        << "open connections did not grow by 3 from " << base;
  }
  EXPECT_TRUE(WaitUntil([&] { return Value(c, "chatroomd_open_connections") == base; }, 3s))
      << "open connections did not drop back to " << base;
}

}  // namespace
}  // namespace chatroomd::it
