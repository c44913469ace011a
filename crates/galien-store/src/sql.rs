//! SQL text shared by both engines (both accept `$n` parameters; the long multi-row `INSERT`s write
//! `?` on SQLite, see [`Engine`]).

use std::fmt::Write as _;

/// `($1, $2, …), ($k+1, …)`: the `VALUES` list of a multi-row `INSERT` of `rows` rows of `columns`
/// parameters each, numbered in order (one row: the list of an `IN`).
pub(crate) fn values(rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 1..=columns {
            if c > 1 {
                sql.push_str(", ");
            }
            sql.push('$');
            sql.push_str(&(r * columns + c).to_string());
        }
        sql.push(')');
    }
    sql
}

/// What differs in the text of a statement between the engines.
pub(crate) trait Engine {
    /// `?` for each parameter in order (SQLite) rather than `$n` (PostgreSQL). sqlx asks SQLite
    /// the name of every parameter of a statement before binding it, and SQLite finds the name of
    /// a numbered one by walking the statement's list of names: for the 640 parameters of 64 audit
    /// records, that walk took a sixth of the writer thread's time. Anonymous ones have no name to
    /// look for.
    const ANONYMOUS: bool;
    /// Whether one column of a `UNION ALL` may hold values of different types in different rows
    /// (SQLite: a value carries its own type). Then the parts of [`parts`] share their columns.
    const SHARED_COLUMNS: bool;
}

impl Engine for sqlx::SqliteConnection {
    const ANONYMOUS: bool = true;
    const SHARED_COLUMNS: bool = true;
}

impl Engine for sqlx::PgConnection {
    const ANONYMOUS: bool = false;
    const SHARED_COLUMNS: bool = false;
}

/// [`values`] as the engine of connection `C` writes it best: `(?, ?), (?, ?)` on SQLite, `($1,
/// $2), ($3, $4)` on PostgreSQL. The parameters are bound in the same order either way.
pub(crate) fn values_for<C: Engine>(rows: usize, columns: usize) -> String {
    if !C::ANONYMOUS {
        return values(rows, columns);
    }
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
}

/// One patient's rows of one table: read alone, or as one part of a statement that reads several
/// tables at once ([`parts`]).
#[derive(Debug)]
pub(crate) struct Part {
    /// The columns read (`a.id, u.display_name, …`).
    pub(crate) columns: &'static str,
    /// Their SQL types, one per column, as PostgreSQL names them (`uuid`, `text`, `bigint`,
    /// `bytea`); SQLite reads the same names.
    pub(crate) types: &'static [&'static str],
    /// What follows `FROM`: the table and its joins.
    pub(crate) from: &'static str,
    /// The condition choosing the patient's rows (`$1` is the patient's id).
    pub(crate) filter: &'static str,
    /// The rows' order.
    pub(crate) order: &'static str,
    /// At most this many rows, if bounded.
    pub(crate) limit: Option<u32>,
}

impl Part {
    /// The part alone: `SELECT … FROM … WHERE … ORDER BY … LIMIT …`.
    pub(crate) fn alone(&self) -> String {
        let Part {
            columns,
            from,
            filter,
            order,
            limit,
            ..
        } = self;
        format!(
            "SELECT {columns} FROM {from} WHERE {filter} ORDER BY {order}{}",
            limit_of(*limit)
        )
    }
}

fn limit_of(limit: Option<u32>) -> String {
    limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default()
}

/// A statement of several [`Part`]s, and where each part's columns are in its rows.
#[derive(Debug)]
pub(crate) struct Parts {
    /// The statement.
    pub(crate) sql: String,
    /// For each part, in order, the row's column holding each of its columns.
    pub(crate) columns: Vec<Vec<usize>>,
}

