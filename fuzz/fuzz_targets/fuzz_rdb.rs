//! The RDB decoder (`rdb::load`: header, opcodes, every string/collection encoding, LZF,
//! ziplist/listpack/intset/zipmap blobs) on arbitrary bytes, as a snapshot from a leader
//! or a damaged dump.rdb arrives.
//!
//! Checked: no panic; a snapshot that loads re-encodes (RdbWriter) and loads back to the
//! same entries and aux fields; and it loads into a real keyspace through the server's
//! own load path (`persistence::load_into`, what a follower runs on a full sync), where
//! every key is then read back with commands (the replies must be well-formed RESP).
#![no_main]

use ferrocache::rdb::{self, RdbValue, RdbWriter};

type Entry = (usize, Vec<u8>, RdbValue, u64);

fn decode(data: &[u8]) -> Result<(rdb::Aux, Vec<Entry>), rdb::RdbError> {
    let mut entries = Vec::new();
    let aux = rdb::load(data, |db, key, value, expire| {
        entries.push((db, key, value, expire));
        Ok(())
    })?;
    Ok((aux, entries))
}

fn reencode(aux: &rdb::Aux, entries: &[Entry]) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new(), aux).expect("writing to a Vec");
    let mut db = None;
    for (d, key, value, expire) in entries {
        if db != Some(*d) {
            w.select_db(*d, 0, 0).expect("writing to a Vec");
            db = Some(*d);
        }
        w.write_value(key, value, *expire)
            .expect("writing to a Vec");
    }
    w.finish().expect("writing to a Vec")
}

fn read_back(entries: &[Entry]) -> Vec<u8> {
    // One RESP request per key, the read that fits its type, plus a digest of it all.
    let mut req = Vec::new();
    let mut push = |args: &[&[u8]]| {
        req.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
    };
    let mut db = usize::MAX;
    for (d, key, value, _) in entries.iter().take(64) {
        if *d != db {
            db = *d;
            push(&[b"SELECT", db.to_string().as_bytes()]);
        }
        push(&[b"TYPE", key]);
        push(&[b"PTTL", key]);
        match value {
            RdbValue::Str(_) => push(&[b"GET", key]),
            RdbValue::List(_) => push(&[b"LRANGE", key, b"0", b"-1"]),
            RdbValue::Set(_) => push(&[b"SMEMBERS", key]),
            RdbValue::ZSet(_) => push(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]),
            RdbValue::Hash(_) => push(&[b"HGETALL", key]),
            RdbValue::Stream(_) => {
                push(&[b"XRANGE", key, b"-", b"+"]);
                push(&[b"XINFO", b"STREAM", key, b"FULL"]);
            }
        }
        push(&[b"DEBUG", b"DIGEST-VALUE", key]);
    }
    push(&[b"DEBUG", b"DIGEST"]);
    req
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok((aux, entries)) = decode(data) else {
        return;
    };

    let again = reencode(&aux, &entries);
    let (aux2, entries2) = decode(&again).expect("a re-encoded snapshot must load");
    assert_eq!(
        entries, entries2,
        "entries differ after a save/load round trip"
    );
    assert_eq!(aux, aux2, "aux fields differ after a save/load round trip");

    // Into the keyspace, as a follower loads its leader's snapshot.
    ferrocache_fuzz::with_harness(|h| {
        let mut txn = h.srv.store.write(ferrocache::base::now_ms());
        let loaded = ferrocache::server::persistence::load_into(&h.srv, &mut txn, data, None);
        drop(txn);
        if loaded.is_ok() {
            h.run(&read_back(&entries));
        }
    });
});
