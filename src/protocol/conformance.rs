//! Differential tests against the `redis-protocol` crate: requests it encodes must parse
//! identically with our parser, and every reply shape we write must decode with its RESP2
//! and RESP3 decoders to the intended frame. The crate is the independent reference for
//! the wire format; our own codec exists for the reasons in docs/ARCHITECTURE.md.

#[cfg(test)]
mod tests {
    use crate::protocol::{Parsed, ReplyBuf, RequestLimits, RequestParser};
    use bytes::{Bytes, BytesMut};
    use rand::{RngExt, SeedableRng};
    use redis_protocol::resp2::types::BytesFrame as F2;
    use redis_protocol::resp3::types::{OwnedFrame as F3, VerbatimStringFormat};

    #[test]
    fn requests_encoded_by_redis_protocol_parse_identically() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut wire = BytesMut::new();
        let mut sent: Vec<Vec<Bytes>> = Vec::new();
        for _ in 0..500 {
            let argc = rng.random_range(1..6);
            let args: Vec<Bytes> = (0..argc)
                .map(|_| {
                    let len = rng.random_range(0..40);
                    Bytes::from((0..len).map(|_| rng.random::<u8>()).collect::<Vec<u8>>())
                })
                .collect();
            let frame = F2::Array(args.iter().cloned().map(F2::BulkString).collect());
            redis_protocol::resp2::encode::extend_encode(&mut wire, &frame, false).unwrap();
            sent.push(args);
        }
        // Deliver in random chunk sizes, as a socket would.
        let mut parser = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut pos = 0;
        while pos < wire.len() {
            let n = rng.random_range(1..=(wire.len() - pos).min(97));
            buf.extend_from_slice(&wire[pos..pos + n]);
            pos += n;
            while let Parsed::Command(args) =
                parser.parse(&mut buf, &RequestLimits::default()).unwrap()
            {
                got.push(args);
            }
        }
        assert_eq!(got, sent);
    }

    fn decode3(buf: &[u8]) -> Vec<F3> {
        let mut frames = Vec::new();
        let mut at = 0;
        while at < buf.len() {
            let (f, n) = redis_protocol::resp3::decode::complete::decode(&buf[at..])
                .unwrap()
                .expect("complete frame");
            frames.push(f);
            at += n;
        }
        frames
    }

    fn blob(s: &str) -> F3 {
        F3::BlobString {
            data: s.as_bytes().to_vec(),
            attributes: None,
        }
    }

    #[test]
    fn resp3_replies_decode_as_intended() {
        let mut r = ReplyBuf {
            resp3: true,
            ..Default::default()
        };
        r.ok();
        r.error("ERR bad\r\nthing");
        r.int(-42);
        r.null();
        r.double(1.5);
        r.double(f64::NEG_INFINITY);
        r.boolean(true);
        r.verbatim(b"a:1\r\nb:2");
        r.map(1);
        r.bulk(b"k");
        r.int(1);
        r.push(2);
        r.bulk(b"message");
        r.bulk(b"");
        r.set(1);
        r.bulk(b"m");
        let frames = decode3(&r.buf);
        assert_eq!(
            frames[0],
            F3::SimpleString {
                data: b"OK".to_vec(),
                attributes: None
            }
        );
        assert_eq!(
            frames[1],
            F3::SimpleError {
                data: "ERR bad  thing".into(),
                attributes: None
            }
        );
        assert_eq!(
            frames[2],
            F3::Number {
                data: -42,
                attributes: None
            }
        );
        assert_eq!(frames[3], F3::Null);
        assert_eq!(
            frames[4],
            F3::Double {
                data: 1.5,
                attributes: None
            }
        );
        assert_eq!(
            frames[5],
            F3::Double {
                data: f64::NEG_INFINITY,
                attributes: None
            }
        );
        assert_eq!(
            frames[6],
            F3::Boolean {
                data: true,
                attributes: None
            }
        );
        assert_eq!(
            frames[7],
            F3::VerbatimString {
                data: b"a:1\r\nb:2".to_vec(),
                format: VerbatimStringFormat::Text,
                attributes: None
            }
        );
        match &frames[8] {
            F3::Map { data, .. } => {
                assert_eq!(
                    data.get(&blob("k")),
                    Some(&F3::Number {
                        data: 1,
                        attributes: None
                    })
                );
            }
            other => panic!("map expected, got {other:?}"),
        }
        assert_eq!(
            frames[9],
            F3::Push {
                data: vec![blob("message"), blob("")],
                attributes: None
            }
        );
        assert!(matches!(&frames[10], F3::Set { data, .. } if data.contains(&blob("m"))));
        assert_eq!(frames.len(), 11);
    }

    #[test]
    fn resp2_downgrades_decode_as_intended() {
        let mut r = ReplyBuf::default();
        r.null();
        r.null_array();
        r.map(1);
        r.bulk(b"k");
        r.int(1);
        r.double(2.0);
        r.boolean(false);
        r.verbatim(b"text");
        let mut at = 0;
        let mut frames = Vec::new();
        while at < r.buf.len() {
            let (f, n) = redis_protocol::resp2::decode::decode(&r.buf[at..])
                .unwrap()
                .unwrap();
            frames.push(f);
            at += n;
        }
        use redis_protocol::resp2::types::OwnedFrame as O2;
        assert_eq!(frames[0], O2::Null);
        assert_eq!(frames[1], O2::Null);
        assert_eq!(
            frames[2],
            O2::Array(vec![O2::BulkString(b"k".to_vec()), O2::Integer(1)])
        );
        assert_eq!(frames[3], O2::BulkString(b"2".to_vec()));
        assert_eq!(frames[4], O2::Integer(0));
        assert_eq!(frames[5], O2::BulkString(b"text".to_vec()));
    }
}
