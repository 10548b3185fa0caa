//! The README's "Compatibility with Redis 7.0" table must stay true: its "supported" cells
//! hold exactly what our server's `COMMAND LIST` returns, every command of stock Redis
//! 7.0's `COMMAND LIST` has a row, and no command is placed twice. Users read that table to
//! decide whether their client library works here, so a command that lands (or goes)
//! without the table moving fails here, naming the command and where it stands.
//!
//! Table format (between `<!-- compat:start -->` and `<!-- compat:end -->` in README.md):
//! a header `| group | supported | not yet | notes and differences |`, a separator row,
//! then one row per command group; the "supported" and "not yet" cells hold backticked
//! lowercase command names separated by spaces, or `-` for none. Only those two cells are
//! read. `COMMAND LIST` names with a `|` (container subcommands such as `config|get`, which
//! stock lists and we do not) are not table entries: their container stands for them.

mod common;

use common::{Reply, TestServer, is_stock_redis};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const START: &str = "<!-- compat:start -->";
const END: &str = "<!-- compat:end -->";
const HEADER: [&str; 4] = ["group", "supported", "not yet", "notes and differences"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Supported,
    NotYet,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::Supported => "supported",
            Column::NotYet => "not yet",
        }
    }
}

/// Where one command name was written in the table.
#[derive(Clone, Debug)]
struct Place {
    group: String,
    column: Column,
    /// 1-based line number in README.md.
    line: usize,
}

impl Place {
    fn describe(&self) -> String {
        format!(
            "in the '{}' cell of group '{}' (README.md line {})",
            self.column.name(),
            self.group,
            self.line
        )
    }
}

/// Every command name in the table with all the places it was written (one, when the
/// table is right).
type Table = BTreeMap<String, Vec<Place>>;

/// Splits a table row into its cells (`\|` inside a cell is not a separator).
fn split_row(row: &str) -> Option<Vec<String>> {
    let inner = row.trim().strip_prefix('|')?.strip_suffix('|')?;
    let mut cells = vec![String::new()];
    let mut prev = ' ';
    for ch in inner.chars() {
        if ch == '|' && prev != '\\' {
            cells.push(String::new());
        } else {
            cells.last_mut().unwrap().push(ch);
        }
        prev = ch;
    }
    Some(cells.into_iter().map(|c| c.trim().to_string()).collect())
}

