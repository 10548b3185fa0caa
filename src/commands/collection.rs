//! The one way collection commands reach their value: typed read and write access with
//! WRONGTYPE for other types, creation on first write, and deletion of the key when the
//! collection ends up empty (as Redis never keeps an empty collection).

use super::{CmdError, Ctx};
use crate::store::{Entry, StrBytes, Value};

/// A collection type stored in a [`Value`] variant.
pub trait Collection: Default {
    /// The collection inside `v`, when `v` is of this type.
    fn of(v: &Value) -> Option<&Self>;
    /// The same, mutable.
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    /// Wraps a new collection into a value.
    fn into_value(self) -> Value;
    /// True when empty (the key is then deleted).
    fn is_empty(&self) -> bool;
}

impl Collection for crate::store::hash::HashValue {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Hash(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Collection for crate::store::set::SetValue {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Set(s) => Some(s),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Set(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Collection for std::collections::VecDeque<StrBytes> {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::List(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Collection for crate::store::zset::ZSetValue {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::ZSet(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Replaces whatever `key` holds with `c` (the key is deleted when `c` is empty), as
/// the STORE commands (SINTERSTORE, ZUNIONSTORE, ZRANGESTORE...) do.
pub fn replace<C: Collection>(ctx: &mut Ctx<'_>, key: &[u8], c: C) -> Result<(), CmdError> {
    let db = ctx.db();
    let t = ctx.w()?;
    if c.is_empty() {
        t.remove(db, key);
    } else {
        t.insert(db, key, Entry::new(c.into_value(), 0));
    }
    Ok(())
}

/// Runs `f` on the collection at `key` (None when missing); WRONGTYPE for other types.
pub fn read<C: Collection, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: impl FnOnce(Option<&C>) -> R,
) -> Result<R, CmdError> {
    match ctx.lookup(key) {
        None => Ok(f(None)),
        Some(e) => match C::of(&e.value) {
            Some(c) => Ok(f(Some(c))),
            None => Err(CmdError::WrongType),
        },
    }
}

/// Runs `f` on the collection at `key` for a write, creating an empty one when `create`;
/// the key is deleted when the collection ends up empty, and otherwise signalled as
/// modified (WATCH, tracking). None when missing and not created.
pub fn write<C: Collection, R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    create: bool,
    f: impl FnOnce(&mut C) -> Result<R, CmdError>,
) -> Result<Option<R>, CmdError> {
    let db = ctx.db();
    let t = ctx.w()?;
    // One lookup for the common case (the key exists); `f` runs with the entry held.
    let done = match t.get_mut(db, key) {
        Some(mut e) => {
            let Some(c) = C::of_mut(&mut e.value) else {
                return Err(CmdError::WrongType);
            };
            let r = f(c)?;
            Ok((r, c.is_empty()))
        }
        None => Err(f),
    };
    match done {
        Ok((r, empty)) => {
            if empty {
                t.remove(db, key);
            } else {
                t.modified(db, key);
            }
            Ok(Some(r))
        }
        Err(_) if !create => Ok(None),
        Err(f) => {
            let mut c = C::default();
            let r = f(&mut c)?;
            if !c.is_empty() {
                t.insert(db, key, Entry::new(c.into_value(), 0));
            }
            Ok(Some(r))
        }
    }
}