/// Several parts as one statement, so that they come from one snapshot in one round trip on both
/// engines. Each row is `(s, columns…)`: `s` is the index of the part it belongs to, and its
/// columns are where [`Parts::columns`] says; the others are `NULL`. The parts share the row's
/// columns, so that the rows are narrow: every value of every row, `NULL`s included, is copied
/// and freed by sqlx on SQLite, and set up and sent by PostgreSQL's executor (with each part
/// owning its own columns, the summary's rows were 54 columns wide; copying and freeing them took a
/// tenth of the request threads' time on SQLite, building their projections a good part of
/// PostgreSQL's). On PostgreSQL a column has one type: the parts share the columns of each type
/// (a part's second `uuid` goes in the row's second `uuid` column). On SQLite, where a value
/// carries its own type ([`Engine::SHARED_COLUMNS`]), every part starts at column 1. A part with
/// a flag is read only when the boolean parameter of that number is true.
///
/// The rows come in no promised order: neither engine promises the order of a `UNION ALL`, and
/// SQLite drops the `ORDER BY` of a subquery that has no `LIMIT`. The caller puts each part's rows
/// in the part's order (see the `…_in_order` functions beside the parts). A part's `ORDER BY` is
/// written only with its `LIMIT`, to choose the rows kept. (Numbering the rows with `row_number()`
/// and sorting the whole result gave the order, but the window functions' temporary tables and
/// the sort took about a third of the read path's time on SQLite.)
pub(crate) fn parts<C: Engine>(parts: &[(&Part, Option<usize>)]) -> Parts {
    // The row's columns after `s`: their type (`None` on SQLite: any).
    let mut slots: Vec<Option<&str>> = Vec::new();
    let columns: Vec<Vec<usize>> = parts
        .iter()
        .map(|(part, _)| {
            let mut taken = vec![false; slots.len()];
            part.types
                .iter()
                .map(|&t| {
                    let wanted = (!C::SHARED_COLUMNS).then_some(t);
                    let free = slots
                        .iter()
                        .zip(&taken)
                        .position(|(slot, taken)| !taken && *slot == wanted);
                    let k = free.unwrap_or_else(|| {
                        slots.push(wanted);
                        taken.push(false);
                        slots.len() - 1
                    });
                    if let Some(taken) = taken.get_mut(k) {
                        *taken = true;
                    }
                    k + 1
                })
                .collect()
        })
        .collect();
    let mut sql = String::with_capacity(4096);
    for (i, ((part, flag), places)) in parts.iter().zip(&columns).enumerate() {
        if i > 0 {
            sql.push_str(" UNION ALL ");
        }
        let own = split_columns(part.columns);
        assert_eq!(
            own.len(),
            part.types.len(),
            "a part names as many types as columns: {}",
            part.columns
        );
        let mut select: Vec<String> = slots
            .iter()
            .map(|t| match t {
                Some(t) => format!("CAST(NULL AS {t})"),
                None => "NULL".to_owned(),
            })
            .collect();
        for (expr, &place) in own.iter().zip(places) {
            if let Some(slot) = select.get_mut(place - 1) {
                *slot = (*expr).to_owned();
            }
        }
        let flag = flag.map(|n| format!(" AND ${n}")).unwrap_or_default();
        let chosen = part
            .limit
            .map(|n| format!(" ORDER BY {} LIMIT {n}", part.order))
            .unwrap_or_default();
        let _ = write!(
            sql,
            "SELECT * FROM (SELECT CAST({i} AS BIGINT) AS s, {columns} FROM {from} \
             WHERE ({filter}){flag}{chosen}) AS part{i}",
            columns = select.join(", "),
            from = part.from,
            filter = part.filter,
        );
    }
    Parts { sql, columns }
}

/// A list of columns split at its top-level commas (`a.id, COALESCE(a.x, 0)` → two).
fn split_columns(list: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in list.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(list.get(start..i).unwrap_or_default().trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(list.get(start..).unwrap_or_default().trim());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn parameters_are_numbered_row_after_row() {
        assert_eq!(super::values(1, 2), "($1, $2)");
        assert_eq!(super::values(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(
            super::values_for::<sqlx::PgConnection>(2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(
            super::values_for::<sqlx::SqliteConnection>(2, 3),
            "(?, ?, ?), (?, ?, ?)"
        );
    }

    const A: super::Part = super::Part {
        columns: "a.id, a.n",
        types: &["uuid", "bigint"],
        from: "a",
        filter: "a.p = $1",
        order: "a.n DESC",
        limit: Some(5),
    };
    const B: super::Part = super::Part {
        columns: "b.t",
        types: &["text"],
        from: "b",
        filter: "b.p = $1",
        order: "b.t",
        limit: None,
    };

    #[test]
    fn on_postgresql_parts_share_the_columns_of_each_type() {
        assert_eq!(
            A.alone(),
            "SELECT a.id, a.n FROM a WHERE a.p = $1 ORDER BY a.n DESC LIMIT 5"
        );
        let both = super::parts::<sqlx::PgConnection>(&[(&A, None), (&B, Some(2)), (&A, None)]);
        assert_eq!(
            both.sql,
            "SELECT * FROM (SELECT CAST(0 AS BIGINT) AS s, a.id, a.n, CAST(NULL AS text) FROM a \
             WHERE (a.p = $1) ORDER BY a.n DESC LIMIT 5) AS part0 \
             UNION ALL SELECT * FROM (SELECT CAST(1 AS BIGINT) AS s, CAST(NULL AS uuid), \
             CAST(NULL AS bigint), b.t FROM b WHERE (b.p = $1) AND $2) AS part1 \
             UNION ALL SELECT * FROM (SELECT CAST(2 AS BIGINT) AS s, a.id, a.n, CAST(NULL AS text) \
             FROM a WHERE (a.p = $1) ORDER BY a.n DESC LIMIT 5) AS part2"
        );
        assert_eq!(both.columns, vec![vec![1, 2], vec![3], vec![1, 2]]);
    }

    #[test]
    fn on_sqlite_parts_share_their_columns_padded_to_the_widest() {
        let both = super::parts::<sqlx::SqliteConnection>(&[(&B, None), (&A, Some(2))]);
        assert_eq!(
            both.sql,
            "SELECT * FROM (SELECT CAST(0 AS BIGINT) AS s, b.t, NULL FROM b WHERE (b.p = $1)) \
             AS part0 UNION ALL SELECT * FROM (SELECT CAST(1 AS BIGINT) AS s, a.id, a.n FROM a \
             WHERE (a.p = $1) AND $2 ORDER BY a.n DESC LIMIT 5) AS part1"
        );
        assert_eq!(both.columns, vec![vec![1], vec![1, 2]]);
    }

    #[test]
    fn a_column_list_splits_at_its_top_level_commas() {
        assert_eq!(
            super::split_columns("a.id, COALESCE(a.x, 0),b"),
            ["a.id", "COALESCE(a.x, 0)", "b"]
        );
    }
}
