//! Replication: the ordered effect log (offsets, backlog). Leader and follower links build
//! on it; `switchover` is the coordinated FAILOVER command.

pub mod follower;
pub mod leader;
pub mod lease;
pub mod log;
pub mod switchover;

pub use log::ReplicationLog;
