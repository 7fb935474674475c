// Reload (API.md "POST /v1/admin/reload", SIGHUP): the config files are read again and what
// may change live changes without a restart and without dropping a connection; a file that
// does not load is 400 bad_request with its file:line:col and changes nothing; a change that
// needs a restart is logged and not applied.
#include <signal.h>

#include <fstream>
#include <sstream>
#include <string>

#include "integration/harness.h"

namespace chatroomd::it {
namespace {

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// The daemon's main config with `from` replaced by `to` (which must be there once).
void Edit(Daemon& d, const std::string& from, const std::string& to) {
  std::string text = ReadFile(d.config_path());
  const size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << from << " not in\n" << text;
  text.replace(at, from.size(), to);
  WriteFile(d.config_path(), text);
}

Response Reload(User& admin) {
  return admin.client().Request("POST", "/v1/admin/reload", {}, admin.Auth());
}

std::string Body(size_t n) { return R"({"body":")" + std::string(n, 'x') + R"("})"; }

TEST(ReloadTest, TheAdminCallAppliesLiveSettingsOnTheSameConnection) {
  Daemon d({.config = "rooms { max_message_bytes: 100 auto_create: true }"});
  ASSERT_TRUE(d.Start());
  User boss(d.port(), "boss");
  ASSERT_TRUE(boss.Join("r").ok);
  EXPECT_TRUE(IsError(boss.SendRaw("r", Body(150)), 413, "payload_too_large"));
  const int connects = boss.client().connects();

  Edit(d, "max_message_bytes: 100 auto_create: true", "max_message_bytes: 1000 auto_create: false");
  Response r = Reload(boss);
  EXPECT_EQ(r.status, 204) << r;
  EXPECT_EQ(boss.SendRaw("r", Body(150)).status, 200);
  // The rooms' settings reach every sect loop on its next turn.
  // (A new name each try: a join that came first would create its room.)
  int tries = 0;
  EXPECT_TRUE(WaitUntil(
      [&] { return boss.JoinRaw("new-room-" + std::to_string(++tries)).status == 404; }, 5s, 20ms));
  EXPECT_TRUE(IsError(boss.JoinRaw("another-room"), 404, "room_not_found"));
  EXPECT_TRUE(boss.Join("r").ok) << "an existing room is still joined";
  EXPECT_EQ(boss.client().connects(), connects) << "the connection stayed open";
}

TEST(ReloadTest, SighupReloadsToo) {
  Daemon d({.config = "rooms { max_message_bytes: 100 }"});
  ASSERT_TRUE(d.Start());
  User boss(d.port(), "boss");
  ASSERT_TRUE(boss.Join("r").ok);
  Edit(d, "max_message_bytes: 100", "max_message_bytes: 1000");
  d.Signal(SIGHUP);
  EXPECT_TRUE(WaitUntil([&] { return boss.SendRaw("r", Body(150)).status == 200; }, 5s, 20ms));
  EXPECT_TRUE(d.running() && !d.Exited()) << "SIGHUP does not stop the daemon";
  EXPECT_TRUE(WaitUntil(
      [&] { return d.StderrText().find("reload (SIGHUP): applied") != std::string::npos; }, 5s,
      20ms));
}

TEST(ReloadTest, AFileThatDoesNotLoadIs400AndChangesNothing) {
  Daemon d({.config = "rooms { max_message_bytes: 100 }"});
  ASSERT_TRUE(d.Start());
  User boss(d.port(), "boss");
  ASSERT_TRUE(boss.Join("r").ok);
  const std::string good = ReadFile(d.config_path());
  // Out of range, and a syntax error, each with the file, line and column.
  Edit(d, "max_message_bytes: 100", "max_message_bytes: 0");
  Response r = Reload(boss);
  EXPECT_TRUE(IsError(r, 400, "bad_request")) << r;
  const std::string file = d.config_path().filename().string();
  EXPECT_NE(r.ErrorCode(), "");
  std::string message(r.Json().at("error").at("message").as_string());
  EXPECT_NE(message.find(file + ":"), std::string::npos) << message;
  EXPECT_NE(message.find("max_message_bytes"), std::string::npos) << message;
  WriteFile(d.config_path(), good + "\nrooms {{ oops\n");
  r = Reload(boss);
  EXPECT_TRUE(IsError(r, 400, "bad_request")) << r;
  message = std::string(r.Json().at("error").at("message").as_string());
  EXPECT_NE(message.find(file + ":"), std::string::npos) << message;
  // The running config is as it was.
  EXPECT_TRUE(IsError(boss.SendRaw("r", Body(150)), 413, "payload_too_large"));
  EXPECT_EQ(boss.SendRaw("r", Body(50)).status, 200);
  WriteFile(d.config_path(), good);
  EXPECT_EQ(Reload(boss).status, 204);
}

TEST(ReloadTest, AChangeThatNeedsARestartIsLoggedAndNotApplied) {
  Daemon d({.config = "rooms { window_size: 50 max_message_bytes: 100 }"});
  ASSERT_TRUE(d.Start());
  User boss(d.port(), "boss");
  Edit(d, "window_size: 50 max_message_bytes: 100", "window_size: 60 max_message_bytes: 200");
  EXPECT_EQ(Reload(boss).status, 204);
  EXPECT_TRUE(WaitUntil(
      [&] {
        const std::string err = d.StderrText();
        return err.find("need a restart") != std::string::npos &&
               err.find("window_size") != std::string::npos;
      },
      5s, 20ms))
      << d.StderrText();
  JoinResult j = boss.Join("r");
  ASSERT_TRUE(j.ok);
  EXPECT_EQ(boss.SendRaw("r", Body(150)).status, 200) << "the live change in the same file was";
  // The window is still 50: 54 more messages behind the join's cursor leave a gap.
  for (int i = 0; i < 54; ++i) boss.Say("r", "m" + std::to_string(i));
  PollResult p = boss.Poll("r", {.cursor = j.cursor, .timeout_ms = 0, .limit = 1000});
  ASSERT_TRUE(p.ok) << p.response;
  EXPECT_TRUE(p.gap) << "window_size changed without a restart";
  EXPECT_EQ(p.messages.size(), 50u);
}

}  // namespace
}  // namespace chatroomd::it
