// Private to the config component: reading text-format files and pointing problems at the
// line and column they come from.
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/text_format.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chatroomd::config {

using ParseInfoTree = google::protobuf::TextFormat::ParseInfoTree;
using ParseLocation = google::protobuf::TextFormat::ParseLocation;

// Every problem found while loading, one `file:line:col: message` (or `what: message`) line
// each, so that an operator fixes them all in one pass instead of one per restart.
class Problems {
 public:
  // `loc` is protobuf's 0-based location; an unknown one (line -1) becomes 1:1.
  void At(std::string_view file, ParseLocation loc, std::string_view message);
  // For problems that have no place in a file (command-line overrides, unreadable files).
  void Add(std::string line) { lines_.push_back(std::move(line)); }

  bool empty() const { return lines_.empty(); }
  const std::vector<std::string>& lines() const { return lines_; }
  std::string Joined() const;

 private:
  std::vector<std::string> lines_;
};

// Formats a 0-based protobuf location as `file:line:col` (1-based; unknown -> 1:1).
std::string Where(std::string_view file, ParseLocation loc);

// A message as it was written in a file: where its fields are, so that validation can point
// at them. A field that was not written is reported where the message holding it starts (or
// at 1:1 for the top level), which is where an operator would have to add it.
class Node {
 public:
  Node(const std::string* file, const google::protobuf::Descriptor* type, const ParseInfoTree* tree,
       ParseLocation self)
      : file_(file), type_(type), tree_(tree), self_(self) {}

  // Where field `number` (value `index` when repeated) is, or this message's own location.
  ParseLocation Loc(int number, int index = -1) const;
  // The sub-message in field `number` (value `index` when repeated).
  Node Child(int number, int index = -1) const;
  // True when the field was written in the file (not a default, not an override).
  bool Written(int number, int index = -1) const;

  const std::string& file() const { return *file_; }
  ParseLocation self() const { return self_; }

 private:
  const google::protobuf::FieldDescriptor* Field(int number) const;

  const std::string* file_;
  const google::protobuf::Descriptor* type_;
  const ParseInfoTree* tree_;  // null when the message was not written
  ParseLocation self_;
};

// A parsed file and the locations of its fields.
struct TextFile {
  std::string path;
  std::unique_ptr<ParseInfoTree> tree = std::make_unique<ParseInfoTree>();

  Node Root(const google::protobuf::Message& message) const {
    return Node(&path, message.GetDescriptor(), tree.get(), ParseLocation());
  }
};

// Reads `path` whole. On failure adds `path: cannot read: <strerror>` and returns false.
bool ReadFile(const std::string& path, std::string* contents, Problems* problems);

// Reads and parses `file->path` into `message`; syntax errors and unknown fields go to
// `problems` as `path:line:col: message`. Returns false if anything was wrong.
bool ParseTextFile(TextFile* file, google::protobuf::Message* message, Problems* problems);

}  // namespace chatroomd::config
