//! Ferrocache: a Redis-compatible, replicated, in-memory cache.
//!
//! The pieces, from the socket inwards:
//! - [`protocol`]: bounded request parsing (RESP multibulk + inline) and RESP2/RESP3 replies.
//! - [`server`]: the listener, one task per connection, client registry, pub/sub fan-out,
//!   background cron (active expiry).
//! - [`commands`]: the command table (name, arity, flags, key positions) and one module per
//!   command family; handlers parse their arguments and act on the store.
//! - [`store`]: 16 databases on dashmap, TTLs, and the write sequencer that makes every
//!   write atomic and totally ordered with its replication effects.
//! - [`replication`]: the ordered effect log with Redis-compatible offsets.
//! - [`acl`]: ACL users, selectors and the permission check run before every command.
//! - [`config`]: redis.conf-style configuration and the CONFIG registry.
//! - [`rdb`]: the RDB v10 snapshot format (Redis 7.0): streaming writer and loader.
//! - [`tracking`]: CLIENT TRACKING (client-side caching invalidations).
//! - [`sentinel`]: `ferrocache-sentinel`, Redis Sentinel compatible failover.

pub mod acl;
pub mod base;
pub mod commands;
pub mod config;
pub mod protocol;
pub mod rdb;
pub mod replication;
pub mod scripting;
pub mod sentinel;
pub mod server;
pub mod store;
pub mod tracking;
