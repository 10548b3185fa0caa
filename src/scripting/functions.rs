//! Function libraries (FUNCTION LOAD, FCALL): the registry every connection shares.
//!
//! A library is its source and what its code registered when it ran. The registry is an
//! immutable [`Libraries`] value swapped as a whole on every change, so a change is
//! all-or-nothing (a RESTORE that fails halfway leaves nothing behind) and the engines
//! of the worker threads reload from one consistent set, which they notice by the
//! registry's generation.

use super::ScriptFlags;
use bytes::Bytes;
use parking_lot::RwLock;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The name of the only engine, as FUNCTION LIST and STATS print it.
pub const ENGINE_NAME: &str = "LUA";
/// How long a library's code may run while loading before FUNCTION LOAD gives up
/// (Redis's LOAD_TIMEOUT_MS); a leader's replicated load has no limit.
pub const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// One function a library registered.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    /// The name FCALL uses (matched without regard to case).
    pub name: String,
    /// `description`, when the library gave one.
    pub description: Option<Bytes>,
    /// Declared flags (functions always declare, so `compat` is false).
    pub flags: ScriptFlags,
}

/// A loaded library.
#[derive(Debug)]
pub struct Library {
    /// The name from its `#!lua name=...` line.
    pub name: String,
    /// The whole source as loaded, shebang included (DUMP, RDB and FUNCTION LIST give
    /// it back unchanged).
    pub code: Bytes,
    /// Its functions, in registration order.
    pub functions: Vec<FunctionInfo>,
}

impl Library {
    /// The code after the shebang line, from its newline on (what the engine runs).
    pub fn body(&self) -> &[u8] {
        let start = self.code.iter().position(|&b| b == b'\n').unwrap_or(0);
        &self.code[start..]
    }
}

/// A set of libraries with the index FCALL looks functions up in.
#[derive(Debug, Clone, Default)]
pub struct Libraries {
    libs: BTreeMap<String, Arc<Library>>,
    /// Lower-cased function name → (library name, index in its functions).
    by_function: HashMap<String, (String, usize)>,
}

/// What a library's source declares on its first line.
struct Metadata<'a> {
    name: String,
    engine: String,
    /// The code after the shebang, from its newline on (line numbers stay the user's).
    body: &'a [u8],
}

/// Parses `#!<engine> name=<library>` as Redis does, with its error texts.
fn metadata(code: &[u8]) -> Result<Metadata<'_>, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let end = code
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("Invalid library metadata")?;
    let parts = crate::protocol::request::split_args(&code[..end])
        .filter(|p| !p.is_empty())
        .ok_or("Invalid library metadata")?;
    let engine = String::from_utf8_lossy(&parts[0][2..]).into_owned();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let name = name.ok_or("Library name was not given")?;
    Ok(Metadata {
        name,
        engine,
        body: &code[end..],
    })
}

/// Letters, digits and underscores, at least one: the names libraries and functions
/// may have.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The text Redis gives for a bad library or function name (the same for both).
pub const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

impl Libraries {
    /// The library called `name` (case matters, as in Redis).
    pub fn library(&self, name: &str) -> Option<&Arc<Library>> {
        self.libs.get(name)
    }

