#include "integration/schema_check.h"

#include <cmath>
#include <regex>
#include <string_view>

namespace chatroomd::it {
namespace {

namespace json = boost::json;

bool HasType(const json::value& v, std::string_view type) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "boolean") return v.is_bool();
  if (type == "null") return v.is_null();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    return v.is_int64() || v.is_uint64() ||
           (v.is_double() && v.as_double() == std::trunc(v.as_double()));
  }
  return false;
}

double AsDouble(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  return v.as_double();
}

}  // namespace

const json::value* ResolveRef(const json::value& doc, const json::value& v) {
  const json::object* obj = v.if_object();
  if (!obj || !obj->contains("$ref")) return &v;
  const json::string* ref = obj->at("$ref").if_string();
  if (!ref || !ref->starts_with("#")) return nullptr;
  boost::system::error_code ec;
  const json::value* target = doc.find_pointer(std::string_view(*ref).substr(1), ec);
  return ec ? nullptr : ResolveRef(doc, *target);
}

std::string CheckSchema(const json::value& doc, const json::value& schema_in,
                        const json::value& value, const std::string& where) {
  const json::value* resolved = ResolveRef(doc, schema_in);
  if (!resolved || !resolved->is_object()) return where + ": the schema does not resolve";
  const json::object& schema = resolved->as_object();

  if (const json::value* type = schema.if_contains("type")) {
    bool ok = false;
    if (type->is_string()) {
      ok = HasType(value, type->as_string());
    } else {
      for (const json::value& t : type->as_array()) ok = ok || HasType(value, t.as_string());
    }
    if (!ok)
      return where + ": " + json::serialize(value) + " is not of type " + json::serialize(*type);
  }
  if (const json::value* e = schema.if_contains("enum")) {
    bool found = false;
    for (const json::value& option : e->as_array()) found = found || option == value;
    if (!found) return where + ": " + json::serialize(value) + " is not in " + json::serialize(*e);
  }
  if (const json::value* p = schema.if_contains("pattern"); p && value.is_string()) {
    const std::string text(value.as_string());
    if (!std::regex_search(text, std::regex(std::string(p->as_string())))) {
      return where + ": \"" + text + "\" does not match " + std::string(p->as_string());
    }
  }
  if (value.is_number()) {
    if (const json::value* m = schema.if_contains("minimum"); m && AsDouble(value) < AsDouble(*m)) {
      return where + ": " + json::serialize(value) + " is below " + json::serialize(*m);
    }
    if (const json::value* m = schema.if_contains("maximum"); m && AsDouble(value) > AsDouble(*m)) {
      return where + ": " + json::serialize(value) + " is above " + json::serialize(*m);
    }
  }
  if (const json::object* obj = value.if_object()) {
    if (const json::value* required = schema.if_contains("required")) {
      for (const json::value& name : required->as_array()) {
        if (!obj->contains(name.as_string())) {
          return where + ": required member " + json::serialize(name) + " is missing";
        }
      }
    }
    if (const json::value* props = schema.if_contains("properties")) {
      for (const auto& [key, member] : *obj) {
        const json::value* sub = props->as_object().if_contains(key);
        if (!sub) return where + ": member \"" + std::string(key) + "\" is not documented";
        std::string why = CheckSchema(doc, *sub, member, where + "." + std::string(key));
        if (!why.empty()) return why;
      }
    }
  }
  if (const json::array* arr = value.if_array()) {
    if (const json::value* items = schema.if_contains("items")) {
      for (size_t i = 0; i < arr->size(); ++i) {
        std::string why =
            CheckSchema(doc, *items, (*arr)[i], where + "[" + std::to_string(i) + "]");
        if (!why.empty()) return why;
      }
    }
  }
  return {};
}

}  // namespace chatroomd::it
