#include "chatroomd/config/config.h"

#include <gmock/gmock.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace chatroomd::config {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kGoodSects[] = R"(
sects {
  name: "normal-1"
  threads: 2
  ranges { start: 0 end: 0xFFFFFFFFFFFFFFFF }
}
sects { name: "vip" vip: true }
)";

// Each test writes its files into a fresh directory, so tests never see each other's files.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "chatroomd-config-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string MainPath() const { return Path("chatroomd.textproto"); }
  std::string SectsPath() const { return Path("sects.textproto"); }

  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(Path(name)) << text;
  }

  // Writes the main file (and a valid sects file unless the test wrote its own) and loads.
  Result<std::shared_ptr<const LoadedConfig>> Load(const std::string& main_text,
                                                   const Overrides& overrides = {}) {
    Write("chatroomd.textproto", main_text);
    if (!std::filesystem::exists(SectsPath())) Write("sects.textproto", kGoodSects);
    return LoadConfig(MainPath(), overrides);
  }

  Result<std::shared_ptr<const LoadedConfig>> LoadSects(const std::string& sects_text) {
    Write("sects.textproto", sects_text);
    return Load("");
  }

  // The problem lines of a failed load, with the temp directory shown as "<dir>".
  static std::vector<std::string> Problems(
      const Result<std::shared_ptr<const LoadedConfig>>& result, const std::string& dir) {
    EXPECT_FALSE(result.ok());
    if (result.ok()) return {};
    EXPECT_EQ(result.error().code, ErrorCode::kBadRequest);
    std::vector<std::string> lines;
    std::string message = result.error().message;
    size_t pos = 0;
    while ((pos = message.find(dir)) != std::string::npos)
      message.replace(pos, dir.size(), "<dir>");
    size_t start = 0;
    for (;;) {
      const size_t end = message.find('\n', start);
      lines.push_back(message.substr(start, end - start));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return lines;
  }
  std::vector<std::string> Problems(const Result<std::shared_ptr<const LoadedConfig>>& result) {
    return Problems(result, dir_.string());
  }

  std::filesystem::path dir_;
};

// --- the files that ship ----------------------------------------------------------------

TEST(ShippedConfigTest, DefaultFilesLoadAndValidate) {
  const std::string dir = std::string(CHATROOMD_SOURCE_DIR) + "/config";
  auto result = LoadConfig(dir + "/chatroomd.textproto", {});
  ASSERT_TRUE(result.ok()) << result.error().message;
  const LoadedConfig& config = **result;
  ASSERT_EQ(config.main.listeners_size(), 1);
  EXPECT_EQ(config.main.listeners(0).host(), "127.0.0.1");
  EXPECT_EQ(config.main.listeners(0).port(), 8080u);
  EXPECT_FALSE(config.main.auth().enabled());
  EXPECT_EQ(config.main.store().data_dir(), "data");
  EXPECT_TRUE(config.main.store().sync_wal());
  EXPECT_EQ(config.sects_path, dir + "/sects.textproto");
  ASSERT_EQ(config.sects.sects_size(), 2);
  EXPECT_EQ(config.sects.sects(0).name(), "normal-1");
  EXPECT_FALSE(config.sects.sects(0).vip());
  EXPECT_EQ(config.sects.sects(1).name(), "vip");
  EXPECT_TRUE(config.sects.sects(1).vip());
  EXPECT_EQ(config.sects.sects(1).rooms_size(), 0);
}

TEST_F(ConfigTest, ShippedFileWritesOutExactlyTheBuiltInDefaults) {
  // An empty main file gets the schema's defaults; the shipped file must say the same, or the
  // comments in it would mislead operators.
  auto empty = Load("");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  auto shipped = LoadConfig(std::string(CHATROOMD_SOURCE_DIR) + "/config/chatroomd.textproto", {});
  ASSERT_TRUE(shipped.ok()) << shipped.error().message;
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare((*empty)->main, (*shipped)->main)) << diff;
}

// --- defaults ----------------------------------------------------------------------------