    /// Libraries in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Library>> {
        self.libs.values()
    }

    /// Number of libraries.
    pub fn len(&self) -> usize {
        self.libs.len()
    }

    /// True when no library is loaded.
    pub fn is_empty(&self) -> bool {
        self.libs.is_empty()
    }

    /// Number of functions across all libraries.
    pub fn function_count(&self) -> usize {
        self.by_function.len()
    }

    /// The function FCALL names (any case) and the library holding it.
    pub fn function(&self, name: &[u8]) -> Option<(&Arc<Library>, &FunctionInfo)> {
        let key = String::from_utf8_lossy(name).to_ascii_lowercase();
        let (lib, i) = self.by_function.get(&key)?;
        let lib = self.libs.get(lib)?;
        Some((lib, &lib.functions[*i]))
    }

    fn link(&mut self, lib: Arc<Library>) {
        for (i, f) in lib.functions.iter().enumerate() {
            self.by_function
                .insert(f.name.to_ascii_lowercase(), (lib.name.clone(), i));
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    fn unlink(&mut self, name: &str) -> Option<Arc<Library>> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            self.by_function.remove(&f.name.to_ascii_lowercase());
        }
        Some(lib)
    }

    /// Compiles and registers the library in `code` (FUNCTION LOAD, RDB, RESTORE), as
    /// Redis's functionsCreateWithLibraryCtx: with `replace` a library of the same name
    /// is swapped out, and a function name another library uses is refused. `timeout`
    /// bounds the library's load-time code. Returns the library's name.
    pub fn create(
        &mut self,
        code: Bytes,
        replace: bool,
        timeout: Option<std::time::Duration>,
    ) -> Result<String, String> {
        let md = metadata(&code)?;
        if !valid_name(&md.name) {
            return Err(BAD_NAME.into());
        }
        if !md.engine.eq_ignore_ascii_case(ENGINE_NAME) {
            return Err(format!("Engine '{}' not found", md.engine));
        }
        if self.libs.contains_key(&md.name) && !replace {
            return Err(format!("Library '{}' already exists", md.name));
        }
        let functions = super::engine::load_library(md.body, timeout)?;
        if functions.is_empty() {
            return Err("No functions registered".into());
        }
        for f in &functions {
            if let Some((lib, _)) = self.by_function.get(&f.name.to_ascii_lowercase())
                && *lib != md.name
            {
                return Err(format!("Function {} already exists", f.name));
            }
        }
        let name = md.name.clone();
        self.unlink(&name);
        self.link(Arc::new(Library {
            name: name.clone(),
            code,
            functions,
        }));
        Ok(name)
    }

    /// Adds every library of `other` (FUNCTION RESTORE APPEND/REPLACE): a library name
    /// already here is an error unless `replace`, and a function name clash always is.
    pub fn join(&mut self, other: Libraries, replace: bool) -> Result<(), String> {
        let mut merged = self.clone();
        for name in other.libs.keys() {
            if merged.libs.contains_key(name) {
                if !replace {
                    return Err(format!("Library {name} already exists"));
                }
                merged.unlink(name);
            }
        }
        for lib in other.libs.values() {
            for f in &lib.functions {
                if merged
                    .by_function
                    .contains_key(&f.name.to_ascii_lowercase())
                {
                    return Err(format!("Function {} already exists", f.name));
                }
            }
        }
        for lib in other.libs.into_values() {
            merged.link(lib);
        }
        *self = merged;
        Ok(())
    }

    /// Builds a set from library sources (a snapshot's or a RESTORE payload's); a
    /// library of a name seen before replaces it only when `allow_duplicates`.
    pub fn from_codes(codes: &[Vec<u8>], allow_duplicates: bool) -> Result<Libraries, String> {
        let mut libs = Libraries::default();
        for code in codes {
            libs.create(Bytes::copy_from_slice(code), allow_duplicates, None)?;
        }
        Ok(libs)
    }

    /// Bytes of library sources (INFO `used_memory_functions`).
    pub fn code_bytes(&self) -> usize {
        self.libs.values().map(|l| l.code.len()).sum()
    }

    /// Every library's source, for a snapshot or FUNCTION DUMP.
    pub fn codes(&self) -> Vec<Vec<u8>> {
        self.libs.values().map(|l| l.code.to_vec()).collect()
    }
}

/// The server's libraries.
#[derive(Default)]
pub struct Functions {
    current: RwLock<Arc<Libraries>>,
    /// Raised on every change: each thread's engine reloads the libraries when it sees a
    /// new value.
    pub generation: AtomicU64,
}

impl Functions {
    /// The libraries now (a cheap snapshot: later changes do not affect it).
    pub fn current(&self) -> Arc<Libraries> {
        self.current.read().clone()
    }

    /// Installs a new set of libraries.
    pub fn set(&self, libs: Libraries) {
        let mut cur = self.current.write();
        *cur = Arc::new(libs);
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Applies `change` to a copy of the libraries and installs the result when it
    /// succeeds (every FUNCTION subcommand that writes goes through here).
    pub fn update<R>(
        &self,
        change: impl FnOnce(&mut Libraries) -> Result<R, String>,
    ) -> Result<R, String> {
        let mut libs = (*self.current()).clone();
        let r = change(&mut libs)?;
        self.set(libs);
        Ok(r)
    }

    /// Removes the library `name`; false when there is none.
    pub fn delete(&self, name: &str) -> bool {
        self.update(|libs| libs.unlink(name).map(|_| ()).ok_or(String::new()))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_errors_as_redis() {
        let err = |c: &[u8]| metadata(c).err().unwrap();
        assert_eq!(err(b"return 1"), "Missing library metadata");
        assert_eq!(err(b"#!lua name=x"), "Invalid library metadata");
        assert_eq!(err(b"#!lua\n"), "Library name was not given");
        assert_eq!(
            err(b"#!lua name=a name=b\n"),
            "Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(
            err(b"#!lua foo=bar\n"),
            "Invalid metadata value given: foo=bar"
        );
        let md = metadata(b"#!lua NAME=lib\nreturn").unwrap();
        assert_eq!((md.name.as_str(), md.engine.as_str()), ("lib", "lua"));
        assert_eq!(md.body, b"\nreturn");
    }

    #[test]
    fn names() {
        assert!(valid_name("a_1"));
        assert!(!valid_name(""));
        assert!(!valid_name("a-b"));
    }
}
