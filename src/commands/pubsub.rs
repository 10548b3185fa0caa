//! Pub/sub commands. Subscription confirmations and messages are push frames in RESP3 and
//! plain arrays in RESP2 (where a subscribed client may only run a few commands).

use super::table::{Command, SubCommand, cmd, container, flags::*, key, key_range, sub};
use super::{Client, CmdError, CmdResult, Ctx};
use crate::server::Server;
use crate::server::pubsub::Kind;
use bytes::Bytes;
use std::sync::atomic::Ordering;

/// Pub/sub family table.
#[rustfmt::skip]
pub fn commands() -> Vec<Command> {
    vec![
        cmd("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK, &[], "pubsub", "2.0.0", "Listen for messages published to the given channels", subscribe)
            .args("channel..."),
        cmd("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK, &[], "pubsub", "2.0.0", "Stop listening for messages posted to the given channels", unsubscribe)
            .args("[channel...]"),
        cmd("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK, &[], "pubsub", "2.0.0", "Listen for messages published to channels matching the given patterns", psubscribe)
            .args("pattern{pattern:pattern}..."),
        cmd("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK, &[], "pubsub", "2.0.0", "Stop listening for messages posted to channels matching the given patterns", punsubscribe)
            .args("[pattern:pattern...]"),
        cmd("publish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, &[], "pubsub", "2.0.0", "Post a message to a channel", publish)
            .args("channel message"),
        cmd("spublish", 3, PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE, const { &[key_range(key::NOT_KEY, 1, 0, 1, 0)] }, "pubsub", "7.0.0", "Post a message to a shard channel", spublish)
            .args("shardchannel message"),
        cmd("ssubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK, const { &[key_range(key::NOT_KEY, 1, -1, 1, 0)] }, "pubsub", "7.0.0", "Listen for messages published to the given shard channels", ssubscribe)
            .args("shardchannel..."),
        cmd("sunsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK, const { &[key_range(key::NOT_KEY, 1, -1, 1, 0)] }, "pubsub", "7.0.0", "Stop listening for messages posted to the given shard channels", sunsubscribe)
            .args("[shardchannel...]"),
        container("pubsub", PUBSUB | LOADING | STALE, "pubsub", "2.8.0", "A container for Pub/Sub commands", PUBSUB_SUBCOMMANDS),
    ]
}

fn confirm(ctx: &mut Ctx<'_>, kind: &[u8], name: Option<&[u8]>, count: usize) {
    // Confirmations are pushes: sent even under CLIENT REPLY OFF/SKIP (Redis marks them
    // CLIENT_PUSHING), so they bypass the reply buffer that mode discards.
    let mut push = crate::protocol::ReplyBuf {
        resp3: ctx.out.resp3,
        ..Default::default()
    };
    let out = if ctx.client.reply.silenced() {
        &mut push
    } else {
        &mut *ctx.out
    };
    out.push(3);
    out.bulk(kind);
    match name {
        Some(n) => out.bulk(n),
        None => out.null(),
    }
    out.int(count as i64);
    if !push.buf.is_empty() {
        ctx.client.handle.outbox.push(push.buf.freeze());
    }
}

fn sync_counts(client: &Client) {
    let h = &client.handle;
    h.sub.store(client.subs.channels.len(), Ordering::Relaxed);
    h.psub.store(client.subs.patterns.len(), Ordering::Relaxed);
    h.ssub.store(client.subs.shard.len(), Ordering::Relaxed);
}

/// The client's set of `kind` and the confirmation names of that kind.
fn names(kind: Kind) -> (&'static [u8], &'static [u8]) {
    match kind {
        Kind::Channel => (b"subscribe", b"unsubscribe"),
        Kind::Pattern => (b"psubscribe", b"punsubscribe"),
        Kind::Shard => (b"ssubscribe", b"sunsubscribe"),
    }
}

fn set_of(client: &mut Client, kind: Kind) -> &mut std::collections::HashSet<Bytes> {
    match kind {
        Kind::Channel => &mut client.subs.channels,
        Kind::Pattern => &mut client.subs.patterns,
        Kind::Shard => &mut client.subs.shard,
    }
}

/// The count a confirmation of `kind` carries: channels and patterns together, shard
/// channels apart (Redis's clientSubscriptionsCount / clientShardSubscriptionsCount).
fn count_for(client: &Client, kind: Kind) -> usize {
    match kind {
        Kind::Shard => client.subs.shard.len(),
        _ => client.subs.global_count(),
    }
}

fn subscribe_generic(ctx: &mut Ctx<'_>, args: &[Bytes], kind: Kind) -> CmdResult {
    for ch in &args[1..] {
        let ch = Bytes::copy_from_slice(ch);
        if set_of(ctx.client, kind).insert(ch.clone()) {
            ctx.srv.pubsub.subscribe(&ctx.client.handle, &ch, kind);
        }
        sync_counts(ctx.client);
        let n = count_for(ctx.client, kind);
        confirm(ctx, names(kind).0, Some(&ch), n);
    }
    Ok(())
}

fn unsubscribe_generic(ctx: &mut Ctx<'_>, args: &[Bytes], kind: Kind) -> CmdResult {
    let reply = names(kind).1;
    let targets: Vec<Bytes> = if args.len() > 1 {
        args[1..].to_vec()
    } else {
        set_of(ctx.client, kind).iter().cloned().collect()
    };
    if targets.is_empty() {
        let n = count_for(ctx.client, kind);
        confirm(ctx, reply, None, n);
        return Ok(());
    }
    for ch in targets {
        if set_of(ctx.client, kind).remove(&ch) {
            ctx.srv.pubsub.unsubscribe(ctx.client.handle.id, &ch, kind);
        }
        sync_counts(ctx.client);
        let n = count_for(ctx.client, kind);
        confirm(ctx, reply, Some(&ch), n);
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Channel)
}

fn psubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Pattern)
}

/// SSUBSCRIBE: refused inside EXEC, where stock marks the client DENY_BLOCKING (unlike
/// SUBSCRIBE, which stock lets through there for backward compatibility).
fn ssubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if ctx.client.tx.in_exec {
        return Err(CmdError::err(
            "SSUBSCRIBE isn't allowed for a DENY BLOCKING client",
        ));
    }
    subscribe_generic(ctx, args, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Channel)
}

fn punsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Pattern)
}

fn sunsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Shard)
}

