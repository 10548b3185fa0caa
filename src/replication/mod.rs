//! Replication: the ordered effect log (offsets, backlog). Leader and follower links build on it.

pub mod follower;
pub mod leader;
pub mod log;

pub use log::ReplicationLog;