TEST_F(ConfigTest, DefaultsAreFilledIn) {
  auto result = Load("");
  ASSERT_TRUE(result.ok()) << result.error().message;
  const Config& main = (*result)->main;
  ASSERT_EQ(main.listeners_size(), 1);
  EXPECT_EQ(main.listeners(0).host(), "127.0.0.1");
  EXPECT_EQ(main.listeners(0).port(), 8080u);
  EXPECT_TRUE(main.listeners(0).has_host());
  EXPECT_TRUE(main.has_http());
  EXPECT_TRUE(main.http().has_io_threads());
  EXPECT_EQ(main.http().idle_timeout_ms(), 75000u);
  EXPECT_TRUE(main.has_auth());
  EXPECT_TRUE(main.auth().has_enabled());
  EXPECT_TRUE(main.store().has_sync_wal());
  EXPECT_TRUE(main.store().has_data_dir());
  EXPECT_TRUE(main.rooms().has_send_burst());
  EXPECT_EQ(main.rooms().window_size(), 2000u);
  EXPECT_TRUE(main.log().has_level());
  EXPECT_TRUE(main.has_sects_file());
  EXPECT_TRUE((*result)->sects.sects(1).has_threads());
  EXPECT_TRUE((*result)->sects.sects(0).has_vip());
  // The dump shows effective values, not only the ones written.
  EXPECT_THAT(main.ShortDebugString(), HasSubstr("max_connections: 200000"));
  EXPECT_EQ((*result)->main_path, MainPath());
  EXPECT_EQ((*result)->sects_path, SectsPath());
}

TEST_F(ConfigTest, WrittenValuesWin) {
  auto result = Load(R"(
listeners { host: "::1" port: 0 }
listeners { host: "127.0.0.2" port: 9001 }
http { io_threads: 4 }
rooms { max_message_bytes: 1000 send_rate_per_s: 0 send_burst: 0 }
log { level: "debug" }
)");
  ASSERT_TRUE(result.ok()) << result.error().message;
  const Config& main = (*result)->main;
  ASSERT_EQ(main.listeners_size(), 2);
  EXPECT_EQ(main.listeners(0).host(), "::1");
  EXPECT_EQ(main.listeners(0).port(), 0u);
  EXPECT_EQ(main.http().io_threads(), 4u);
  EXPECT_EQ(main.http().max_body_bytes(), 65536u);
  EXPECT_EQ(main.rooms().max_message_bytes(), 1000u);
  EXPECT_EQ(main.log().level(), "debug");
}

TEST_F(ConfigTest, DescribeConfigSummarises) {
  auto result = Load("");
  ASSERT_TRUE(result.ok()) << result.error().message;
  const std::string text = DescribeConfig(**result);
  EXPECT_THAT(text, HasSubstr("listeners: 127.0.0.1:8080"));
  EXPECT_THAT(text, HasSubstr("1 io threads"));
  EXPECT_THAT(text, HasSubstr("DEV MODE"));
  EXPECT_THAT(text, HasSubstr("data dir data"));
  EXPECT_THAT(text, HasSubstr("sync_wal on"));
  EXPECT_THAT(text, HasSubstr("retention 72 h"));
  EXPECT_THAT(text, HasSubstr("window 2000, priority 1000"));
  EXPECT_THAT(text, HasSubstr("sect normal-1: 2 threads, ranges [0x0, 0xFFFFFFFFFFFFFFFF]"));
  EXPECT_THAT(text, HasSubstr("sect vip: VIP, 1 threads, 0 pinned rooms"));
  EXPECT_NE(text.back(), '\n');
}

TEST_F(ConfigTest, DescribeConfigNeverShowsTheSecret) {
  Write("secret", "0123456789abcdef-very-secret\n");
  Overrides overrides;
  overrides.jwt_secret_file = Path("secret");
  auto result = Load("", overrides);
  ASSERT_TRUE(result.ok()) << result.error().message;
  const std::string text = DescribeConfig(**result);
  EXPECT_THAT(text, HasSubstr("auth: JWT"));
  EXPECT_THAT(text, Not(HasSubstr("very-secret")));
}

// --- errors in the main file -------------------------------------------------------------

