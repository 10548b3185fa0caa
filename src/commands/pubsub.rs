//! Pub/sub commands. Subscription confirmations and messages are push frames in RESP3 and
//! plain arrays in RESP2 (where a subscribed client may only run a few commands).

use super::table::{Command, SubCommand, cmd, container, flags::*, sub};
use super::{Client, CmdError, CmdResult, Ctx};
use crate::server::Server;
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
        container("pubsub", PUBSUB | LOADING | STALE, "pubsub", "2.8.0", "A container for Pub/Sub commands", PUBSUB_SUBCOMMANDS),
    ]
}

fn confirm(ctx: &mut Ctx<'_>, kind: &[u8], name: Option<&[u8]>, count: usize) {
    ctx.out.push(3);
    ctx.out.bulk(kind);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
}

fn sync_counts(client: &Client) {
    client
        .handle
        .sub
        .store(client.subs.channels.len(), Ordering::Relaxed);
    client
        .handle
        .psub
        .store(client.subs.patterns.len(), Ordering::Relaxed);
}

fn subscribe_generic(ctx: &mut Ctx<'_>, args: &[Bytes], pattern: bool) -> CmdResult {
    for ch in &args[1..] {
        let ch = Bytes::copy_from_slice(ch);
        let set = if pattern {
            &mut ctx.client.subs.patterns
        } else {
            &mut ctx.client.subs.channels
        };
        if set.insert(ch.clone()) {
            ctx.srv.pubsub.subscribe(&ctx.client.handle, &ch, pattern);
        }
        sync_counts(ctx.client);
        let n = ctx.client.subs.count();
        confirm(
            ctx,
            if pattern { b"psubscribe" } else { b"subscribe" },
            Some(&ch),
            n,
        );
    }
    Ok(())
}

fn unsubscribe_generic(ctx: &mut Ctx<'_>, args: &[Bytes], pattern: bool) -> CmdResult {
    let kind: &[u8] = if pattern {
        b"punsubscribe"
    } else {
        b"unsubscribe"
    };
    let targets: Vec<Bytes> = if args.len() > 1 {
        args[1..].to_vec()
    } else if pattern {
        ctx.client.subs.patterns.iter().cloned().collect()
    } else {
        ctx.client.subs.channels.iter().cloned().collect()
    };
    if targets.is_empty() {
        let n = ctx.client.subs.count();
        confirm(ctx, kind, None, n);
        return Ok(());
    }
    for ch in targets {
        let set = if pattern {
            &mut ctx.client.subs.patterns
        } else {
            &mut ctx.client.subs.channels
        };
        if set.remove(&ch) {
            ctx.srv
                .pubsub
                .unsubscribe(ctx.client.handle.id, &ch, pattern);
        }
        sync_counts(ctx.client);
        let n = ctx.client.subs.count();
        confirm(ctx, kind, Some(&ch), n);
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, false)
}

fn psubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, args, true)
}

fn unsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, false)
}

fn punsubscribe(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, args, true)
}

/// Removes every subscription of a departing or RESET client.
pub fn unsubscribe_all(srv: &Server, client: &mut Client) {
    for ch in client.subs.channels.drain() {
        srv.pubsub.unsubscribe(client.handle.id, &ch, false);
    }
    for p in client.subs.patterns.drain() {
        srv.pubsub.unsubscribe(client.handle.id, &p, true);
    }
    sync_counts(client);
}

fn publish(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    let srv = ctx.srv;
    let me = ctx.client.handle.id;
    let mut to_self = Vec::new();
    let n = srv.pubsub.publish(&args[1], &args[2], |c, msg| {
        if c.id == me {
            // A RESP3 client subscribed to its own channel sees the push before the reply.
            to_self.push(msg);
        } else {
            srv.deliver(c, msg)
        }
    });
    for msg in to_self {
        ctx.out.raw(&msg);
    }
    // Followers relay published messages to their own subscribers, as Redis replicas do.
    let db = ctx.db();
    match ctx.txn.as_mut() {
        Some(t) => t.propagate(db, &[b"PUBLISH", &args[1], &args[2]]),
        None => srv
            .store
            .write(ctx.now)
            .propagate(db, &[b"PUBLISH", &args[1], &args[2]]),
    }
    ctx.out.int(n as i64);
    Ok(())
}

/// PUBSUB CHANNELS [pattern]; more arguments get Redis's subcommand syntax error.
fn pubsub_channels(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand(args, "PUBSUB"));
    }
    let list = ctx.srv.pubsub.channels(args.get(2).map(|b| &b[..]));
    ctx.out.array(list.len());
    for c in list {
        ctx.out.bulk(&c);
    }
    Ok(())
}

fn pubsub_numsub(ctx: &mut Ctx<'_>, args: &[Bytes]) -> CmdResult {
    ctx.out.map(args.len() - 2);
    for c in &args[2..] {
        ctx.out.bulk(c);
        ctx.out.int(ctx.srv.pubsub.numsub(c) as i64);
    }
    Ok(())
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
    sub("help", 2, "Show helpful text about the subcommands").with_flags(LOADING | STALE).run(pubsub_help),
];