/// Removes every subscription of a departing or RESET client.
pub fn unsubscribe_all(srv: &Server, client: &mut Client) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for ch in set_of(client, kind).drain().collect::<Vec<_>>() {
            srv.pubsub.unsubscribe(client.handle.id, &ch, kind);
        }
    }
    sync_counts(client);
}

fn publish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    publish_generic(ctx, args, false)
}

/// SPUBLISH: without cluster mode, delivered to the shard channel's subscribers and
/// replicated like PUBLISH (stock forces its propagation to replicas either way).
fn spublish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    publish_generic(ctx, args, true)
}

fn publish_generic(ctx: &mut Ctx<'_>, args: &[Bytes], shard: bool) -> CmdResult {
    let srv = ctx.srv;
    if !shard && &args[1][..] == b"__sentinel__:hello" {
        crate::replication::lease::on_hello(srv, &args[2]);
    }
    let me = ctx.client.handle.id;
    let mut to_self = Vec::new();
    let deliver = |c: &crate::server::client::ClientHandle, msg: Bytes| {
        if c.id == me {
            // A RESP3 client subscribed to its own channel sees the push before the reply.
            to_self.push(msg);
        } else {
            srv.deliver(c, msg)
        }
    };
    let n = if shard {
        srv.pubsub.spublish(&args[1], &args[2], deliver)
    } else {
        srv.pubsub.publish(&args[1], &args[2], deliver)
    };
    for msg in to_self {
        if ctx.client.reply.silenced() {
            ctx.client.handle.outbox.push(msg);
        } else {
            ctx.out.raw(&msg);
        }
    }
    // Followers relay published messages to their own subscribers, as Redis replicas do.
    let db = ctx.db();
    let name: &[u8] = if shard { b"SPUBLISH" } else { b"PUBLISH" };
    match ctx.txn.as_mut() {
        Some(t) => t.propagate(db, &[name, &args[1], &args[2]]),
        None => srv
            .store
            .write(ctx.now)
            .propagate(db, &[name, &args[1], &args[2]]),
    }
    ctx.out.int(n as i64);
    Ok(())
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern]; more arguments get Redis's subcommand
/// syntax error.
fn channel_list(ctx: &mut Ctx<'_>, args: &[Bytes], kind: Kind) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand(args, "PUBSUB"));
    }
    let list = ctx.srv.pubsub.channels(kind, args.get(2).map(|b| &b[..]));
    ctx.out.array(list.len());
    for c in list {
        ctx.out.bulk(&c);
    }
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    channel_list(ctx, args, Kind::Channel)
}

fn pubsub_shardchannels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    channel_list(ctx, args, Kind::Shard)
}

/// PUBSUB NUMSUB / SHARDNUMSUB: channel, count pairs (a flat array in RESP2 and RESP3
/// alike, as stock replies).
fn numsub(ctx: &mut Ctx<'_>, args: &[Bytes], kind: Kind) -> CmdResult {
    ctx.out.array((args.len() - 2) * 2);
    for c in &args[2..] {
        ctx.out.bulk(c);
        ctx.out.int(ctx.srv.pubsub.numsub(kind, c) as i64);
    }
    Ok(())
}

fn pubsub_numsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    numsub(ctx, args, Kind::Channel)
}

fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    numsub(ctx, args, Kind::Shard)
}

fn pubsub_numpat(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    ctx.out.int(ctx.srv.pubsub.numpat() as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> CmdResult {
    let lines = [
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ];
    ctx.help(&lines);
    Ok(())
}

/// Subcommands of PUBSUB.
#[rustfmt::skip]
static PUBSUB_SUBCOMMANDS: &[SubCommand] = &[
    sub("channels", -2, "List channels with subscribers").with_flags(PUBSUB | LOADING | STALE).with_args("[pattern:pattern]").run(pubsub_channels),
    sub("numsub", -2, "Count subscribers per channel").with_flags(PUBSUB | LOADING | STALE).with_args("[channel...]").run(pubsub_numsub),
    sub("numpat", 2, "Count pattern subscriptions").with_flags(PUBSUB | LOADING | STALE).run(pubsub_numpat),
    sub("shardchannels", -2, "List active shard channels").with_flags(PUBSUB | LOADING | STALE).with_args("[pattern:pattern]").run(pubsub_shardchannels),
    sub("shardnumsub", -2, "Get the count of subscribers for shard channels").with_flags(PUBSUB | LOADING | STALE).with_args("[shardchannel...]").run(pubsub_shardnumsub),
    sub("help", 2, "Show helpful text about the subcommands").with_flags(LOADING | STALE).run(pubsub_help),
];
