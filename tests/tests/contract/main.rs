//! The contract test: the route table against Mixpanel's own API descriptions
//! (`emulator/upstream/`, source and licence in its README; the emulator's OpenAPI
//! document is built from the same files).
//!
//! It walks every route of `wire::ROUTES` with its types, twice: the client half ([`client`])
//! checks what the client sends and that schema-shaped answers decode; the emulator half
//! ([`emulator`]) drives the emulator over HTTP and validates its real answers (and its error
//! bodies) against the same schemas, and sends it request bodies built from the request
//! schemas. [`evidence`] holds the table's evidence statuses to their own definition. Each
//! half prints one line per route and the counts, and fails on any mismatch. The files and
//! what both halves do with them are in [`schema`], once.

mod client;
mod document;
mod emulator;
mod evidence;
mod schema;