fn is_command_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Parses the compatibility table out of the README text; every format error is reported
/// with its line, all at once.
fn parse_table(readme: &str) -> Result<Table, String> {
    let lines: Vec<&str> = readme.lines().collect();
    let find = |marker: &str| -> Result<usize, String> {
        let hits: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].trim() == marker)
            .collect();
        match hits.as_slice() {
            [i] => Ok(*i),
            _ => Err(format!(
                "README.md must hold the line `{marker}` exactly once (found {} times)",
                hits.len()
            )),
        }
    };
    let (start, end) = (find(START)?, find(END)?);
    if end <= start {
        return Err(format!("`{END}` comes before `{START}` in README.md"));
    }
    let rows: Vec<(usize, &str)> = (start + 1..end)
        .map(|i| (i + 1, lines[i]))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut errors = Vec::new();
    let mut table = Table::new();
    if rows.len() < 3 {
        return Err("the compatibility table has no rows".to_string());
    }
    let header = split_row(rows[0].1).unwrap_or_default();
    if header != HEADER {
        errors.push(format!(
            "line {}: the header must be `| {} |`, found `{}`",
            rows[0].0,
            HEADER.join(" | "),
            rows[0].1
        ));
    }
    let separator = split_row(rows[1].1).unwrap_or_default();
    if separator.len() != HEADER.len()
        || !separator
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-' || ch == ':'))
    {
        errors.push(format!(
            "line {}: expected the separator row `|---|---|---|---|`, found `{}`",
            rows[1].0, rows[1].1
        ));
    }
    for &(line, row) in &rows[2..] {
        let Some(cells) = split_row(row).filter(|c| c.len() == HEADER.len()) else {
            errors.push(format!(
                "line {line}: not a table row with {} cells: `{row}`",
                HEADER.len()
            ));
            continue;
        };
        let group = cells[0].clone();
        for (column, cell) in [(Column::Supported, &cells[1]), (Column::NotYet, &cells[2])] {
            if cell == "-" {
                continue;
            }
            for token in cell.split_whitespace() {
                let name = token
                    .strip_prefix('`')
                    .and_then(|t| t.strip_suffix('`'))
                    .filter(|n| is_command_name(n));
                match name {
                    Some(name) => table.entry(name.to_string()).or_default().push(Place {
                        group: group.clone(),
                        column,
                        line,
                    }),
                    None => errors.push(format!(
                        "line {line}, group '{group}', '{}' cell: `{token}` is not a \
                         backticked lowercase command name (write e.g. `get`, or - for none)",
                        column.name()
                    )),
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(table)
    } else {
        Err(errors.join("\n"))
    }
}

fn readme_table() -> Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    parse_table(&text).unwrap_or_else(|e| panic!("README.md compatibility table:\n{e}"))
}

/// Top-level names of `COMMAND LIST`, lowercase (container subcommands left out).
fn command_list(s: &TestServer) -> BTreeSet<String> {
    let reply = s.raw().cmd(&["COMMAND", "LIST"]);
    assert!(
        matches!(reply, Reply::Array(_) | Reply::Set(_)),
        "COMMAND LIST answered {reply:?}"
    );
    reply
        .strings()
        .into_iter()
        .map(|n| n.to_ascii_lowercase())
        .filter(|n| !n.contains('|'))
        .collect()
}

fn places(table: &Table, name: &str) -> String {
    table[name]
        .iter()
        .map(Place::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

fn fail_with(problems: Vec<String>, what: &str) {
    assert!(
        problems.is_empty(),
        "README.md's 'Compatibility with Redis 7.0' table {what} ({} problems):\n  - {}",
        problems.len(),
        problems.join("\n  - ")
    );
}

#[test]
fn readme_table_places_each_command_once() {
    let table = readme_table();
    let problems = table
        .iter()
        .filter(|(_, p)| p.len() > 1)
        .map(|(name, _)| {
            format!(
                "`{name}` appears {} times: {}",
                table[name].len(),
                places(&table, name)
            )
        })
        .collect();
    fail_with(problems, "places commands more than once");
}

#[test]
fn readme_supported_cells_match_our_command_list() {
    // ferrocache-specific: stock Redis supports the whole table.
    if is_stock_redis() {
        return;
    }
    let table = readme_table();
    let ours = command_list(&TestServer::start(&[]));
    let mut problems = Vec::new();
    for name in &ours {
        match table.get(name) {
            None => problems.push(format!(
                "`{name}` is in our server's COMMAND LIST but not in the table: add it to \
                 the 'supported' cell of its group"
            )),
            Some(p) if !p.iter().any(|p| p.column == Column::Supported) => problems.push(format!(
                "`{name}` is in our server's COMMAND LIST but written {}: move it to \
                     the 'supported' cell",
                places(&table, name)
            )),
            Some(_) => {}
        }
    }
    for (name, p) in &table {
        if !ours.contains(name) && p.iter().any(|p| p.column == Column::Supported) {
            problems.push(format!(
                "`{name}` is written {} but our server's COMMAND LIST does not have it: \
                 move it to the 'not yet' cell",
                places(&table, name)
            ));
        }
    }
    fail_with(problems, "disagrees with our server's COMMAND LIST");
}

#[test]
fn readme_table_covers_stock_redis_command_list() {
    let stock = TestServer::start_stock(&[]);
    let version = common::info_field(
        &stock.raw().cmd(&["INFO", "server"]).as_string(),
        "redis_version",
    )
    .unwrap_or_default();
    let theirs = command_list(&stock);
    drop(stock);
    let ours = command_list(&TestServer::start(&[]));
    let table = readme_table();
    let mut problems = Vec::new();
    for name in &theirs {
        if !table.contains_key(name) {
            problems.push(format!(
                "`{name}` is in stock redis-server {version}'s COMMAND LIST but not in the \
                 table: add it to the 'not yet' cell of its group (`COMMAND DOCS {name}` on \
                 stock names the group)"
            ));
        }
    }
    for name in table.keys() {
        if !theirs.contains(name) && !ours.contains(name) {
            problems.push(format!(
                "`{name}` is written {} but neither stock redis-server {version} nor our \
                 server lists it: a typo, or a command that no longer exists",
                places(&table, name)
            ));
        }
    }
    fail_with(problems, "does not match stock Redis's COMMAND LIST");
}

/// The parser itself: what it must refuse, so a malformed table cannot pass as empty.
#[test]
fn readme_table_parser_rejects_malformed_tables() {
    let good = format!(
        "text\n{START}\n| group | supported | not yet | notes and differences |\n\
         |---|---|---|---|\n| string | `get` `set` | `lcs` | SET has `GET` \\| options |\n\
         | bitmap | - | `getbit` | |\n{END}\n"
    );
    let table = parse_table(&good).expect("a well-formed table parses");
    assert_eq!(
        table.keys().map(String::as_str).collect::<Vec<_>>(),
        ["get", "getbit", "lcs", "set"]
    );
    assert_eq!(table["lcs"][0].column, Column::NotYet);
    assert_eq!(table["set"][0].group, "string");
    assert_eq!(table["set"][0].line, 5);
    for (bad, why) in [
        (good.replace("`get` `set`", "`GET` `set`"), "uppercase"),
        (good.replace("`get` `set`", "get `set`"), "no backticks"),
        (good.replace(" | `lcs` |", " |"), "a missing cell"),
        (good.replace(START, ""), "no start marker"),
        (good.replace("| group |", "| family |"), "another header"),
    ] {
        assert!(parse_table(&bad).is_err(), "accepted a table with {why}");
    }
    let twice = good.replace("`lcs`", "`get`");
    assert_eq!(parse_table(&twice).unwrap()["get"].len(), 2);
}