TEST_F(ConfigTest, SyntaxErrorPointsAtLineAndColumn) {
  EXPECT_THAT(Problems(Load("http {\n  io_threads 4\n}\n")),
              ElementsAre("<dir>/chatroomd.textproto:2:14: Expected \":\", found \"4\"."));
}

TEST_F(ConfigTest, UnterminatedMessageIsReported) {
  EXPECT_THAT(Problems(Load("http {\n  io_threads: 4\n")),
              ElementsAre(StartsWith("<dir>/chatroomd.textproto:3:1: ")));
}

TEST_F(ConfigTest, UnknownFieldPointsAtIt) {
  EXPECT_THAT(Problems(Load("\nhttp {\n  io_thread: 4\n}\n")),
              ElementsAre("<dir>/chatroomd.textproto:3:3: Message type "
                          "\"chatroomd.config.HttpConfig\" has no field named \"io_thread\"."));
  // Tabs count to the next multiple of 8, as in protobuf's own messages.
  EXPECT_THAT(Problems(Load("http {\n\tio_thread: 4\n}\n")),
              ElementsAre(StartsWith("<dir>/chatroomd.textproto:2:9: ")));
}

TEST_F(ConfigTest, OutOfRangeValuePointsAtTheField) {
  EXPECT_THAT(Problems(Load("http {\n  io_threads: 0\n}\n")),
              ElementsAre("<dir>/chatroomd.textproto:2:3: http.io_threads is 0, must be in "
                          "1..64"));
}

