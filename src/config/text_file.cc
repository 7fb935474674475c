#include "config/text_file.h"

#include <fcntl.h>
#include <google/protobuf/io/tokenizer.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>

namespace chatroomd::config {
namespace {

// Protobuf's column of byte `byte` in `line`: a tab advances to the next multiple of 8.
int ColumnOfByte(std::string_view line, size_t byte) {
  int column = 0;
  for (size_t i = 0; i < byte && i < line.size(); ++i) {
    column = line[i] == '\t' ? column + 8 - column % 8 : column + 1;
  }
  return column;
}

size_t ByteOfColumn(std::string_view line, int column) {
  size_t i = 0;
  for (int at = 0; i < line.size() && at < column; ++i) {
    at = line[i] == '\t' ? at + 8 - at % 8 : at + 1;
  }
  return i;
}

std::string_view LineOf(std::string_view text, int line) {
  size_t start = 0;
  for (int i = 0; i < line; ++i) {
    start = text.find('\n', start);
    if (start == std::string_view::npos) return {};
    ++start;
  }
  const size_t end = text.find('\n', start);
  return text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

// Turns protobuf's 0-based positions into the 1-based `file:line:col` editors jump to.
class LineErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  LineErrorCollector(const std::string& file, std::string_view text, Problems* problems)
      : file_(file), text_(text), problems_(problems) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    problems_->At(file_, ParseLocation(line, AtFieldName(line, column, message)), message);
    ++errors_;
  }

  int errors() const { return errors_; }

 private:
  // Field-name errors ("no field named", "specified multiple times") come at the token after
  // the name; the operator has to fix the name, so point there.
  int AtFieldName(int line, int column, const std::string& message) const {
    static constexpr std::string_view kMarkers[] = {"has no field named \"", "field \""};
    for (std::string_view marker : kMarkers) {
      const size_t at = message.find(marker);
      if (at == std::string::npos) continue;
      const size_t name_start = at + marker.size();
      const size_t name_end = message.find('"', name_start);
      if (name_end == std::string::npos) return column;
      const std::string_view name =
          std::string_view(message).substr(name_start, name_end - name_start);
      const std::string_view text = LineOf(text_, line);
      size_t end = ByteOfColumn(text, column);
      while (end > 0 && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
      if (end >= name.size() && text.substr(end - name.size(), name.size()) == name) {
        return ColumnOfByte(text, end - name.size());
      }
      return column;
    }
    return column;
  }

  const std::string& file_;
  std::string_view text_;
  Problems* problems_;
  int errors_ = 0;
};

}  // namespace

std::string Where(std::string_view file, ParseLocation loc) {
  const int line = loc.line >= 0 ? loc.line + 1 : 1;
  const int column = loc.line >= 0 && loc.column >= 0 ? loc.column + 1 : 1;
  std::string out(file);
  out += ':';
  out += std::to_string(line);
  out += ':';
  out += std::to_string(column);
  return out;
}

void Problems::At(std::string_view file, ParseLocation loc, std::string_view message) {
  std::string line = Where(file, loc);
  line += ": ";
  line += message;
  lines_.push_back(std::move(line));
}

std::string Problems::Joined() const {
  std::string out;
  for (const std::string& line : lines_) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

const google::protobuf::FieldDescriptor* Node::Field(int number) const {
  const google::protobuf::FieldDescriptor* field = type_->FindFieldByNumber(number);
  // A wrong number is a bug in the validator, not in the operator's file.
  assert(field != nullptr);
  return field;
}

ParseLocation Node::Loc(int number, int index) const {
  if (tree_ != nullptr) {
    const google::protobuf::FieldDescriptor* field = Field(number);
    ParseLocation loc = tree_->GetLocation(field, field->is_repeated() ? index : -1);
    if (loc.line >= 0) return loc;
  }
  return self_;
}

bool Node::Written(int number, int index) const {
  if (tree_ == nullptr) return false;
  const google::protobuf::FieldDescriptor* field = Field(number);
  return tree_->GetLocation(field, field->is_repeated() ? index : -1).line >= 0;
}

Node Node::Child(int number, int index) const {
  const google::protobuf::FieldDescriptor* field = Field(number);
  const ParseInfoTree* nested = nullptr;
  // Asking for a nested tree of a field that was never written is harmless (null), but the
  // index must match the field's cardinality or protobuf complains.
  if (tree_ != nullptr) nested = tree_->GetTreeForNested(field, field->is_repeated() ? index : -1);
  return Node(file_, field->message_type(), nested, Loc(number, index));
}

bool ReadFile(const std::string& path, std::string* contents, Problems* problems) {
  // POSIX calls rather than streams: the operator needs errno's reason, which streams lose.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    problems->Add(path + ": cannot read: " + std::strerror(errno));
    return false;
  }
  contents->clear();
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      problems->Add(path + ": cannot read: " + std::strerror(err));
      return false;
    }
    contents->append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

bool ParseTextFile(TextFile* file, google::protobuf::Message* message, Problems* problems) {
  std::string text;
  if (!ReadFile(file->path, &text, problems)) return false;
  LineErrorCollector collector(file->path, text, problems);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  parser.WriteLocationsTo(file->tree.get());
  const bool ok = parser.ParseFromString(text, message);
  if (!ok && collector.errors() == 0) {
    // Not expected from the text parser, but an operator must never see a silent failure.
    problems->At(file->path, ParseLocation(), "cannot parse as " + message->GetTypeName());
  }
  return ok;
}

}  // namespace chatroomd::config
