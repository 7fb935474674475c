// A small JSON Schema check for the subset docs/openapi.json uses, to validate the daemon's
// answers against the document: `$ref` (into the same document), `type` (one or a list),
// `required`, `properties`, `items`, `pattern`, `enum`, `minimum`, `maximum`. Other keywords
// (description, examples, format, default) are ignored. Stricter than JSON Schema in one way:
// an object member the schema's `properties` does not name is an error, so that a field the
// daemon answers but the document does not describe is caught.
#pragma once

#include <boost/json.hpp>
#include <string>

namespace chatroomd::it {

// "" when `value` matches `schema`, else the first mismatch as "<where>: <why>". `doc` is the
// document `$ref`s point into.
std::string CheckSchema(const boost::json::value& doc, const boost::json::value& schema,
                        const boost::json::value& value, const std::string& where = "$");

// Follows a local `$ref` ("#/components/schemas/Message"); `v` itself when it is none; null
// when the reference does not resolve.
const boost::json::value* ResolveRef(const boost::json::value& doc, const boost::json::value& v);

}  // namespace chatroomd::it