TEST_F(ConfigTest, EveryProblemIsReported) {
  EXPECT_THAT(Problems(Load(R"(http { io_threads: 65 max_header_bytes: 10 }
store { data_dir: "" retention_hours: 0 }
rooms {
  online_ttl_ms: 5
  idle_unload_ms: 999
  max_rooms: 0
}
)")),
              ElementsAre("<dir>/chatroomd.textproto:1:8: http.io_threads is 65, must be in 1..64",
                          "<dir>/chatroomd.textproto:1:23: http.max_header_bytes is 10, must be "
                          "in 1024..1048576",
                          "<dir>/chatroomd.textproto:2:9: store.data_dir must not be empty",
                          "<dir>/chatroomd.textproto:2:22: store.retention_hours is 0, must be "
                          "in 1..87600",
                          "<dir>/chatroomd.textproto:4:3: rooms.online_ttl_ms is 5, must be in "
                          "1000..86400000",
                          "<dir>/chatroomd.textproto:5:3: rooms.idle_unload_ms is 999, must be "
                          "at least 1000",
                          "<dir>/chatroomd.textproto:6:3: rooms.max_rooms is 0, must be at least "
                          "1"));
}

TEST_F(ConfigTest, EdgeBoundsAreChecked) {
  EXPECT_THAT(Problems(Load(R"(rooms {
  edge_max_groups: 0
  edge_report_delay_ms: 0
  edge_idle_ms: 99
}
)")),
              ElementsAre("<dir>/chatroomd.textproto:2:3: rooms.edge_max_groups is 0, must be "
                          "in 1..1024",
                          "<dir>/chatroomd.textproto:3:3: rooms.edge_report_delay_ms is 0, must "
                          "be in 1..1000",
                          "<dir>/chatroomd.textproto:4:3: rooms.edge_idle_ms is 99, must be in "
                          "100..3600000"));
  auto ok = Load("rooms { edge_max_groups: 4 edge_report_delay_ms: 25 edge_idle_ms: 100 }");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ((*ok)->main.rooms().edge_max_groups(), 4u);
  EXPECT_EQ((*ok)->main.rooms().edge_report_delay_ms(), 25u);
  EXPECT_EQ((*ok)->main.rooms().edge_idle_ms(), 100u);
}

TEST_F(ConfigTest, CorsOriginsAreOriginsOrAStar) {
  EXPECT_THAT(Problems(Load(R"(http {
  cors_origins: "https://live.example.com"
  cors_origins: "*"
  cors_origins: "http://localhost:3000"
  cors_origins: "https://x.example/app"
  cors_origins: "live.example.com"
}
)")),
              ElementsAre(StartsWith("<dir>/chatroomd.textproto:5:3: http.cors_origins "
                                     "\"https://x.example/app\" must be"),
                          StartsWith("<dir>/chatroomd.textproto:6:3: http.cors_origins "
                                     "\"live.example.com\" must be")));
}

TEST_F(ConfigTest, StoreMemoryBoundsAreChecked) {
  EXPECT_THAT(Problems(Load("store {\n  write_buffer_mb: 7\n  max_wal_mb: 15\n}\n")),
              ElementsAre("<dir>/chatroomd.textproto:2:3: store.write_buffer_mb is 7, must be "
                          "in 8..65536",
                          "<dir>/chatroomd.textproto:3:3: store.max_wal_mb is 15, must be in "
                          "16..1048576"));
  auto ok = Load("");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ((*ok)->main.store().write_buffer_mb(), 64u);
  EXPECT_EQ((*ok)->main.store().max_wal_mb(), 128u);
}

TEST_F(ConfigTest, IntegerTooLargeForTheFieldIsASyntaxError) {
  EXPECT_THAT(
      Problems(Load("store { max_batch: 5000000000 }")),
      ElementsAre(AllOf(StartsWith("<dir>/chatroomd.textproto:1:"), HasSubstr("out of range"))));
}

TEST_F(ConfigTest, BadLogLevel) {
  EXPECT_THAT(Problems(Load("log {\n  level: \"loud\"\n}\n")),
              ElementsAre("<dir>/chatroomd.textproto:2:3: log.level \"loud\" must be one of "
                          "trace, debug, info, warn, error, critical, off"));
}

TEST_F(ConfigTest, MessageLargerThanBodyLimit) {
  EXPECT_THAT(Problems(Load("http { max_body_bytes: 2048 }\nrooms { max_message_bytes: 4096 }")),
              ElementsAre(AllOf(StartsWith("<dir>/chatroomd.textproto:2:9: "),
                                HasSubstr("must not exceed http.max_body_bytes (2048)"))));
  // Only the body limit was written: that is the line to fix.
  EXPECT_THAT(Problems(Load("\nhttp { max_body_bytes: 2048 }")),
              ElementsAre(StartsWith("<dir>/chatroomd.textproto:2:8: rooms.max_message_bytes")));
}

TEST_F(ConfigTest, SendBurstNeededWithARate) {
  EXPECT_THAT(Problems(Load("rooms { send_burst: 0 }")),
              ElementsAre(StartsWith("<dir>/chatroomd.textproto:1:9: rooms.send_burst")));
}

TEST_F(ConfigTest, ListenerHostAndPort) {
  EXPECT_THAT(Problems(Load(R"(listeners {
  host: "example.com"
  port: 70000
}
listeners { host: "[::1]" }
)")),
              ElementsAre(StartsWith("<dir>/chatroomd.textproto:2:3: listener host "
                                     "\"example.com\" must be an IP address"),
                          "<dir>/chatroomd.textproto:3:3: listener port 70000 is out of range "
                          "0..65535",
                          StartsWith("<dir>/chatroomd.textproto:5:13: listener host \"[::1]\"")));
}

TEST_F(ConfigTest, DuplicateListener) {
  EXPECT_THAT(Problems(Load("listeners { port: 9000 }\nlisteners { port: 9000 }\n")),
              ElementsAre("<dir>/chatroomd.textproto:2:1: listener 127.0.0.1:9000 is listed "
                          "twice (first at <dir>/chatroomd.textproto:1:1)"));
  // Port 0 picks a new port for each listener.
  EXPECT_TRUE(Load("listeners { port: 0 }\nlisteners { port: 0 }\n").ok());
}

TEST_F(ConfigTest, DevAuthNeedsLoopbackListeners) {
  EXPECT_THAT(Problems(Load("listeners {\n  host: \"127.0.0.1\"\n}\nlisteners {\n  host: "
                            "\"0.0.0.0\"\n  port: 80\n}\n")),
              ElementsAre(AllOf(StartsWith("<dir>/chatroomd.textproto:5:3: dev auth "
                                           "(auth.enabled=false) needs every listener on a "
                                           "loopback address"),
                                HasSubstr("0.0.0.0:80"))));
  EXPECT_TRUE(Load("listeners { host: \"::1\" } listeners { host: \"localhost\" port: 1 }").ok());
}

TEST_F(ConfigTest, EnabledAuthNeedsASecret) {
  EXPECT_THAT(Problems(Load("auth {\n  enabled: true\n}\n")),
              ElementsAre(StartsWith("<dir>/chatroomd.textproto:2:3: auth.enabled is true but "
                                     "there is no JWT key")));
  EXPECT_THAT(Problems(Load("auth {\n  enabled: true\n  jwt_secret: \"short\"\n}\n")),
              ElementsAre("<dir>/chatroomd.textproto:3:3: auth.jwt_secret is 5 bytes, needs at "
                          "least 16 bytes"));
  auto result = Load(R"(
listeners { host: "0.0.0.0" }
auth { enabled: true jwt_secret: "0123456789abcdef" }
)");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE((*result)->main.auth().enabled());
}

TEST_F(ConfigTest, JwtKeyFilesAreReadBesideTheMainFile) {
  Write("secret", "0123456789abcdef-main\n");
  Write("old", "0123456789abcdef-old");
  Write("key.pub", "-----BEGIN PUBLIC KEY-----\n...\n");
  auto result = Load(R"(
auth { enabled: true jwt_secret_file: "secret" jwt_extra_secret_files: "old"
       jwt_public_key_files: "key.pub" jwt_leeway_s: 10 jwt_cache_entries: 0 }
)");
  ASSERT_TRUE(result.ok()) << result.error().message;
  const LoadedConfig& c = **result;
  EXPECT_EQ(c.main.auth().jwt_secret(), "0123456789abcdef-main") << "trailing newline dropped";
  EXPECT_EQ(c.jwt_extra_secrets, std::vector<std::string>{"0123456789abcdef-old"});
  ASSERT_EQ(c.jwt_public_keys.size(), 1u);
  EXPECT_EQ(c.main.auth().jwt_leeway_s(), 10u);
  // Public keys alone are enough (RS256/ES256 only).
  EXPECT_TRUE(Load("auth { enabled: true jwt_public_key_files: \"key.pub\" }").ok());

  Write("short", "tooshort");
  EXPECT_THAT(Problems(Load("auth { enabled: true jwt_secret_file: \"secret\" "
                            "jwt_extra_secret_files: \"short\" }")),
              ElementsAre("<dir>/short: JWT secret is 8 bytes, needs at least 16"));
  EXPECT_THAT(Problems(Load("auth { enabled: true jwt_public_key_files: \"none.pub\" }")),
              ElementsAre(StartsWith("<dir>/none.pub: cannot read")));
  EXPECT_THAT(Problems(Load("auth { jwt_leeway_s: 7200 }")),
              ElementsAre(HasSubstr("auth.jwt_leeway_s")));
}

TEST_F(ConfigTest, MissingMainFile) {
  EXPECT_THAT(Problems(LoadConfig(Path("nope.textproto"), {})),
              ElementsAre("<dir>/nope.textproto: cannot read: No such file or directory"));
}

TEST_F(ConfigTest, MissingSectsFileIsResolvedNextToTheMainFile) {
  EXPECT_THAT(Problems(Load("sects_file: \"other/sects.textproto\"")),
              ElementsAre("<dir>/other/sects.textproto: cannot read: No such file or directory"));
}

TEST_F(ConfigTest, SectsFileInASubdirectory) {
  std::filesystem::create_directory(dir_ / "other");
  Write("other/s.textproto", kGoodSects);
  auto result = Load("sects_file: \"other/s.textproto\"");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ((*result)->sects_path, Path("other/s.textproto"));
}

TEST_F(ConfigTest, EmptySectsFileName) {
  EXPECT_THAT(Problems(Load("\nsects_file: \"\"")),
              ElementsAre("<dir>/chatroomd.textproto:2:1: sects_file must not be empty"));
}

// --- errors in the sects file ------------------------------------------------------------

TEST_F(ConfigTest, SectsSyntaxError) {
  EXPECT_THAT(Problems(LoadSects("sects {\n  name: \"a\"\n  thread: 2\n}\n")),
              ElementsAre(AllOf(StartsWith("<dir>/sects.textproto:3:3: "),
                                HasSubstr("no field named \"thread\""))));
}

TEST_F(ConfigTest, RepeatedSingularFieldPointsAtTheSecond) {
  EXPECT_THAT(Problems(Load("log { level: \"info\" }\nlog { level: \"debug\" }\n")),
              ElementsAre("<dir>/chatroomd.textproto:2:1: Non-repeated field \"log\" is "
                          "specified multiple times."));
}

TEST_F(ConfigTest, NoSects) {
  EXPECT_THAT(Problems(LoadSects("# nothing\n")),
              ElementsAre("<dir>/sects.textproto:1:1: no sects: at least one sect is needed"));
}

TEST_F(ConfigTest, SectHole) {
  EXPECT_THAT(Problems(LoadSects(R"(sects {
  name: "a"
  ranges { start: 0 end: 0x7FFFFFFFFFFFFFFF }
}
sects {
  name: "b"
  ranges { start: 0x9000000000000000 end: 0xFFFFFFFFFFFFFFFF }
}
)")),
              ElementsAre("<dir>/sects.textproto:7:3: hash ranges leave a hole: "
                          "[0x8000000000000000, 0x8FFFFFFFFFFFFFFF] is owned by no sect"));
}

TEST_F(ConfigTest, SectHoleAtTheEnd) {
  EXPECT_THAT(Problems(LoadSects("sects {\n  name: \"a\"\n  ranges { start: 0 end: 99 }\n}\n")),
              ElementsAre(StartsWith("<dir>/sects.textproto:3:3: hash ranges leave a hole: "
                                     "[0x64, 0xFFFFFFFFFFFFFFFF] is owned by no sect")));
}

TEST_F(ConfigTest, SectHoleAtTheStart) {
  EXPECT_THAT(
      Problems(LoadSects("sects { name: \"a\" ranges { start: 1 end: 0xFFFFFFFFFFFFFFFF } }\n")),
      ElementsAre("<dir>/sects.textproto:1:19: hash ranges leave a hole: [0x0, 0x0] is "
                  "owned by no sect"));
}

TEST_F(ConfigTest, SectOverlap) {
  EXPECT_THAT(Problems(LoadSects(R"(sects {
  name: "a"
  ranges { start: 0 end: 0x8FFFFFFFFFFFFFFF }
}
sects {
  name: "b"
  ranges { start: 0x8000000000000000 end: 0xFFFFFFFFFFFFFFFF }
}
)")),
              ElementsAre("<dir>/sects.textproto:7:3: hash ranges overlap: [0x8000000000000000, "
                          "0x8FFFFFFFFFFFFFFF] is owned by both sect \"a\" (range [0x0, "
                          "0x8FFFFFFFFFFFFFFF] at <dir>/sects.textproto:3:3) and sect \"b\""));
}

TEST_F(ConfigTest, SectOverlapPastTheEnd) {
  EXPECT_THAT(Problems(LoadSects(R"(sects {
  name: "a"
  ranges { start: 0 end: 0xFFFFFFFFFFFFFFFF }
  ranges { start: 0xFFFFFFFFFFFFFFFF end: 0xFFFFFFFFFFFFFFFF }
}
)")),
              ElementsAre(StartsWith("<dir>/sects.textproto:4:3: hash ranges overlap: "
                                     "[0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF]")));
}

TEST_F(ConfigTest, RangesMaySplitTheSpaceInAnyOrder) {
  auto result = LoadSects(R"(
sects { name: "b" ranges { start: 0x8000000000000000 end: 0xFFFFFFFFFFFFFFFF } }
sects { name: "a" threads: 3 ranges { start: 0 end: 9 } ranges { start: 10 end: 0x7FFFFFFFFFFFFFFF } }
)");
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ((*result)->sects.sects(1).threads(), 3u);
}

TEST_F(ConfigTest, TwoVipSects) {
  EXPECT_THAT(Problems(LoadSects(R"(sects { name: "n" ranges { start: 0 end: 0xFFFFFFFFFFFFFFFF } }
sects {
  name: "vip1"
  vip: true
}
sects {
  name: "vip2"
  vip: true
}
)")),
              ElementsAre("<dir>/sects.textproto:8:3: sect \"vip2\" is a second VIP sect; at "
                          "most one sect may be vip (the first is \"vip1\" at "
                          "<dir>/sects.textproto:4:3)"));
}

TEST_F(ConfigTest, DuplicatePinnedRoom) {
  EXPECT_THAT(Problems(LoadSects(R"(sects {
  name: "n"
  ranges { start: 0 end: 0xFFFFFFFFFFFFFFFF }
  rooms: "lobby"
}
sects {
  name: "vip"
  vip: true
  rooms: "hall"
  rooms: "lobby"
}
)")),
              ElementsAre("<dir>/sects.textproto:10:3: room \"lobby\" is pinned twice: to sect "
                          "\"n\" at <dir>/sects.textproto:4:3 and to sect \"vip\""));
}

TEST_F(ConfigTest, SectShapeErrors) {
  EXPECT_THAT(
      Problems(LoadSects(R"(sects { name: "n" ranges { start: 0 end: 0xFFFFFFFFFFFFFFFF } }
sects { name: "n" threads: 0 ranges { start: 5 end: 4 } }
sects { name: "bad name" ranges { end: 4 } }
sects { name: "v" vip: true ranges { start: 0 end: 1 } rooms: "no spaces" }
sects { name: "empty" }
sects { threads: 65 ranges { start: 0 end: 1 } }
)")),
      ElementsAre(
          "<dir>/sects.textproto:2:9: sect name \"n\" is already used at "
          "<dir>/sects.textproto:1:9",
          "<dir>/sects.textproto:2:19: sect \"n\": threads is 0, must be in 1..64",
          "<dir>/sects.textproto:2:30: sect \"n\": range start 0x5 is after its end 0x4",
          "<dir>/sects.textproto:3:9: sect name \"bad name\" must match [A-Za-z0-9_.-]{1,64}",
          "<dir>/sects.textproto:3:26: sect \"bad name\": a range needs both start and end "
          "(inclusive)",
          "<dir>/sects.textproto:4:29: VIP sect \"v\" must not have ranges: it owns only its "
          "pinned rooms",
          "<dir>/sects.textproto:4:56: sect \"v\": pinned room \"no spaces\" is not a valid room "
          "id ([A-Za-z0-9_.:-]{1,128})",
          "<dir>/sects.textproto:5:1: sect \"empty\" has no ranges: every non-VIP sect needs at "
          "least one",
          "<dir>/sects.textproto:6:1: sect needs a name",
          "<dir>/sects.textproto:6:9: sect \"\": threads is 65, must be in 1..64"));
}

TEST_F(ConfigTest, ProblemsInBothFilesAreReportedTogether) {
  Write("sects.textproto",
        "sects { name: \"a\" threads: 0 ranges { start: 0 end: "
        "0xFFFFFFFFFFFFFFFF } }");
  EXPECT_THAT(Problems(Load("http { io_threads: 0 }")),
              ElementsAre(StartsWith("<dir>/chatroomd.textproto:1:8: "),
                          StartsWith("<dir>/sects.textproto:1:19: ")));
}

// --- overrides ---------------------------------------------------------------------------

TEST_F(ConfigTest, ListenOverrideV4ReplacesEveryListener) {
  Overrides overrides;
  overrides.listen = "127.0.0.5:0";
  auto result = Load("listeners { port: 1 } listeners { port: 2 }", overrides);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ((*result)->main.listeners_size(), 1);
  EXPECT_EQ((*result)->main.listeners(0).host(), "127.0.0.5");
  EXPECT_EQ((*result)->main.listeners(0).port(), 0u);
}

TEST_F(ConfigTest, ListenOverrideV6) {
  Overrides overrides;
  overrides.listen = "[::1]:65535";
  auto result = Load("", overrides);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ((*result)->main.listeners_size(), 1);
  EXPECT_EQ((*result)->main.listeners(0).host(), "::1");
  EXPECT_EQ((*result)->main.listeners(0).port(), 65535u);
  EXPECT_THAT(DescribeConfig(**result), HasSubstr("listeners: [::1]:65535"));
}

TEST_F(ConfigTest, ListenOverrideBadSyntax) {
  for (const char* bad :
       {"localhost", "127.0.0.1:", ":80", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:http",
        "::1:80", "[::1]", "[::1:80", "[127.0.0.1]:80", "example.com:80", "127.0.0.1:123456"}) {
    Overrides overrides;
    overrides.listen = bad;
    EXPECT_THAT(Problems(Load("", overrides)),
                ElementsAre(StartsWith("--listen \"" + std::string(bad) + "\": ")))
        << bad;
  }
}

TEST_F(ConfigTest, ListenOverrideOffLoopbackNeedsAuth) {
  Overrides overrides;
  overrides.listen = "0.0.0.0:9000";
  EXPECT_THAT(Problems(Load("", overrides)),
              ElementsAre(StartsWith("--listen 0.0.0.0:9000: dev auth (auth.enabled=false) "
                                     "needs every listener on a loopback address")));
  Write("secret", "0123456789abcdef");
  overrides.jwt_secret_file = Path("secret");
  EXPECT_TRUE(Load("", overrides).ok());
}

TEST_F(ConfigTest, DataDirOverride) {
  Overrides overrides;
  overrides.data_dir = "/var/lib/chatroomd";
  auto result = Load("store { data_dir: \"elsewhere\" }", overrides);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ((*result)->main.store().data_dir(), "/var/lib/chatroomd");

  overrides.data_dir = "";
  EXPECT_THAT(Problems(Load("", overrides)), ElementsAre("--data-dir: must not be empty"));
}

TEST_F(ConfigTest, JwtSecretFileTurnsAuthOn) {
  Write("secret", "0123456789abcdef xyz \r\n\n");
  Overrides overrides;
  overrides.jwt_secret_file = Path("secret");
  auto result = Load("auth { enabled: false jwt_secret: \"from the file is ignored\" }", overrides);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE((*result)->main.auth().enabled());
  EXPECT_EQ((*result)->main.auth().jwt_secret(), "0123456789abcdef xyz");
}

TEST_F(ConfigTest, JwtSecretFileProblemsNameTheFile) {
  Overrides overrides;
  overrides.jwt_secret_file = Path("missing");
  EXPECT_THAT(Problems(Load("", overrides)),
              ElementsAre("<dir>/missing: cannot read: No such file or directory"));

  Write("empty", " \n\n");
  overrides.jwt_secret_file = Path("empty");
  EXPECT_THAT(Problems(Load("", overrides)), ElementsAre("<dir>/empty: JWT secret file is empty"));

  Write("short", "abc\n");
  overrides.jwt_secret_file = Path("short");
  EXPECT_THAT(Problems(Load("", overrides)),
              ElementsAre("<dir>/short: JWT secret is 3 bytes, needs at least 16 bytes"));

  overrides.jwt_secret_file = dir_.string();
  EXPECT_THAT(Problems(Load("", overrides)), ElementsAre("<dir>: cannot read: Is a directory"));
}

TEST_F(ConfigTest, OverrideProblemsAreReportedWithFileProblems) {
  Overrides overrides;
  overrides.listen = "nope";
  overrides.jwt_secret_file = Path("missing");
  EXPECT_THAT(Problems(Load("http {", overrides)),
              ElementsAre(StartsWith("<dir>/chatroomd.textproto:1:"), StartsWith("--listen"),
                          StartsWith("<dir>/missing: cannot read")));
}

// --- hosts -------------------------------------------------------------------------------

TEST(IsLoopbackHostTest, Loopback) {
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.255.0.9"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackHost("::"));
  EXPECT_FALSE(IsLoopbackHost("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("[::1]"));
  EXPECT_FALSE(IsLoopbackHost("localhost.example.com"));
  EXPECT_FALSE(IsLoopbackHost(""));
}

}  // namespace
}  // namespace chatroomd::config
