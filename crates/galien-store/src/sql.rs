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

/// Several parts as one statement, so that they come from one snapshot in one round trip on both
/// engines. Each row is `(s, columns…)`: `s` is the index of the part it belongs to, and its
/// columns start at [`offsets`]. On PostgreSQL, a column has one type: each part has its own
/// columns, and the other parts' are typed `NULL`s. On SQLite ([`Engine::SHARED_COLUMNS`]) every
/// part starts at column 1 and is padded with `NULL`s to the widest part's width: the rows are a
/// fifth as wide, and sqlx copies, sends and frees every value of every row (that copying and
/// freeing, over rows four times wider, took a tenth of the request threads' time). A part with
/// a flag is read only when the boolean parameter of that number is true.
///
/// The rows come in no promised order: neither engine promises the order of a `UNION ALL`, and
/// SQLite drops the `ORDER BY` of a subquery that has no `LIMIT`. The caller puts each part's rows
/// in the part's order (see the `…_in_order` functions beside the parts). A part's `ORDER BY` is
/// written only with its `LIMIT`, to choose the rows kept. (Numbering the rows with `row_number()`
/// and sorting the whole result gave the order, but the window functions' temporary tables and
/// the sort took about a third of the read path's time on SQLite.)
pub(crate) fn parts<C: Engine>(parts: &[(&Part, Option<usize>)]) -> String {
    let width = parts.iter().map(|(p, _)| p.types.len()).max().unwrap_or(0);
    let mut sql = String::with_capacity(4096);
    for (i, (part, flag)) in parts.iter().enumerate() {
        if i > 0 {
            sql.push_str(" UNION ALL ");
        }
        let mut columns = Vec::new();
        if C::SHARED_COLUMNS {
            columns.push(part.columns.to_owned());
            columns.extend(std::iter::repeat_n(
                "NULL".to_owned(),
                width - part.types.len(),
            ));
        } else {
            for (j, (other, _)) in parts.iter().enumerate() {
                if j == i {
                    columns.push(other.columns.to_owned());
                } else {
                    columns.extend(other.types.iter().map(|t| format!("CAST(NULL AS {t})")));
                }
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
            columns = columns.join(", "),
            from = part.from,
            filter = part.filter,
        );
    }
    sql
}

/// Where each part's columns start in a row of [`parts`] on the engine of connection `C`.
pub(crate) fn offsets<C: Engine>(parts: &[&Part]) -> Vec<usize> {
    let mut at = 1;
    parts
        .iter()
        .map(|p| {
            let start = at;
            if !C::SHARED_COLUMNS {
                at += p.types.len();
            }
            start
        })
        .collect()
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
    fn parts_pad_the_other_parts_columns_with_typed_nulls() {
        assert_eq!(
            A.alone(),
            "SELECT a.id, a.n FROM a WHERE a.p = $1 ORDER BY a.n DESC LIMIT 5"
        );
        assert_eq!(
            super::parts::<sqlx::PgConnection>(&[(&A, None), (&B, Some(2))]),
            "SELECT * FROM (SELECT CAST(0 AS BIGINT) AS s, a.id, a.n, CAST(NULL AS text) FROM a \
             WHERE (a.p = $1) ORDER BY a.n DESC LIMIT 5) AS part0 \
             UNION ALL SELECT * FROM (SELECT CAST(1 AS BIGINT) AS s, CAST(NULL AS uuid), \
             CAST(NULL AS bigint), b.t FROM b WHERE (b.p = $1) AND $2) AS part1"
        );
        assert_eq!(super::offsets::<sqlx::PgConnection>(&[&A, &B]), vec![1, 3]);
    }

    #[test]
    fn on_sqlite_parts_share_their_columns_padded_to_the_widest() {
        assert_eq!(
            super::parts::<sqlx::SqliteConnection>(&[(&B, None), (&A, Some(2))]),
            "SELECT * FROM (SELECT CAST(0 AS BIGINT) AS s, b.t, NULL FROM b WHERE (b.p = $1)) \
             AS part0 UNION ALL SELECT * FROM (SELECT CAST(1 AS BIGINT) AS s, a.id, a.n FROM a \
             WHERE (a.p = $1) AND $2 ORDER BY a.n DESC LIMIT 5) AS part1"
        );
        assert_eq!(
            super::offsets::<sqlx::SqliteConnection>(&[&B, &A]),
            vec![1, 1]
        );
    }
}
